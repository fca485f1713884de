// How cludiskutil shows its results to a person.
import type {
  CopyAccess,
  Damage,
  InitResult,
  PrintReport,
  RepairReport,
  UpgradeResult,
  VerifyReport,
} from "../disk/index.js";
import { formatBytes, wallClock } from "../disk/index.js";
import { table } from "./io.js";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function layoutLine(l: PrintReport["layout"]): string {
  const perSlot = l.slotBlocks > 1 ? `, each in a ${l.slotBytes}-byte slot` : "";
  return (
    `${l.blockSize}-byte blocks${perSlot}; ${l.maxMembers} members, ${l.maxServices} services; ` +
    `${l.totalSlots} blocks (${formatBytes(l.totalBytes)})`
  );
}

export function formatInit(result: InitResult, primary: string, backup: string): string {
  const lines = result.erased.map((e) => `Erased: ${e}.`);
  lines.push(
    `Initialised the quorum partitions of cluster "${result.header.clusterName}" (UUID ${result.clusterUuid}).`,
    `Primary ${primary}, backup ${backup}: ${layoutLine(result.header.layout)}.`,
  );
  return lines.join("\n");
}

export function formatPrint(r: PrintReport): string {
  const head = table([
    ["Cluster", `"${r.header.clusterName}"`],
    ["UUID", r.clusterUuid],
    ["Initialised", `${wallClock(r.header.initialisedAtMs)} by ${r.header.initialisedBy}`],
    ["Layout", layoutLine(r.layout)],
    ["Primary", r.primaryPath],
    ["Backup", r.backupPath],
    [
      "Configuration",
      r.config.verdict === "ok"
        ? `view ${r.config.view}, ${r.config.bytes} bytes, copies agree`
        : `${r.config.verdict}: primary ${r.config.primary}; backup ${r.config.backup}`,
    ],
  ]);
  const rows: string[][] = [["REGION", "INDEX", "BLOCK", "GEN P/B", "COPIES", "CONTENTS"]];
  for (const row of r.rows) {
    const gen = `${row.primary.generation ?? "-"}/${row.backup.generation ?? "-"}`;
    const agree = row.verdict === "ok" ? "agree" : row.verdict;
    rows.push([row.region, String(row.index), String(row.slot), gen, agree, row.primary.summary]);
    if (row.verdict !== "ok") rows.push(["", "", "", "", "backup:", row.backup.summary]);
  }
  const rest = `${plural(r.unusedBlocks, "other block")} in their initial state on both copies (not shown); the configuration region is summarised above.`;
  return `${head}\n\n${table(rows)}\n\n${rest}`;
}

function describeDamage(d: Damage): string {
  const where = `${d.region} block ${d.index} (block ${d.slot} of the partition)`;
  const p = d.primaryProblem ?? `generation ${d.primaryGeneration}`;
  const b = d.backupProblem ?? `generation ${d.backupGeneration}`;
  const fix =
    d.source === undefined
      ? d.verdict === "conflict"
        ? "the copies cannot be ordered: not repaired"
        : "bad on both copies: cannot be repaired"
      : d.source === "both"
        ? "repairable from the good blocks of both copies"
        : `repairable from the ${d.source}`;
  return `${where}: ${d.verdict}; primary: ${p}; backup: ${b}; ${fix}`;
}

export function formatVerify(r: VerifyReport, primary: string, backup: string): string {
  const lines = [
    `Checked ${plural(r.checkedBlocks, "block")} on both copies (primary ${primary}, backup ${backup}).`,
  ];
  for (const d of r.damage) lines.push(describeDamage(d));
  if (r.damage.length === 0) lines.push("Both copies are valid and equal.");
  else if (r.unrepairable === 0) {
    lines.push(`${plural(r.damage.length, "damaged block")}, all repairable: run cludiskutil --repair.`);
  } else {
    lines.push(
      `${plural(r.damage.length, "damaged block")}, ${r.unrepairable} bad on both copies: ` +
        "restore the partitions from a backup or re-initialise them with cludiskutil -I.",
    );
  }
  return lines.join("\n");
}

export function formatRepair(r: RepairReport): string {
  const lines: string[] = [];
  for (const d of r.repaired)
    lines.push(
      `Repaired ${d.region} block ${d.index} (block ${d.slot}) from ${d.source === "both" ? "the good blocks of both copies" : `the ${d.source}`}.`,
    );
  for (const f of r.failed)
    lines.push(`Could not repair ${f.damage.region} block ${f.damage.index}: ${f.error}`);
  for (const d of r.before.damage)
    if (d.source === undefined) lines.push(`Cannot repair: ${describeDamage(d)}`);
  if (r.before.damage.length === 0) lines.push("Nothing to repair: both copies are valid and equal.");
  else if (r.after.damage.length === 0) lines.push("Both copies are now valid and equal.");
  else
    lines.push(
      `${plural(r.after.damage.length, "block")} still damaged; run cludiskutil --verify for details.`,
    );
  return lines.join("\n");
}

export function formatUpgrade(r: UpgradeResult): string {
  if (!r.upgraded)
    return `The quorum partitions of cluster "${r.clusterName}" are already in the current format; nothing was written.`;
  const lines = r.settled.map(
    (s) => `${s.region} block ${s.index}: the copies differed; kept the ${s.from}'s version on both.`,
  );
  for (const u of r.unreadable)
    lines.push(
      `${u.region} block ${u.index}: bad on both copies, left as it was (cludiskutil --verify lists it).`,
    );
  lines.push(
    `Upgraded the ${plural(r.blocks, "block")} of cluster "${r.clusterName}" on both partitions to the current format.`,
  );
  return lines.join("\n");
}

function ms(n: number | undefined): string {
  return n === undefined ? "-" : `${n.toFixed(2)} ms`;
}

export function formatAccess(results: readonly CopyAccess[]): string {
  const rows: string[][] = [["COPY", "PATH", "READ", "WRITE", "READ BACK", "RESULT"]];
  for (const r of results) {
    rows.push([
      r.copy,
      r.path,
      ms(r.readMs),
      ms(r.writeMs),
      ms(r.readBackMs),
      r.ok ? "ok" : `FAILED: ${r.error}`,
    ]);
  }
  const verdict = results.every((r) => r.ok)
    ? "Both quorum partitions can be read and written with direct I/O."
    : "At least one quorum partition failed the test; the cluster cannot run until both pass.";
  return `${table(rows)}\n${verdict}`;
}
