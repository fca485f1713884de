// The WTI NPS driver against the simulator over real TCP on loopback, and the simulator checked
// by a client we did not write: Debian's fence_wti, through the system telnet client.
import { execFile } from "node:child_process";
import { type AddressInfo, connect, createServer, Socket } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PowerSwitchError } from "../../src/power/errors.js";
import type { StepEvent } from "../../src/power/switch.js";
import { openSocket, WtiNpsSwitch } from "../../src/power/wti-nps.js";
import { renderStatusTable } from "../../src/power/wti-nps-protocol.js";
import { NpsSimulator } from "../../tools/sim/wti-nps.js";
import { needsTools, toolPath } from "../helpers/needs.js";
import { startSimProgram } from "../helpers/sim-program.js";

const run = promisify(execFile);
const sim = new NpsSimulator({
  port: 0,
  password: "secret",
  outlets: 4,
  names: ["clu1", "clu2", "clu3", "clu4"],
});
const fast = { login: 1_000, command: 1_000, confirm: 2_000, poll: 50 };

beforeAll(() => sim.start());
afterAll(() => sim.stop());

/** The switch frees a session a moment after a client hangs up; tests start on a free switch. */
async function idle(s: NpsSimulator = sim): Promise<void> {
  for (let i = 0; i < 100 && s.busy; i++) await new Promise((r) => setTimeout(r, 10));
}

function driver(options: { password?: string; observer?: (e: StepEvent) => void } = {}): WtiNpsSwitch {
  return new WtiNpsSwitch({
    host: "127.0.0.1",
    port: sim.port,
    password: options.password ?? "secret",
    timeouts: fast,
    ...(options.observer ? { observer: options.observer } : {}),
  });
}

describe("wti_nps driver against the simulator", () => {
  it("logs in, switches off and on, and confirms each from the /S table", async () => {
    sim.fault = "none";
    const steps: StepEvent[] = [];
    const sw = driver({ observer: (e) => steps.push(e) });
    expect(await sw.status("2")).toBe("on");
    await sw.off("2");
    expect(sim.bank.get("2")).toBe("off");
    expect(await sw.status("2")).toBe("off");
    await sw.on("2");
    expect(sim.bank.get("2")).toBe("on");
    await sw.health();
    expect(steps.map((s) => s.step)).toEqual(
      expect.arrayContaining(["connecting", "login", "status table", "off sent", "off confirmed"]),
    );
    expect(sim.commands).toEqual(expect.arrayContaining(["/S", "/off 2,y", "/on 2,y", "/X"]));
  });

  describe("after logging out", () => {
    /** A switch that hangs up `hangUpMs` after /X (never, if undefined), and what it saw when. */
    async function slowToHangUp(hangUpMs: number | undefined) {
      const seen: { event: "accepted" | "hung up" | "closed"; atMs: number }[] = [];
      const server = createServer((socket) => {
        seen.push({ event: "accepted", atMs: performance.now() });
        socket.on("close", () => seen.push({ event: "closed", atMs: performance.now() }));
        socket.setEncoding("latin1");
        socket.write("NPS> ");
        socket.on("data", (text: string) => {
          if (text.includes("/S")) {
            const row = { plug: "1", name: "clu1", state: "on" as const, busy: false };
            socket.write(`\r\n${renderStatusTable([row])}\r\nNPS> `);
          }
          if (text.includes("/X") && hangUpMs !== undefined)
            setTimeout(() => {
              seen.push({ event: "hung up", atMs: performance.now() });
              socket.end();
            }, hangUpMs);
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as AddressInfo).port;
      return { seen, server, sw: new WtiNpsSwitch({ host: "127.0.0.1", port, timeouts: fast }) };
    }

    it("answers at once, and opens its next session only once the switch has hung up", async () => {
      const { seen, server, sw } = await slowToHangUp(100);
      try {
        expect(await sw.status("1")).toBe("on");
        // The answer did not wait for the hang-up.
        expect(seen.map((e) => e.event)).toEqual(["accepted"]);
        expect(await sw.status("1")).toBe("on");
        await sw.close();
        expect(seen.filter((e) => e.event === "accepted")).toHaveLength(2);
        const second = seen.filter((e) => e.event === "accepted")[1]?.atMs as number;
        expect(second).toBeGreaterThanOrEqual(seen.find((e) => e.event === "hung up")?.atMs as number);
        // close() waited for the second session's hang-up too.
        expect(seen.filter((e) => e.event === "hung up")).toHaveLength(2);
      } finally {
        server.close();
      }
    });

    it("closes the connection itself when the switch never hangs up, and goes on", async () => {
      const { seen, server, sw } = await slowToHangUp(undefined);
      try {
        expect(await sw.status("1")).toBe("on");
        expect(await sw.status("1")).toBe("on");
        await sw.close();
        // Both connections were closed from this end; the server may note it a moment later.
        for (let i = 0; i < 100 && seen.filter((e) => e.event === "closed").length < 2; i++)
          await new Promise((r) => setTimeout(r, 10));
        expect(seen.filter((e) => e.event === "accepted")).toHaveLength(2);
        expect(seen.filter((e) => e.event === "closed")).toHaveLength(2);
      } finally {
        server.close();
      }
    });
  });

  it("reboots as off confirmed, then on confirmed", async () => {
    sim.fault = "none";
    const changes: string[] = [];
    const listener = (c: { outlet: string; state: string }) => changes.push(`${c.outlet}:${c.state}`);
    sim.bank.on("change", listener);
    await driver().reboot("3");
    sim.bank.off("change", listener);
    expect(changes).toEqual(["3:off", "3:on"]);
  });

  it("answers the (Y/N) question when the switch asks for confirmation", async () => {
    const asking = new NpsSimulator({ port: 0, outlets: 2, confirm: true });
    await asking.start();
    try {
      const sw = new WtiNpsSwitch({ host: "127.0.0.1", port: asking.port, timeouts: fast });
      await sw.off("1");
      expect(asking.bank.get("1")).toBe("off");
    } finally {
      await asking.stop();
    }
  });

  it("reports a wrong password as an auth failure, without the password", async () => {
    sim.fault = "none";
    const err = await driver({ password: "wrong-pw" })
      .status("1")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PowerSwitchError);
    expect(err).toMatchObject({ kind: "auth", step: "login" });
    expect((err as Error).message).not.toContain("wrong-pw");
  });

  it("reports an outlet the switch does not have, naming the plugs it has", async () => {
    sim.fault = "none";
    await idle();
    await expect(driver().off("9")).rejects.toMatchObject({
      kind: "unknown-outlet",
      message: expect.stringContaining("the switch has plugs 1, 2, 3, 4, not 9"),
    });
  });

  it("times out, naming the step, when the switch goes silent", async () => {
    await idle();
    sim.fault = "silent";
    await expect(driver().status("1")).rejects.toMatchObject({ kind: "timeout", step: "login" });
    await idle();
    sim.fault = "stall";
    await expect(driver().off("1")).rejects.toMatchObject({ kind: "timeout", step: "off sent" });
    expect(sim.bank.get("1")).toBe("on");
    sim.fault = "none";
  });

  it("calls a table it cannot read garbled", async () => {
    sim.fault = "garbage";
    await expect(driver().status("1")).rejects.toMatchObject({ kind: "garbled", step: "status table" });
    sim.fault = "none";
  });

  it("waits for a switch busy with another session, and gives up at the login deadline", async () => {
    sim.fault = "none";
    await idle();
    const other = connect({ host: "127.0.0.1", port: sim.port });
    const greeting = await new Promise<string>((r) =>
      other.once("data", (d: Buffer) => r(d.toString("latin1"))),
    );
    expect(greeting).not.toContain("another session");
    const steps: StepEvent[] = [];
    try {
      await expect(driver({ observer: (e) => steps.push(e) }).status("1")).rejects.toMatchObject({
        kind: "disconnected",
        step: "login",
      });
      expect(steps.filter((s) => s.step === "switch busy").length).toBeGreaterThan(1);
      // Once the other session ends, the switch serves us.
      setTimeout(() => other.destroy(), 300);
      expect(await driver().status("1")).toBe("on");
    } finally {
      other.destroy();
    }
  });

  it("never confirms off from a relay that does not switch, and says the switch answered", async () => {
    await idle();
    sim.fault = "stuck";
    try {
      const sw = new WtiNpsSwitch({
        host: "127.0.0.1",
        port: sim.port,
        password: "secret",
        timeouts: { ...fast, confirm: 400 },
      });
      const err = await sw.off("4").catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "not-confirmed", step: "off confirmed" });
      expect((err as Error).message).toMatch(/still shows the outlet on after 400 ms/);
    } finally {
      sim.fault = "none";
    }
  });

  it("does not confirm a plug the switch marks busy until the mark is gone", async () => {
    const busy = new NpsSimulator({ port: 0, outlets: 2, busyMs: 600 });
    await busy.start();
    try {
      const steps: StepEvent[] = [];
      const sw = new WtiNpsSwitch({
        host: "127.0.0.1",
        port: busy.port,
        timeouts: fast,
        observer: (e) => steps.push(e),
      });
      const started = Date.now();
      await sw.off("1");
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
      expect(steps.find((s) => s.step === "off confirmed")?.detail).toMatch(/^\d+ reads$/);
      expect(Number(steps.find((s) => s.step === "off confirmed")?.detail?.split(" ")[0])).toBeGreaterThan(1);
    } finally {
      await busy.stop();
    }
  });

  it("destroys a connection abandoned at its deadline, and a late error cannot crash the process", async () => {
    // A socket that never connects (as behind a switch that drops SYNs), handed to openSocket.
    const hanging = new Socket();
    const destroyed = vi.spyOn(hanging, "destroy");
    const abort = new AbortController();
    const opening = openSocket("192.0.2.1", 23, abort.signal, () => hanging);
    setTimeout(() => abort.abort(), 20);
    await expect(opening).rejects.toThrow(/abandoned/);
    expect(destroyed).toHaveBeenCalled();
    // Events arriving after it was abandoned change nothing and throw nothing.
    expect(() => hanging.emit("error", new Error("ECONNRESET"))).not.toThrow();
  });

  it("reports nothing listening as disconnected", async () => {
    const sw = new WtiNpsSwitch({ host: "127.0.0.1", port: 1, timeouts: fast });
    await expect(sw.status("1")).rejects.toMatchObject({ kind: "disconnected", step: "connecting" });
  });
});

needsTools(["fence_wti", "telnet"])("the simulator checked by Debian's fence_wti", () => {
  const fenceWti = (action: string, plug = "2") =>
    run(
      toolPath("fence_wti"),
      ["-a", "127.0.0.1", "-u", String(sim.port), "-p", "secret", "-n", plug, "-o", action],
      {
        timeout: 60_000,
      },
    ).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: e.code ?? -1,
        out: `${e.stdout ?? ""}${e.stderr ?? ""}`,
      }),
    );

  it("reads status, switches off and on, and reboots", async () => {
    sim.fault = "none";
    expect(await fenceWti("status")).toMatchObject({ code: 0, out: expect.stringContaining("Status: ON") });
    expect((await fenceWti("off")).code).toBe(0);
    expect(sim.bank.get("2")).toBe("off");
    expect(await fenceWti("status")).toMatchObject({ code: 2, out: expect.stringContaining("Status: OFF") });
    expect((await fenceWti("on")).code).toBe(0);
    expect(sim.bank.get("2")).toBe("on");
    const changes: string[] = [];
    const listener = (c: { outlet: string; state: string }) => changes.push(`${c.outlet}:${c.state}`);
    sim.bank.on("change", listener);
    expect((await fenceWti("reboot")).code).toBe(0);
    sim.bank.off("change", listener);
    expect(changes).toEqual(["2:off", "2:on"]);
  }, 120_000);

  it("fails on a plug the switch does not have", async () => {
    sim.fault = "none";
    expect((await fenceWti("status", "9")).code).toBe(1);
  }, 60_000);
});

describe("wti-nps simulator as a program", () => {
  it("prints listening PORT and serves the driver", async () => {
    const { child, line } = await startSimProgram("wti-nps", ["--port", "0", "--outlets", "2"]);
    try {
      expect(line).toMatch(/^listening \d+$/);
      const port = Number(line.split(" ")[1]);
      const sw = new WtiNpsSwitch({ host: "127.0.0.1", port, timeouts: fast });
      await sw.off("2");
      expect(await sw.status("2")).toBe("off");
    } finally {
      child.kill("SIGTERM");
    }
  });
});
