import { describe, expect, it } from "vitest";
import { MemberCore } from "../../src/core/member.js";
import { type MakeCore, SimFailure, type SimOptions, World } from "./world.js";

const SEEDS = Number(process.env.CLUMANAGER_SIM_SEEDS ?? 2000);
const ONLY = process.env.CLUMANAGER_SIM_SEED;

function optionsFor(seed: number): SimOptions {
  // Most seeds run small clusters; every 50th runs a large one.
  const members = seed % 50 === 0 ? 16 : 2 + (seed % 5);
  return { seed, members, faultMs: 60_000, quietMs: 100_000, switchFaults: seed % 2 === 0 };
}

function replayHint(seed: number): string {
  return `replay: CLUMANAGER_SIM_SEED=${seed} npx vitest run --config test/vitest.config.ts test/sim`;
}

/** Runs one seed; on failure the message carries the last trace lines and the replay command. */
function runSeed(seed: number, makeCore?: MakeCore): World {
  const world = new World({ ...optionsFor(seed), makeCore });
  try {
    world.run();
  } catch (e) {
    const message = e instanceof SimFailure ? e.message : `seed ${seed} at ${world.now} ms: ${String(e)}`;
    throw new Error(`${message}\n${world.trace.slice(-40).join("\n")}\n${replayHint(seed)}`);
  }
  return world;
}

describe("deterministic simulator", () => {
  it(
    ONLY ? `replays seed ${ONLY}` : `holds every invariant over ${SEEDS} seeds of faults`,
    () => {
      const seeds = ONLY ? [Number(ONLY)] : Array.from({ length: SEEDS }, (_, i) => i + 1);
      const totals = { fences: 0, failedFences: 0, selfFences: 0, faults: 0, lockFailures: 0 };
      for (const seed of seeds) {
        const { stats } = runSeed(seed);
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += stats[k];
      }
      console.log(`simulator: ${seeds.length} seeds, ${JSON.stringify(totals)}`);
      // The faults must actually have bitten, or the run proves nothing.
      expect(totals.fences).toBeGreaterThan(seeds.length / 4);
      expect(totals.selfFences).toBeGreaterThan(0);
      if (!ONLY) expect(totals.failedFences).toBeGreaterThan(0);
      // About 6 ms a seed here; a long run given on the command line gets the time it needs.
    },
    30_000 + SEEDS * 20,
  );

  it("replays a seed exactly", () => {
    const a = runSeed(77);
    const b = runSeed(77);
    expect(b.trace).toEqual(a.trace);
    expect(b.stats).toEqual(a.stats);
  });

  it("catches a broken core that does not wait for the switch to confirm off", () => {
    const trusting: MakeCore = (config, joinedAtMs) => {
      const core = new MemberCore(config, joinedAtMs);
      const step = core.step.bind(core);
      core.step = (o) => step(o.kind === "fence-result" ? { ...o, confirmedOff: true } : o);
      return core;
    };
    const caught: string[] = [];
    for (let seed = 2; seed <= 400 && caught.length === 0; seed += 2) {
      try {
        runSeed(seed, trusting);
      } catch (e) {
        caught.push((e as Error).message);
      }
    }
    console.log(`simulator: the trusting core was caught: ${caught[0]?.split("\n")[0]}`);
    expect(caught[0]).toMatch(/still alive|which is alive/);
    expect(caught[0]).toMatch(/replay: CLUMANAGER_SIM_SEED=\d+/);
  });
});
