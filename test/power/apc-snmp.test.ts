// The APC driver against the simulator over real UDP on loopback (net-snmp on both sides), and
// the simulator checked by a client we did not write: Debian's fence_apc_snmp with the net-snmp
// command-line tools.
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApcSnmpSwitch } from "../../src/power/apc-snmp.js";
import { PowerSwitchError } from "../../src/power/errors.js";
import type { StepEvent } from "../../src/power/switch.js";
import { ApcSimulator, freeUdpPort } from "../../tools/sim/apc-snmp.js";
import { needsTools, toolPath } from "../helpers/needs.js";
import { startSimProgram } from "../helpers/sim-program.js";

const run = promisify(execFile);
const fast = { request: 500, confirm: 2_000, poll: 50 };

describe.each(["rpdu", "masterswitch"] as const)("apc_snmp driver against a simulated %s", (model) => {
  const sim = new ApcSimulator({ port: 0, outlets: 4, model, rebootDelayMs: 100 });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());
  const driver = (
    options: { community?: string; version?: "1" | "2c"; observer?: (e: StepEvent) => void } = {},
  ) => new ApcSnmpSwitch({ host: "127.0.0.1", port: sim.port, timeouts: fast, ...options });

  it("identifies the model, switches off and on, and confirms each by reading the state", async () => {
    const steps: StepEvent[] = [];
    const sw = driver({ observer: (e) => steps.push(e) });
    expect(await sw.status("3")).toBe("on");
    await sw.off("3");
    expect(sim.bank.get("3")).toBe("off");
    expect(await sw.status("3")).toBe("off");
    await sw.on("3");
    expect(sim.bank.get("3")).toBe("on");
    expect(sim.sets.slice(-2)).toEqual([
      { outlet: 3, command: 2 },
      { outlet: 3, command: 1 },
    ]);
    expect(steps.find((s) => s.step === "identify")?.detail).toContain(`(${model})`);
    expect(steps.map((s) => s.step)).toEqual(
      expect.arrayContaining(["off sent", "off confirmed", "on confirmed"]),
    );
  });

  it("reboots as off confirmed, then on confirmed, over SNMP v2c too", async () => {
    const changes: string[] = [];
    const listener = (c: { outlet: string; state: string }) => changes.push(`${c.outlet}:${c.state}`);
    sim.bank.on("change", listener);
    await driver({ version: "2c" }).reboot("1");
    sim.bank.off("change", listener);
    expect(changes).toEqual(["1:off", "1:on"]);
    await driver().health();
  });

  it("reports an outlet the switch does not have", async () => {
    await expect(driver().off("9")).rejects.toMatchObject({ kind: "unknown-outlet", outlet: "9" });
    await expect(driver().off("x")).rejects.toMatchObject({ kind: "unknown-outlet" });
  });

  it("gets no answer with the wrong community, and says so without the community", async () => {
    const err = await driver({ community: "s3cr3t-wrong" })
      .status("1")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PowerSwitchError);
    expect(err).toMatchObject({ kind: "timeout", step: "identify" });
    expect((err as Error).message).not.toContain("s3cr3t-wrong");
  });

  it("times out, naming the step, when the switch goes silent after identifying", async () => {
    const sw = driver();
    await sw.health();
    await sim.setFault("silent");
    try {
      await expect(sw.off("2")).rejects.toMatchObject({ kind: "timeout", step: "status" });
    } finally {
      await sim.setFault("none");
    }
  });
});

describe("apc_snmp driver against switches that cannot be fenced with", () => {
  it("never confirms off from a relay that does not switch", async () => {
    const sim = new ApcSimulator({ port: 0, outlets: 2 });
    await sim.start();
    try {
      await sim.setFault("stuck");
      const steps: StepEvent[] = [];
      const sw = new ApcSnmpSwitch({
        host: "127.0.0.1",
        port: sim.port,
        timeouts: { ...fast, confirm: 400 },
        observer: (e) => steps.push(e),
      });
      const err = await sw.off("1").catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "not-confirmed", step: "off confirmed" });
      expect((err as Error).message).toMatch(/still shows the outlet on after 400 ms/);
      // No step claims a confirmation that never came.
      expect(steps.map((s) => s.step)).not.toContain("off confirmed");
      expect(sim.bank.get("1")).toBe("on");
    } finally {
      await sim.stop();
    }
  });

  it("refuses a model it does not drive, by name, rather than calling every outlet unknown", async () => {
    const sim = new ApcSimulator({ port: 0, outlets: 2, sysObjectId: "1.3.6.1.4.1.318.1.3.4.4" });
    await sim.start();
    try {
      const err = await new ApcSnmpSwitch({ host: "127.0.0.1", port: sim.port, timeouts: fast })
        .status("1")
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "config", step: "identify" });
      expect((err as Error).message).toMatch(
        /an APC MasterSwitch plus is not supported by this driver; use type fence_agent/,
      );
    } finally {
      await sim.stop();
    }
  });

  it("calls a host name that does not resolve disconnected", async () => {
    const err = await new ApcSnmpSwitch({ host: "no-such-switch.invalid", timeouts: fast })
      .status("1")
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "disconnected", step: "identify" });
  });
});

describe("apc_snmp driver against a switch that answers garbage", () => {
  it("ends in a typed error, never a hang", async () => {
    const port = await freeUdpPort();
    const junk = createSocket("udp4");
    junk.on("message", (_msg, rinfo) =>
      junk.send(Buffer.from("\x30\x03\x02\x01\xffgarbage"), rinfo.port, rinfo.address),
    );
    await new Promise<void>((r) => junk.bind(port, "127.0.0.1", () => r()));
    try {
      const sw = new ApcSnmpSwitch({ host: "127.0.0.1", port, timeouts: fast });
      const err = await sw.status("1").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PowerSwitchError);
      expect(["garbled", "timeout", "disconnected"]).toContain((err as PowerSwitchError).kind);
      expect((err as PowerSwitchError).step).toBe("identify");
    } finally {
      junk.close();
    }
  });
});

needsTools(["fence_apc_snmp", "snmpget"])("the simulator checked by Debian's fence_apc_snmp", () => {
  describe.each(["rpdu", "masterswitch"] as const)(
    "a simulated %s checked by Debian's fence_apc_snmp",
    (model) => {
      const sim = new ApcSimulator({ port: 0, outlets: 4, model, rebootDelayMs: 100 });
      beforeAll(() => sim.start());
      afterAll(() => sim.stop());
      const fenceApc = (action: string, plug = "2") =>
        run(
          toolPath("fence_apc_snmp"),
          ["-a", "127.0.0.1", "-u", String(sim.port), "-c", "private", "-n", plug, "-o", action],
          { timeout: 60_000 },
        ).then(
          (r) => ({ code: 0, out: r.stdout }),
          (e: { code?: number; stdout?: string; stderr?: string }) => ({
            code: e.code ?? -1,
            out: `${e.stdout ?? ""}${e.stderr ?? ""}`,
          }),
        );

      it("reads status, switches off and on, and reboots", async () => {
        expect(await fenceApc("status")).toMatchObject({
          code: 0,
          out: expect.stringContaining("Status: ON"),
        });
        expect((await fenceApc("off")).code).toBe(0);
        expect(sim.bank.get("2")).toBe("off");
        expect(await fenceApc("status")).toMatchObject({
          code: 2,
          out: expect.stringContaining("Status: OFF"),
        });
        expect((await fenceApc("on")).code).toBe(0);
        expect(sim.bank.get("2")).toBe("on");
        const changes: string[] = [];
        const listener = (c: { outlet: string; state: string }) => changes.push(`${c.outlet}:${c.state}`);
        sim.bank.on("change", listener);
        expect((await fenceApc("reboot")).code).toBe(0);
        sim.bank.off("change", listener);
        expect(changes).toEqual(["2:off", "2:on"]);
      }, 120_000);
    },
  );
});

describe("apc-snmp simulator as a program", () => {
  it("prints listening PORT and serves the driver", async () => {
    const { child, line } = await startSimProgram("apc-snmp", ["--port", "0", "--outlets", "2"]);
    try {
      expect(line).toMatch(/^listening \d+$/);
      const sw = new ApcSnmpSwitch({ host: "127.0.0.1", port: Number(line.split(" ")[1]), timeouts: fast });
      await sw.off("2");
      expect(await sw.status("2")).toBe("off");
    } finally {
      child.kill("SIGTERM");
    }
  });
});
