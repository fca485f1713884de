// The RPS-10 simulator on a machine without socat says so in one sentence, with the package,
// at once: not an uncaught "spawn socat ENOENT", nor "socat did not create ..." seconds later.
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { Rps10Simulator } from "../../tools/sim/rps10.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-rps10-no-socat-");
afterAll(() => dir.remove());

it("names socat and its Debian package when socat is not on PATH", async () => {
  const sim = new Rps10Simulator({ link: join(dir.path, "ttyRPS"), outlets: 2 });
  const path = process.env.PATH;
  process.env.PATH = dir.path;
  try {
    const started = Date.now();
    await expect(sim.start()).rejects.toThrow(
      "the RPS-10 simulator needs socat, which is not installed (Debian package socat)",
    );
    // Well before the startup timeout it would otherwise wait out.
    expect(Date.now() - started).toBeLessThan(2_000);
  } finally {
    process.env.PATH = path;
  }
});
