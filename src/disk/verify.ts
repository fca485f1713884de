// `cludiskutil --verify` and `--repair`: check every block of both copies, and mend each copy that
// is damaged or proven older from the newer one. A repair never makes things worse: it writes only
// a copy the other is proven newer than (generations only grow, so a higher one is the later
// write), leaves a block whose copies cannot be ordered as it found it, and checks everything
// again afterwards.
import type { Decoded } from "./block.js";
import { CONFLICT_PROBLEM, staleCopy } from "./copy-choice.js";
import { type Copy, errorMessage, PartitionError, type Repair } from "./errors.js";
import { foreignContent } from "./foreign-content.js";
import { CONFIG_REGIONS, type RegionName, slotOffset } from "./layout.js";
import type { QuorumPair } from "./pair.js";
import { type ConfigVerdict, checkConfig, scanSlots } from "./scan.js";

export interface Damage {
  region: RegionName;
  index: number;
  slot: number;
  verdict: Exclude<ConfigVerdict, "ok">;
  primaryProblem?: string;
  backupProblem?: string;
  primaryGeneration?: number;
  backupGeneration?: number;
  /** Where the good version is ("both": put together from the good blocks of both copies);
   * undefined when neither copy can be believed. */
  source?: Copy | "both";
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
/** EX_IOERR: a repair write failed. */
export const REPAIR_WRITE_FAILED = 74;

export function verifyExitCode(report: VerifyReport): number {
  if (report.unrepairable > 0) return VERIFY_UNREPAIRABLE;
  return report.damage.length > 0 ? VERIFY_REPAIRABLE : VERIFY_CLEAN;
}

/** One copy to rewrite: the good bytes, and what it held when checked (rewritten only if it
 * still does). */
interface Fix {
  target: Copy;
  offset: number;
  data: Buffer;
  expected: Buffer;
}

interface Found {
  damage: Damage;
  fixes: Fix[];
}

/** One pair of copies that disagree, as a Damage and (where a good version is known) its fixes. */
interface Disagreement {
  region: RegionName;
  index: number;
  slot: number;
  verdict: Exclude<ConfigVerdict, "ok">;
  primary: Decoded<unknown>;
  backup: Decoded<unknown>;
  primaryGeneration: number | undefined;
  backupGeneration: number | undefined;
  primaryRaw: Buffer;
  backupRaw: Buffer;
  merged?: Buffer;
}

function found(d: Disagreement, offset: number): Found {
  const damage: Damage = { region: d.region, index: d.index, slot: d.slot, verdict: d.verdict };
  if (d.primary.ok) damage.primaryGeneration = d.primaryGeneration;
  else damage.primaryProblem = d.primary.problem;
  if (d.backup.ok) damage.backupGeneration = d.backupGeneration;
  else damage.backupProblem = d.backup.problem;
  if (d.verdict === "conflict") {
    damage.primaryProblem = CONFLICT_PROBLEM;
    damage.backupProblem = CONFLICT_PROBLEM;
  }
  if (d.verdict === "both-partly-bad" && d.merged !== undefined) {
    damage.source = "both";
    const data = d.merged;
    return {
      damage,
      fixes: [
        { target: "primary", offset, data, expected: d.primaryRaw },
        { target: "backup", offset, data, expected: d.backupRaw },
      ],
    };
  }
  // Only a copy proven older (a lower generation) or failing its checks is rewritten, and only
  // from one that is good: a pair that cannot be ordered is reported, never guessed at.
  const target = d.verdict === "both-partly-bad" ? undefined : staleCopy(d.verdict);
  if (target === undefined) return { damage, fixes: [] };
  const source: Copy = target === "primary" ? "backup" : "primary";
  damage.source = source;
  return {
    damage,
    fixes: [
      {
        target,
        offset,
        data: source === "primary" ? d.primaryRaw : d.backupRaw,
        expected: target === "primary" ? d.primaryRaw : d.backupRaw,
      },
    ],
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
  // The configuration regions are judged as wholes: one interrupted write spans several blocks.
  for (const regionName of CONFIG_REGIONS) {
    const config = await checkConfig(pair, regionName);
    const region = pair.layout.regions[regionName];
    checkedBlocks += region.slots;
    if (config.verdict === "ok") continue;
    const { merged, ...rest } = config;
    const disagreement = {
      ...rest,
      verdict: config.verdict,
      region: regionName,
      index: 0,
      slot: region.firstSlot,
      primaryGeneration: config.primary.ok ? config.primary.value.view : undefined,
      backupGeneration: config.backup.ok ? config.backup.value.view : undefined,
      ...(merged !== undefined ? { merged: merged.bytes } : {}),
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
  /** Damaged copies that changed between the check and the repair, and were left alone. */
  skipped: Damage[];
  after: VerifyReport;
}

export interface RepairOptions {
  /** Write over a copy whose block 0 holds something that is not a clumanager header. */
  force?: boolean;
}

/**
 * Rewrites every damaged or older copy from the newer one (a configuration region damaged in
 * different blocks on each copy from the good blocks of both), then checks everything again. Each copy
 * is read once more just before it is rewritten, and left alone if it changed since it was
 * checked (a member wrote it meanwhile); the final check then reports what is left.
 */
export async function repairPair(pair: QuorumPair, options: RepairOptions = {}): Promise<RepairReport> {
  if (!pair.writable) throw new Error("repairPair needs the partitions opened for writing");
  const stale = pair.staleHeader;
  if ((stale?.fault === "foreign" || stale?.fault === "empty") && options.force !== true) {
    const device = stale.copy === "primary" ? pair.primary : pair.backup;
    const content =
      stale.content ??
      (stale.fault === "foreign" ? `block 0 ${stale.problem}` : await foreignContent(device, pair.layout));
    if (content !== undefined) {
      throw new PartitionError(
        `the ${stale.copy} ${device.path} does not hold a clumanager quorum partition (it ${content}); ` +
          "--repair will not write over it unless you add --force",
        "foreign",
      );
    }
  }
  const { checkedBlocks, found } = await survey(pair);
  const repaired: Damage[] = [];
  const failed: { damage: Damage; error: string }[] = [];
  const skipped: Damage[] = [];
  for (const { damage, fixes } of found) {
    if (fixes.length === 0) continue;
    try {
      if (!(await stillAsChecked(pair, fixes))) {
        skipped.push(damage);
        continue;
      }
      for (const fix of fixes) await deviceOf(pair, fix.target).write(fix.offset, fix.data);
      repaired.push(damage);
    } catch (err) {
      failed.push({ damage, error: errorMessage(err) });
    }
  }
  // A damaged header is mended when the pair is opened (the layout is read from the good one
  // first): it is part of what this repair found and did.
  // (One left for later is still damaged, and the survey above found it.)
  const older = pair.staleHeader?.fault === "older";
  const atOpen = pair.openRepairs
    .filter((r) => r.done || r.error !== undefined)
    .map((r) => ({ repair: r, damage: headerDamage(r, older) }));
  for (const { repair, damage } of atOpen) {
    if (repair.done) repaired.unshift(damage);
    else if (repair.error !== undefined) failed.unshift({ damage, error: repair.error });
  }
  const before = report(checkedBlocks, [...atOpen.map((a) => a.damage), ...found.map((f) => f.damage)]);
  return { before, repaired, failed, skipped, after: await verifyPair(pair) };
}

/** The header copy the pair found damaged or older at open, as verify would have named it. */
function headerDamage(r: Repair, older: boolean): Damage {
  const source: Copy = r.repaired === "primary" ? "backup" : "primary";
  const damage: Damage = {
    region: "header",
    index: r.index,
    slot: r.slot,
    verdict: `${r.repaired}-${older ? "stale" : "bad"}`,
    source,
  };
  if (r.repaired === "primary") {
    damage.primaryProblem = r.problem;
    damage.backupGeneration = r.generation;
  } else {
    damage.backupProblem = r.problem;
    damage.primaryGeneration = r.generation;
  }
  return damage;
}

function deviceOf(pair: QuorumPair, copy: Copy) {
  return copy === "primary" ? pair.primary : pair.backup;
}

/** Whether every copy a repair would rewrite still holds what was checked (a member may have
 * written it since: then it is left alone, and the final check says what is left). */
async function stillAsChecked(pair: QuorumPair, fixes: readonly Fix[]): Promise<boolean> {
  for (const fix of fixes) {
    if (fix.expected.length === 0) continue;
    const now = await deviceOf(pair, fix.target).read(fix.offset, fix.expected.length);
    if (!now.equals(fix.expected)) return false;
  }
  return true;
}

/** --repair's exit status: 0 clean, 2 something bad on both copies, 74 a rewrite failed, 1 a
 * copy changed while it was being repaired (run it again). */
export function repairExitCode(r: RepairReport): number {
  if (r.after.damage.length === 0) return VERIFY_CLEAN;
  if (r.after.unrepairable > 0) return VERIFY_UNREPAIRABLE;
  if (r.failed.length > 0) return REPAIR_WRITE_FAILED;
  return VERIFY_REPAIRABLE;
}
