// `cludiskutil --verify` and `--repair`: check every block of both copies, and mend each damaged
// copy from the good one.
import { type Copy, errorMessage } from "./errors.js";
import { type RegionName, slotOffset } from "./layout.js";
import type { QuorumPair } from "./pair.js";
import { checkConfig, repairSource, scanSlots, type Verdict } from "./scan.js";

export interface Damage {
  region: RegionName;
  index: number;
  slot: number;
  verdict: Exclude<Verdict, "ok">;
  primaryProblem?: string;
  backupProblem?: string;
  primaryGeneration?: number;
  backupGeneration?: number;
  /** Where the good version is; undefined when both copies are bad. */
  source?: Copy;
}

export interface VerifyReport {
  checkedBlocks: number;
  damage: Damage[];
  repairable: number;
  unrepairable: number;
}

export const VERIFY_CLEAN = 0;
export const VERIFY_REPAIRABLE = 1;
export const VERIFY_UNREPAIRABLE = 2;

export function verifyExitCode(report: VerifyReport): number {
  if (report.unrepairable > 0) return VERIFY_UNREPAIRABLE;
  return report.damage.length > 0 ? VERIFY_REPAIRABLE : VERIFY_CLEAN;
}

interface Found {
  damage: Damage;
  /** The good bytes and where they go, for repair. */
  fix?: { target: Copy; offset: number; data: Buffer };
}

async function survey(pair: QuorumPair): Promise<{ checkedBlocks: number; found: Found[] }> {
  const found: Found[] = [];
  let checkedBlocks = 0;
  for await (const check of scanSlots(pair)) {
    checkedBlocks++;
    if (check.verdict === "ok") continue;
    const damage: Damage = {
      region: check.region,
      index: check.index,
      slot: check.slot,
      verdict: check.verdict,
    };
    if (check.primary.ok) damage.primaryGeneration = check.primary.value.generation;
    else damage.primaryProblem = check.primary.problem;
    if (check.backup.ok) damage.backupGeneration = check.backup.value.generation;
    else damage.backupProblem = check.backup.problem;
    const source = repairSource(check.verdict);
    const entry: Found = { damage };
    if (source !== undefined) {
      damage.source = source;
      entry.fix = {
        target: source === "primary" ? "backup" : "primary",
        offset: slotOffset(pair.layout, check.slot),
        data: source === "primary" ? check.primaryRaw : check.backupRaw,
      };
    }
    found.push(entry);
  }
  const config = await checkConfig(pair);
  const region = pair.layout.regions.config;
  checkedBlocks += region.slots;
  if (config.verdict !== "ok") {
    const damage: Damage = { region: "config", index: 0, slot: region.firstSlot, verdict: config.verdict };
    if (config.primary.ok) damage.primaryGeneration = config.primary.value.view;
    else damage.primaryProblem = config.primary.problem;
    if (config.backup.ok) damage.backupGeneration = config.backup.value.view;
    else damage.backupProblem = config.backup.problem;
    const source = repairSource(config.verdict);
    const entry: Found = { damage };
    if (source !== undefined) {
      damage.source = source;
      entry.fix = {
        target: source === "primary" ? "backup" : "primary",
        offset: slotOffset(pair.layout, region.firstSlot),
        data: source === "primary" ? config.primaryRaw : config.backupRaw,
      };
    }
    found.push(entry);
  }
  return { checkedBlocks, found };
}

function report(checkedBlocks: number, damage: Damage[]): VerifyReport {
  const unrepairable = damage.filter((d) => d.source === undefined).length;
  return { checkedBlocks, damage, repairable: damage.length - unrepairable, unrepairable };
}

export async function verifyPair(pair: QuorumPair): Promise<VerifyReport> {
  const { checkedBlocks, found } = await survey(pair);
  return report(
    checkedBlocks,
    found.map((f) => f.damage),
  );
}

export interface RepairReport {
  before: VerifyReport;
  repaired: Damage[];
  failed: { damage: Damage; error: string }[];
  after: VerifyReport;
}

/** Rewrites every damaged copy from the good one, then checks everything again. */
export async function repairPair(pair: QuorumPair): Promise<RepairReport> {
  if (!pair.writable) throw new Error("repairPair needs the partitions opened for writing");
  const { checkedBlocks, found } = await survey(pair);
  const repaired: Damage[] = [];
  const failed: { damage: Damage; error: string }[] = [];
  for (const { damage, fix } of found) {
    if (fix === undefined) continue;
    const device = fix.target === "primary" ? pair.primary : pair.backup;
    try {
      await device.write(fix.offset, fix.data);
      repaired.push(damage);
    } catch (err) {
      failed.push({ damage, error: errorMessage(err) });
    }
  }
  const before = report(
    checkedBlocks,
    found.map((f) => f.damage),
  );
  return { before, repaired, failed, after: await verifyPair(pair) };
}
