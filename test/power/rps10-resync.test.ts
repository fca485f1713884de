// A switch that hung and comes back: the frames it still held are answered (the off among them
// already cuts the power), and the next command is sent once the line is back in step, well
// before the abandoned command's whole reply budget has passed. A real pseudo-terminal (socat)
// and the serialport package, as in production.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { RPS10_TIMEOUTS, Rps10Switch } from "../../src/power/rps10.js";
import type { StepEvent } from "../../src/power/switch.js";
import { Rps10Simulator } from "../../tools/sim/rps10.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-rps10-resync-");
const sim = new Rps10Simulator({ link: join(dir.path, "ttyRPS"), outlets: 4 });
/**
 * Long enough that waiting out an abandoned command's budget (reply + complete, what the driver
 * did before) is far beyond what a resynchronisation needs: the switch's way back, the quiet
 * interval and one reply.
 */
const budget = { reply: 3_000, complete: 3_000 };
const oldWait = budget.reply + budget.complete;
/** How long the switch stays hung once the next command has started. */
const COME_BACK_MS = 300;

needsTools(["socat"])("an RPS-10 that hung and comes back", () => {
  beforeAll(() => sim.start());
  afterAll(async () => {
    await sim.stop();
    dir.remove();
  });
  beforeEach(() => {
    sim.fault = "none";
  });

  function driver(steps: StepEvent[] = [], timeouts = budget): Rps10Switch {
    return new Rps10Switch({ device: sim.link, timeouts, observer: (e) => steps.push(e) });
  }

  /** The switch hangs with an off for outlet 2 in it, which the driver gives up on. */
  async function hangWithAnOff(): Promise<void> {
    sim.fault = "hung";
    await expect(driver().off("2")).rejects.toMatchObject({ kind: "timeout", step: "reply" });
    expect(sim.bank.get("2")).toBe("on");
  }

  it("confirms the next off soon after a hung switch comes back during it", async () => {
    sim.bank.set("2", "on");
    await hangWithAnOff();
    const steps: StepEvent[] = [];
    const started = performance.now();
    const off = driver(steps).off("2");
    setTimeout(() => sim.resume(), COME_BACK_MS);
    await off;
    const took = performance.now() - started;
    expect(sim.bank.get("2")).toBe("off");
    // The old driver waited at least reply + complete for the line; this one needs the switch's
    // way back, the quiet interval and one reply at most.
    expect(oldWait).toBeGreaterThan(COME_BACK_MS + RPS10_TIMEOUTS.resync + budget.reply);
    expect(took).toBeLessThan(COME_BACK_MS + RPS10_TIMEOUTS.resync + budget.reply);
    expect(steps.map((s) => s.step)).toEqual([
      "opening the line",
      "no modem lines",
      "resynchronising",
      "status probe sent",
      "switch answers",
      "line quiet",
      "off sent",
      "reply",
      "complete",
      "off confirmed",
    ]);
    // The held off was answered first, then the status probe, and only then was this off sent.
    expect(sim.frames.slice(-3)).toEqual([
      { address: "2", op: "0" },
      { address: "*", op: "?" },
      { address: "2", op: "0" },
    ]);
  });

  it("confirms the next off soon after a hung switch came back while no one had the line open", async () => {
    sim.bank.set("2", "on");
    await hangWithAnOff();
    // Its late answers go to a closed line and are lost: nothing on the line says it is back.
    sim.resume();
    expect(sim.bank.get("2")).toBe("off");
    const started = performance.now();
    await driver().off("2");
    expect(performance.now() - started).toBeLessThan(RPS10_TIMEOUTS.resync + budget.reply);
  });

  it("sends nothing but its status probe to a switch that is still hung, and fails", async () => {
    const short = { reply: 700, complete: 700 };
    sim.bank.set("1", "on");
    sim.fault = "hung";
    await expect(driver([], short).off("1")).rejects.toMatchObject({ kind: "timeout", step: "reply" });
    const sent = sim.frames.length;
    await expect(driver([], short).off("1")).rejects.toMatchObject({
      kind: "timeout",
      step: "switch answers",
    });
    expect(sim.frames.slice(sent)).toEqual([{ address: "*", op: "?" }]);
    // Back, it answers both; the next command finds the line in step and switches on as asked.
    sim.resume();
    await driver([], short).on("1");
    expect(sim.bank.get("1")).toBe("on");
  });
});
