// `cludiskutil --upgrade`: rewrites partitions of the earlier format in place, keeping the
// cluster's state. Format 3 holds the same payloads as format 4; what changes is what a block's
// generation means. In format 3 it was a counter of whichever process or life wrote last, so two
// copies that disagree cannot be ordered by it. Here each such block is settled once, from the
// primary (the copy every write reached first), and written to both copies at a generation above
// both; from then on every write's generation only grows (generations.ts).
//
// The cluster must be stopped: a daemon of the earlier format would go on writing format-3 blocks
// with its own counters, which this program would misorder. The headers are written last, so an
// upgrade that stops part way leaves headers of the old format, which every other command refuses
// with the advice to run the upgrade again, and running it again finishes it.
import { type Block, type Decoded, decodeBlock, encodeBlock } from "./block.js";
import type { DirectDevice } from "./device.js";
import { PartitionError } from "./errors.js";
import { FORMAT_VERSION, UPGRADABLE_FORMAT_VERSION } from "./format.js";
import { nextGeneration } from "./generations.js";
import type { PartitionHeader } from "./header-block.js";
import { readHeader } from "./header-read.js";
import { CONFIG_REGIONS, type Layout, locateSlot, type RegionName, slotOffset } from "./layout.js";
import { openBoth } from "./open-pair.js";
import { MAX_READ_CHUNK_BYTES } from "./pair.js";
import { decodeStatus, MemberState } from "./status-block.js";

/** How long the status blocks are watched for a daemon still writing them: a few heartbeats at
 * the default interval. */
export const UPGRADE_WATCH_MS = 3_000;

const VERSIONS = [UPGRADABLE_FORMAT_VERSION, FORMAT_VERSION] as const;

export interface UpgradeOptions {
  timeoutMs?: number;
  /** Go on although a status block says its member is UP (a member that died without leaving). */
  force?: boolean;
  watchMs?: number;
}

export interface UpgradeResult {
  clusterName: string;
  /** False when both partitions were already in this format: nothing was written. */
  upgraded: boolean;
  blocks: number;
  /** Blocks whose copies differed, each settled from the copy named. */
  settled: { region: RegionName; index: number; from: "primary" | "backup" }[];
  /** Blocks bad on both copies, left as they were (verify reports them afterwards). */
  unreadable: { region: RegionName; index: number }[];
}

export async function upgradePair(
  primaryPath: string,
  backupPath: string,
  options: UpgradeOptions = {},
): Promise<UpgradeResult> {
  const { primary, backup } = await openBoth(primaryPath, backupPath, {
    write: true,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  try {
    const header = await readHeaders(primary, backup);
    if (header.current) {
      return {
        clusterName: header.header.clusterName,
        upgraded: false,
        blocks: 0,
        settled: [],
        unreadable: [],
      };
    }
    await refuseRunningCluster(primary, backup, header.layout, header.uuid, options);
    return { clusterName: header.header.clusterName, ...(await rewrite(primary, backup, header)) };
  } finally {
    primary.close();
    backup.close();
  }
}

interface Headers {
  header: PartitionHeader;
  layout: Layout;
  uuid: Buffer;
  blocks: [Block, Block];
  /** Both headers already in this format. */
  current: boolean;
}

async function readHeaders(primary: DirectDevice, backup: DirectDevice): Promise<Headers> {
  const [p, b] = await Promise.all([readHeader(primary, VERSIONS), readHeader(backup, VERSIONS)]);
  for (const [device, read] of [
    [primary, p],
    [backup, b],
  ] as const) {
    if (!read.ok) {
      throw new PartitionError(
        `${device.path} has no usable header (${read.problem}); --upgrade needs both headers: ` +
          "repair the partitions with the clumanager that wrote them first",
        "bad-header",
      );
    }
  }
  if (!p.ok || !b.ok) throw new Error("unreachable: both headers were checked");
  if (!p.block.clusterUuid.equals(b.block.clusterUuid)) {
    throw new PartitionError(
      `the primary ${primary.path} and the backup ${backup.path} belong to different clusters; check the device names`,
      "mismatch",
    );
  }
  if (!p.header.layout.totalBytes || p.header.layout.totalBytes !== b.header.layout.totalBytes) {
    throw new PartitionError(
      `the headers of ${primary.path} and ${backup.path} describe different layouts; check the device names`,
      "mismatch",
    );
  }
  return {
    header: p.header,
    layout: p.header.layout,
    uuid: p.block.clusterUuid,
    blocks: [p.block, b.block],
    current: p.block.version === FORMAT_VERSION && b.block.version === FORMAT_VERSION,
  };
}

/** Refuses while any daemon still writes its status block, or any member's block says UP. */
async function refuseRunningCluster(
  primary: DirectDevice,
  backup: DirectDevice,
  layout: Layout,
  uuid: Buffer,
  options: UpgradeOptions,
): Promise<void> {
  const region = layout.regions.status;
  const offset = slotOffset(layout, region.firstSlot);
  const length = region.slots * layout.slotBytes;
  const look = () => Promise.all([primary.read(offset, length), backup.read(offset, length)]);
  const before = await look();
  await new Promise((r) => setTimeout(r, options.watchMs ?? UPGRADE_WATCH_MS));
  const after = await look();
  for (let i = 0; i < region.slots; i++) {
    const at = i * layout.slotBytes;
    const moved = [0, 1].some(
      (c) =>
        !before[c]!.subarray(at, at + layout.blockSize).equals(after[c]!.subarray(at, at + layout.blockSize)),
    );
    if (moved) {
      throw new PartitionError(
        `member ${i}'s status block changed while it was watched: its daemon is running; ` +
          "stop clumanager on every member, then run cludiskutil --upgrade again",
        "in-use",
      );
    }
    if (options.force === true) continue;
    for (const bytes of after) {
      const d = decodeBlock(bytes.subarray(at, at + layout.blockSize), {
        slot: region.firstSlot + i,
        clusterUuid: uuid,
        versions: VERSIONS,
      });
      const status = d.ok ? decodeStatus(d.value.payload) : undefined;
      if (status?.ok === true && status.value.state === MemberState.Up) {
        throw new PartitionError(
          `member ${i} ("${status.value.nodeName}") is UP on the partitions, though its status block stood still; ` +
            "stop clumanager on every member, or if that member is surely down, add --force",
          "in-use",
        );
      }
    }
  }
}

async function rewrite(
  primary: DirectDevice,
  backup: DirectDevice,
  headers: Headers,
): Promise<Omit<UpgradeResult, "clusterName">> {
  const { layout, uuid } = headers;
  const settled: UpgradeResult["settled"] = [];
  const unreadable: UpgradeResult["unreadable"] = [];
  const perChunk = Math.max(1, Math.floor(MAX_READ_CHUNK_BYTES / layout.slotBytes));
  let blocks = 0;
  // Slot 0, the header, is left to the end.
  for (let first = 1; first < layout.totalSlots; first += perChunk) {
    const count = Math.min(perChunk, layout.totalSlots - first);
    const offset = slotOffset(layout, first);
    const [pBytes, bBytes] = await Promise.all([
      primary.read(offset, count * layout.slotBytes),
      backup.read(offset, count * layout.slotBytes),
    ]);
    for (let i = 0; i < count; i++) {
      const slot = first + i;
      const { region, index } = locateSlot(layout, slot);
      const at = i * layout.slotBytes;
      const expect = { type: region.type, slot, clusterUuid: uuid, versions: VERSIONS };
      const p = decodeBlock(pBytes.subarray(at, at + layout.blockSize), expect);
      const b = decodeBlock(bBytes.subarray(at, at + layout.blockSize), expect);
      const outcome = upgradeSlot(region.name, p, b, layout.blockSize);
      blocks++;
      if (outcome.settledFrom !== undefined)
        settled.push({ region: region.name, index, from: outcome.settledFrom });
      if (outcome.unreadable) unreadable.push({ region: region.name, index });
      const slotOffsetBytes = slotOffset(layout, slot);
      if (outcome.primary !== undefined) await primary.write(slotOffsetBytes, outcome.primary);
      if (outcome.backup !== undefined) await backup.write(slotOffsetBytes, outcome.backup);
    }
  }
  // The newer header (the primary's at a tie), as the earlier format chose between them too.
  const [ph, bh] = headers.blocks;
  const newer = bh.generation > ph.generation ? bh : ph;
  const header = encodeBlock({ ...newer, version: FORMAT_VERSION }, layout.blockSize);
  await primary.write(0, header);
  await backup.write(0, header);
  return { upgraded: true, blocks: blocks + 1, settled, unreadable };
}

interface SlotOutcome {
  primary?: Buffer;
  backup?: Buffer;
  settledFrom?: "primary" | "backup";
  unreadable?: boolean;
}

/** What one slot becomes: the bytes to write to each copy (none where it stays as it is). */
function upgradeSlot(
  region: RegionName,
  p: Decoded<Block>,
  b: Decoded<Block>,
  blockSize: number,
): SlotOutcome {
  const encode = (block: Block, generation: number) =>
    encodeBlock({ ...block, version: FORMAT_VERSION, generation }, blockSize);
  if (CONFIG_REGIONS.includes(region as (typeof CONFIG_REGIONS)[number])) {
    // A configuration block's generation is its view, which only ever grew: each copy keeps its
    // own, and the region is judged as a whole when it is read.
    return {
      ...(p.ok && p.value.version !== FORMAT_VERSION ? { primary: encode(p.value, p.value.generation) } : {}),
      ...(b.ok && b.value.version !== FORMAT_VERSION ? { backup: encode(b.value, b.value.generation) } : {}),
    };
  }
  if (!p.ok && !b.ok) return { unreadable: true };
  const chosen = settle(p, b);
  const generation = nextGeneration([p.ok ? p.value.generation : 0, b.ok ? b.value.generation : 0]);
  const bytes = encode(chosen.block, generation);
  return { primary: bytes, backup: bytes, ...(chosen.differed ? { settledFrom: chosen.from } : {}) };
}

/** The copy to keep: one already upgraded (an upgrade run again), else the primary, which every
 * write reached first; the other only where the primary is bad. */
function settle(
  p: Decoded<Block>,
  b: Decoded<Block>,
): { block: Block; from: "primary" | "backup"; differed: boolean } {
  if (p.ok && b.ok) {
    const same = p.value.payload.equals(b.value.payload);
    if (b.value.version === FORMAT_VERSION && p.value.version !== FORMAT_VERSION)
      return { block: b.value, from: "backup", differed: !same };
    return { block: p.value, from: "primary", differed: !same };
  }
  if (p.ok) return { block: p.value, from: "primary", differed: true };
  if (b.ok) return { block: b.value, from: "backup", differed: true };
  throw new Error("unreachable: one copy is good here");
}
