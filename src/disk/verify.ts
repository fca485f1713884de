// `cludiskutil --verify` and `--repair`: check every block of both copies, and mend each damaged
// copy from the good one.
import type { Decoded } from "./block.js";
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

/** One pair of copies that disagree, as a Damage and (where one copy is good) the fix for it. */
interface Disagreement {
  region: RegionName;
  index: number;
  slot: number;
  verdict: Exclude<Verdict, "ok">;
  primary: Decoded<unknown>;
  backup: Decoded<unknown>;
  primaryGeneration: number | undefined;
  backupGeneration: number | undefined;
  primaryRaw: Buffer;
  backupRaw: Buffer;
}

function found(d: Disagreement, offset: number): Found {
  const damage: Damage = { region: d.region, index: d.index, slot: d.slot, verdict: d.verdict };
  if (d.primary.ok) damage.primaryGeneration = d.primaryGeneration;
  else damage.primaryProblem = d.primary.problem;
  if (d.backup.ok) damage.backupGeneration = d.backupGeneration;
  else damage.backupProblem = d.backup.problem;
  const source = repairSource(d.verdict);
  if (source === undefined) return { damage };
  damage.source = source;
  return {
    damage,
    fix: {
      target: source === "primary" ? "backup" : "primary",
      offset,
      data: source === "primary" ? d.primaryRaw : d.backupRaw,
    },
  };
}

async function survey(pair: QuorumPair): Promise<{ checkedBlocks: number; found: Found[] }> {
  const all: Found[] = [];
  let checkedBlocks = 0;
  for await (const check of scanSlots(pair)) {
    checkedBlocks++;
    if (check.verdict === "ok") continue;
    const { primary, backup } = check;
    const disagreement = {
      ...check,
      verdict: check.verdict,
      primaryGeneration: primary.ok ? primary.value.generation : undefined,
      backupGeneration: backup.ok ? backup.value.generation : undefined,
    };
    all.push(found(disagreement, slotOffset(pair.layout, check.slot)));
  }
  // The configuration region is judged as a whole: one interrupted write spans several blocks.
  const config = await checkConfig(pair);
  const region = pair.layout.regions.config;
  checkedBlocks += region.slots;
  if (config.verdict !== "ok") {
    const disagreement = {
      ...config,
      verdict: config.verdict,
      region: "config" as const,
      index: 0,
      slot: region.firstSlot,
      primaryGeneration: config.primary.ok ? config.primary.value.view : undefined,
      backupGeneration: config.backup.ok ? config.backup.value.view : undefined,
    };
    all.push(found(disagreement, slotOffset(pair.layout, region.firstSlot)));
  }
  return { checkedBlocks, found: all };
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
