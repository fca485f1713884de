// Which header to trust when the pair is opened, and what is wrong with the other.
import type { Block } from "./block.js";
import { BothCopiesBadError, type Copy, PartitionError } from "./errors.js";
import type { PartitionHeader } from "./header-block.js";
import type { HeaderFault, HeaderRead } from "./header-read.js";
import { tooSmallError } from "./too-small.js";

export interface ChosenHeader {
  header: PartitionHeader;
  block: Block;
  raw: Buffer;
  /** The other copy's header, when it is not the same as the chosen one. */
  stale?: {
    copy: Copy;
    problem: string;
    fault: HeaderFault | "older";
    repairable: boolean;
    /** What else the copy holds, where the pair looked (copy-evidence.ts). */
    content?: string;
  };
}

function describeFault(path: string, read: Extract<HeaderRead, { ok: false }>): string {
  switch (read.fault) {
    case "empty":
      return `${path} is not initialised (block 0 is all zero)`;
    case "foreign":
      return `${path} does not hold a clumanager quorum partition (${read.problem})`;
    case "damaged":
      return `${path} has a damaged header (${read.problem})`;
    case "sector-size":
      return `${path} ${read.problem}`;
    case "old-format":
      return `${path} holds a quorum partition in an earlier format (${read.problem})`;
    case "too-small":
      return `${path} ${read.problem}`;
  }
}

export function chooseHeader(
  primaryPath: string,
  p: HeaderRead,
  backupPath: string,
  b: HeaderRead,
  tolerateOneBad: boolean,
): ChosenHeader {
  for (const [path, read] of [
    [primaryPath, p],
    [backupPath, b],
  ] as const) {
    // Read in the old format, a block's generation would be trusted to order what it cannot.
    if (!read.ok && read.fault === "old-format") {
      throw new PartitionError(
        `${path} holds a quorum partition in an earlier format; stop clumanager on every member and ` +
          "run cludiskutil --upgrade, which rewrites both partitions in place",
        "old-format",
      );
    }
    if (!read.ok && read.fault === "sector-size") {
      throw new PartitionError(
        `${describeFault(path, read)}; a partition cannot change sector size: move it back or re-initialise it`,
        "sector-size-changed",
      );
    }
  }
  // A copy too small for even block 0 cannot be read or repaired: say by how much, from the
  // other copy's layout where it has one.
  for (const [path, read, other, otherPath] of [
    [primaryPath, p, b, backupPath],
    [backupPath, b, p, primaryPath],
  ] as const) {
    if (read.ok || read.fault !== "too-small") continue;
    if (other.ok) throw tooSmallError(path, read.sizeBytes ?? 0, other.header.layout);
    throw new PartitionError(
      `${describeFault(path, read)}, so it holds no quorum partition, and ${describeFault(otherPath, other)}; ` +
        "name the right devices, or initialise partitions large enough with cludiskutil -I",
      "too-small",
    );
  }
  if (p.ok && b.ok) {
    if (!p.block.clusterUuid.equals(b.block.clusterUuid)) {
      throw new PartitionError(
        `the primary ${primaryPath} belongs to cluster "${p.header.clusterName}" but the backup ${backupPath} ` +
          `belongs to another cluster ("${b.header.clusterName}"); check the device names`,
        "mismatch",
      );
    }
    if (p.block.generation === b.block.generation) {
      if (!p.raw.equals(b.raw)) {
        throw new PartitionError(
          `the headers of ${primaryPath} and ${backupPath} have the same generation but differ; ` +
            "run cludiskutil --verify and re-initialise if they cannot be reconciled",
          "mismatch",
        );
      }
      return { header: p.header, block: p.block, raw: p.raw };
    }
    const [newer, older]: [Copy, Copy] =
      p.block.generation > b.block.generation ? ["primary", "backup"] : ["backup", "primary"];
    const good = newer === "primary" ? p : b;
    return {
      header: good.header,
      block: good.block,
      raw: good.raw,
      stale: { copy: older, problem: "older header generation", fault: "older", repairable: true },
    };
  }
  if (!p.ok && !b.ok) {
    if (p.fault === "damaged" && b.fault === "damaged") {
      throw new BothCopiesBadError(
        `the header (block 0) is damaged on both copies: primary ${primaryPath}: ${p.problem}; ` +
          `backup ${backupPath}: ${b.problem}; the layout cannot be read, so re-initialise the partitions with cludiskutil -I --force`,
        [{ region: "header", index: 0, slot: 0, primaryProblem: p.problem, backupProblem: b.problem }],
      );
    }
    const reason = p.fault === "empty" && b.fault === "empty" ? "not-initialised" : "foreign";
    throw new PartitionError(
      `neither partition holds a usable header: ${describeFault(primaryPath, p)}; ${describeFault(backupPath, b)}; ` +
        "initialise them with cludiskutil -I",
      reason,
    );
  }
  const [goodRead, badRead, badCopy, badPath] = p.ok
    ? ([p, b, "backup", backupPath] as const)
    : ([b, p, "primary", primaryPath] as const);
  if (!goodRead.ok || badRead.ok) throw new Error("unreachable: exactly one header is good here");
  // A damaged header of ours is repaired from the other copy; an empty or foreign block 0 could
  // mean the wrong device was named, so only an explicit --repair may write over it.
  const repairable = badRead.fault === "damaged";
  if (!repairable && !tolerateOneBad) {
    throw new PartitionError(
      `${describeFault(badPath, badRead)}, while the other partition belongs to cluster "${goodRead.header.clusterName}"; ` +
        `if ${badPath} is the right device, run cludiskutil --repair to copy the good partition onto it`,
      badRead.fault === "empty" ? "not-initialised" : "foreign",
    );
  }
  return {
    header: goodRead.header,
    block: goodRead.block,
    raw: goodRead.raw,
    stale: { copy: badCopy, problem: badRead.problem, fault: badRead.fault, repairable },
  };
}
