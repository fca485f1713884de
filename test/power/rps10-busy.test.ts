// Two openers of one serial line: serialport's exclusive lock refuses the second while the first
// holds it. That is a busy line, not a dead switch: the driver waits its turn, and says "busy"
// when the line stays taken. A real pseudo-terminal (socat) and real openers.
import { join } from "node:path";
import { SerialPort } from "serialport";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Rps10Switch } from "../../src/power/rps10.js";
import type { StepEvent } from "../../src/power/switch.js";
import { Rps10Simulator } from "../../tools/sim/rps10.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-rps10-busy-");
const sim = new Rps10Simulator({ link: join(dir.path, "ttyRPS"), outlets: 2 });

needsTools(["socat"])("two openers of one RPS-10 line", () => {
  beforeAll(() => sim.start());
  afterAll(async () => {
    await sim.stop();
    dir.remove();
  });

  it("lets two checks that meet on one line both get their answer, one after the other", async () => {
    const first: StepEvent[] = [];
    const second: StepEvent[] = [];
    let opened: () => void = () => {};
    const holding = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const a = new Rps10Switch({
      device: sim.link,
      observer: (e) => {
        first.push(e);
        if (e.step === "opening the line") opened();
      },
    }).health();
    // The second opens while the first holds the line (it keeps it at least its quiet interval).
    await holding;
    const b = new Rps10Switch({ device: sim.link, observer: (e) => second.push(e) }).health();
    await Promise.all([a, b]);
    expect(second.filter((e) => e.step === "line busy").length).toBeGreaterThan(0);
    expect(second.find((e) => e.step === "line busy")?.detail).toMatch(/in use by another process/);
    expect(sim.frames.slice(-2)).toEqual([
      { address: "*", op: "?" },
      { address: "*", op: "?" },
    ]);
  });

  it("says busy, not dead, when another process keeps the line past the busy budget", async () => {
    const holder = new SerialPort({ path: sim.link, baudRate: 9600, autoOpen: false, lock: true });
    await new Promise<void>((resolve, reject) => holder.open((err) => (err ? reject(err) : resolve())));
    try {
      const err = await new Rps10Switch({ device: sim.link, timeouts: { busy: 400 } })
        .health()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "busy", step: "opening the line" });
      expect((err as Error).message).toMatch(
        /stayed in use by another process for 400 ms \(in use by another process: .*Cannot lock port\)/,
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    // Once it is free, the line answers.
    await new Rps10Switch({ device: sim.link }).health();
  });
});
