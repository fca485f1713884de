// The failover benchmark, run once at its smallest, so it cannot rot: it must finish, print its
// table and write every sample as JSON. Its figures are for people; nothing here times them.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

needsTools(["stress-ng"])("the failover benchmark at its smallest", () => {
  it("runs one round of every measurement and reports it", () => {
    const dir = scratchDir();
    try {
      const json = join(dir.path, "bench.json");
      const r = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "tools/bench/failover.ts",
          "--profiles",
          "fast",
          "--members",
          "2",
          "--runs",
          "1",
          "--load-seconds",
          "3",
          "--json",
          json,
        ],
        { encoding: "utf8", timeout: 170_000 },
      );
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/\| fast +\| 2 +\|/);
      const [result] = JSON.parse(readFileSync(json, "utf8"));
      expect(result).toMatchObject({ profile: "fast", members: 2, loadSeconds: 3 });
      for (const kind of ["hang", "crash"]) {
        const [sample] = result[kind];
        expect(sample.totalMs).toBeGreaterThan(0);
        // The parts are measured from the members' logs and add up to about the whole.
        expect(sample.detectionMs + sample.fenceMs + sample.startMs).toBeCloseTo(sample.totalMs, -2);
      }
      expect(result.relocateMs).toHaveLength(1);
      expect(result.idle.diskOpsPerS).toBeGreaterThan(0);
      // Whether it is zero is the benchmark's finding, under its own longer load, not this test's.
      expect(typeof result.falseFailovers).toBe("number");
    } finally {
      dir.remove();
    }
  }, 180_000);
});
