// The RPS-10 driver against the simulator over a real pseudo-terminal (socat), the serialport
// package on one side and the serial protocol byte for byte.
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PowerSwitchError } from "../../src/power/errors.js";
import { Rps10Switch } from "../../src/power/rps10.js";
import { rps10Frame } from "../../src/power/rps10-protocol.js";
import type { StepEvent } from "../../src/power/switch.js";
import { Rps10Simulator } from "../../tools/sim/rps10.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";
import { startSimProgram } from "../helpers/sim-program.js";

const dir = scratchDir("clumanager-rps10-");
const sim = new Rps10Simulator({
  link: join(dir.path, "ttyRPS"),
  outlets: 4,
  stateFile: join(dir.path, "state.json"),
  toggleDelayMs: 50,
});
const fast = { reply: 700, complete: 700, banner: 700 };

needsTools(["socat"])("the RPS-10 over a pseudo-terminal", () => {
  beforeAll(() => sim.start());
  afterAll(async () => {
    await sim.stop();
    dir.remove();
  });

  function driver(observer?: (e: StepEvent) => void): Rps10Switch {
    return new Rps10Switch({ device: sim.link, timeouts: fast, ...(observer ? { observer } : {}) });
  }

  describe("rps10 driver against the simulator", () => {
    it("switches off and on, confirms each from the switch's own reply, and reads status", async () => {
      sim.fault = "none";
      const steps: StepEvent[] = [];
      const sw = driver((e) => steps.push(e));
      await sw.off("2");
      expect(sim.bank.get("2")).toBe("off");
      expect(JSON.parse(readFileSync(join(dir.path, "state.json"), "utf8"))).toMatchObject({
        "2": "off",
        "1": "on",
      });
      expect(await sw.status("2")).toBe("off");
      await sw.on("2");
      expect(await sw.status("2")).toBe("on");
      // The exact nine-byte frame reached the switch.
      expect(sim.frames.at(-1)).toEqual({ address: "2", op: "?" });
      expect(rps10Frame("2", "0").toString("hex")).toBe("0218180218183230" + "0d");
      expect(steps.map((s) => s.step)).toEqual(
        expect.arrayContaining([
          "opening the line",
          "no modem lines",
          "off sent",
          "off confirmed",
          "complete",
        ]),
      );
    });

    it("reboots as off confirmed, then on confirmed", async () => {
      sim.fault = "none";
      const changes: string[] = [];
      const listener = (c: { outlet: string; state: string }) => changes.push(`${c.outlet}:${c.state}`);
      sim.bank.on("change", listener);
      await driver().reboot("1");
      sim.bank.off("change", listener);
      expect(changes).toEqual(["1:off", "1:on"]);
    });

    it("checks the whole chain for health", async () => {
      sim.fault = "none";
      await driver().health();
      expect(sim.frames.at(-1)).toEqual({ address: "*", op: "?" });
    });

    it("refuses an outlet that is no module address", async () => {
      await expect(driver().off("12")).rejects.toMatchObject({ kind: "unknown-outlet", outlet: "12" });
    });

    it("times out, naming the step, on a module that is not on the chain", async () => {
      sim.fault = "none";
      const err = await driver()
        .off("7")
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PowerSwitchError);
      expect(err).toMatchObject({ kind: "timeout", outlet: "7", step: "reply" });
      expect((err as Error).message).toMatch(/^rps10 .*ttyRPS outlet 7: reply: no answer within 700 ms$/);
    });

    it("never confirms off from a switch that goes silent mid-command", async () => {
      sim.fault = "stall";
      await expect(driver().off("3")).rejects.toMatchObject({ kind: "timeout", step: "complete" });
      // The stalled command was abandoned: the next one asks the silent switch for its status
      // first, and gives up there, without sending its off.
      sim.fault = "silent";
      await expect(driver().off("3")).rejects.toMatchObject({ kind: "timeout", step: "switch answers" });
      expect(sim.frames.at(-1)).toEqual({ address: "*", op: "?" });
      sim.fault = "none";
    });

    it("does not take garbage for an answer", async () => {
      sim.fault = "none";
      await driver().status("0"); // brings the line back in step after the tests before
      sim.fault = "garbage";
      await expect(driver().status("0")).rejects.toMatchObject({ kind: "timeout", step: "reply" });
      sim.fault = "none";
    });

    it("does not take a late reply to an abandoned command as the answer to the next one", async () => {
      // The switch answers an off only after the driver gave up on it; the next command on the
      // line (to which the switch now says nothing) must not take that late "Plug 0 Off" /
      // "Complete" as its own answer. With no DTR reset on a pty, the driver asks for the status
      // first and sends only once the line has been quiet after the switch answered.
      sim.fault = "late";
      await expect(driver().off("0")).rejects.toMatchObject({ kind: "timeout" });
      sim.fault = "silent";
      await expect(driver().off("0")).rejects.toMatchObject({ kind: "timeout", step: "reply" });
      expect(sim.bank.get("0")).toBe("off"); // the late reply did arrive, and was discarded
      sim.fault = "none";
      await driver().on("0");
    });

    it("never confirms off from a relay that does not switch", async () => {
      sim.fault = "stuck";
      try {
        const err = await driver()
          .off("2")
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ kind: "not-confirmed", step: "off confirmed" });
        expect((err as Error).message).toMatch(/the switch answered that plug 2 is on/);
        expect(sim.bank.get("2")).toBe("on");
      } finally {
        sim.fault = "none";
      }
    });

    it("reports a device path that does not exist as disconnected", async () => {
      const sw = new Rps10Switch({ device: join(dir.path, "nope"), timeouts: fast });
      await expect(sw.status("0")).rejects.toMatchObject({ kind: "disconnected", step: "opening the line" });
    });
  });

  describe("rps10 simulator as a program", () => {
    let child: ChildProcess | undefined;
    afterAll(() => child?.kill("SIGTERM"));

    it("prints ready PATH, serves the driver, and writes its state file", async () => {
      const link = join(dir.path, "ttyCLI");
      const stateFile = join(dir.path, "cli-state.json");
      const hookLog = join(dir.path, "hook.log");
      const hook = `echo "$OUTLET=$STATE" >> ${hookLog}`;
      const args = ["--link", link, "--outlets", "2", "--state-file", stateFile, "--hook", hook];
      const started = await startSimProgram("rps10", args);
      child = started.child;
      const ready = started.line;
      expect(ready).toBe(`ready ${link}`);
      await new Rps10Switch({ device: link, timeouts: fast }).reboot("1");
      expect(JSON.parse(readFileSync(stateFile, "utf8"))).toEqual({ "0": "on", "1": "on" });
      // The hook ran for the outlet going off and coming on, in that order.
      const logged = () => (existsSync(hookLog) ? readFileSync(hookLog, "utf8") : "");
      for (let i = 0; i < 100 && logged().split("\n").length < 3; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(logged()).toBe("1=off\n1=on\n");
    });
  });
});
