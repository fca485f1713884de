import { describe, expect, it } from "vitest";
import { type Damage, type RepairReport, repairExitCode, type VerifyReport } from "../../src/disk/verify.js";

const damage: Damage = { region: "status", index: 1, slot: 3, verdict: "primary-bad", source: "backup" };
const bothBad: Damage = { region: "status", index: 2, slot: 4, verdict: "both-bad" };
const clean: VerifyReport = { checkedBlocks: 10, damage: [], repairable: 0, unrepairable: 0 };

function report(after: VerifyReport, extra: Partial<RepairReport> = {}): RepairReport {
  return { before: clean, repaired: [], failed: [], skipped: [], after, ...extra };
}

describe("--repair exit status", () => {
  it.each([
    ["everything mended", report(clean), 0],
    ["a block left bad on both copies", report({ ...clean, damage: [bothBad], unrepairable: 1 }), 2],
    [
      "a rewrite failed",
      report({ ...clean, damage: [damage], repairable: 1 }, { failed: [{ damage, error: "EIO" }] }),
      74,
    ],
    [
      "a copy changed during the repair",
      report({ ...clean, damage: [damage], repairable: 1 }, { skipped: [damage] }),
      1,
    ],
  ])("%s → %i", (_what, r, code) => {
    expect(repairExitCode(r)).toBe(code);
  });
});
