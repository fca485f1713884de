// Reads every block of both copies and judges each pair of copies. Shared by verify, repair and
// print, which all need the whole picture rather than the daemon's fast path.
import type { Block, Decoded } from "./block.js";
import { decodeConfigRegion, mergeConfigCopies, type StoredConfig } from "./config-region.js";
import { type CopyBytes, readCopyBytes } from "./copy-bytes.js";
import { judgeCopies, type Verdict } from "./copy-choice.js";
import type { DirectDevice } from "./device.js";
import {
  CONFIG_REGIONS,
  type ConfigRegionName,
  locateSlot,
  type Region,
  type RegionName,
  slotOffset,
} from "./layout.js";
import { MAX_READ_CHUNK_BYTES, type QuorumPair } from "./pair.js";
import { decodeRegionBlock } from "./region-payload.js";

export type { Verdict } from "./copy-choice.js";

/** How the two copies of a configuration region compare: as a block does, or each damaged in a
 * different block, with a whole view to be put together from the good blocks of both. */
export type ConfigVerdict = Verdict | "both-partly-bad";

export interface SlotCheck {
  region: RegionName;
  index: number;
  slot: number;
  primary: Decoded<Block>;
  backup: Decoded<Block>;
  verdict: Verdict;
  primaryRaw: Buffer;
  backupRaw: Buffer;
}

export interface ConfigCheck {
  primary: Decoded<StoredConfig>;
  backup: Decoded<StoredConfig>;
  verdict: ConfigVerdict;
  primaryRaw: Buffer;
  backupRaw: Buffer;
  /** For both-partly-bad: the view put together, and the region's bytes to write to both. */
  merged?: { config: StoredConfig; bytes: Buffer };
}

function readOrFail(device: DirectDevice, offset: number, length: number): Promise<CopyBytes> {
  return readCopyBytes(device, offset, length, (code) => `could not be read (${code})`);
}

/** One copy of a block out of a read, judged on its envelope and its payload (region-payload.ts). */
function sliceAndDecode(
  read: CopyBytes,
  start: number,
  pair: QuorumPair,
  region: Region,
  slot: number,
): [Buffer, Decoded<Block>] {
  if (!read.ok) return [Buffer.alloc(0), { ok: false, problem: read.problem }];
  const raw = Buffer.from(read.bytes.subarray(start, start + pair.layout.blockSize));
  return [raw, decodeRegionBlock(raw, pair.layout, region, slot, pair.clusterUuid).block];
}

function judge(
  p: Decoded<{ generation: number }>,
  b: Decoded<{ generation: number }>,
  pRaw: Buffer,
  bRaw: Buffer,
): Verdict {
  return judgeCopies(p.ok ? p.value : undefined, b.ok ? b.value : undefined, () => pRaw.equals(bRaw));
}

/** Every slot outside the configuration region, both copies, in order. */
export async function* scanSlots(pair: QuorumPair): AsyncGenerator<SlotCheck> {
  const { layout } = pair;
  // The configuration regions are judged as wholes by checkConfig: one write spans their blocks.
  const perChunk = Math.max(1, Math.floor(MAX_READ_CHUNK_BYTES / layout.slotBytes));
  for (let first = 0; first < layout.totalSlots; first += perChunk) {
    const count = Math.min(perChunk, layout.totalSlots - first);
    const offset = slotOffset(layout, first);
    // The backup first: a member writes the primary first, so a write made between the two reads
    // shows as an older backup, never as an older primary, on a running cluster.
    const bBytes = await readOrFail(pair.backup, offset, count * layout.slotBytes);
    const pBytes = await readOrFail(pair.primary, offset, count * layout.slotBytes);
    for (let i = 0; i < count; i++) {
      const slot = first + i;
      if (
        CONFIG_REGIONS.some(
          (r) =>
            slot >= layout.regions[r].firstSlot &&
            slot < layout.regions[r].firstSlot + layout.regions[r].slots,
        )
      )
        continue;
      const { region, index } = locateSlot(layout, slot);
      const start = i * layout.slotBytes;
      const [primaryRaw, primary] = sliceAndDecode(pBytes, start, pair, region, slot);
      const [backupRaw, backup] = sliceAndDecode(bBytes, start, pair, region, slot);
      yield {
        region: region.name,
        index,
        slot,
        primary,
        backup,
        verdict: judge(primary, backup, primaryRaw, backupRaw),
        primaryRaw,
        backupRaw,
      };
    }
  }
}

/** The configuration region of both copies, each judged as a whole. */
export async function checkConfig(
  pair: QuorumPair,
  regionName: ConfigRegionName = "config",
): Promise<ConfigCheck> {
  const { layout } = pair;
  const region = layout.regions[regionName];
  const offset = slotOffset(layout, region.firstSlot);
  const length = region.slots * layout.slotBytes;
  // The backup first, as scanSlots does.
  const bBytes = await readOrFail(pair.backup, offset, length);
  const pBytes = await readOrFail(pair.primary, offset, length);
  const decodeCopy = (read: CopyBytes): Decoded<StoredConfig> =>
    read.ok
      ? decodeConfigRegion(read.bytes, layout, pair.clusterUuid, regionName)
      : { ok: false, problem: read.problem };
  const primary = decodeCopy(pBytes);
  const backup = decodeCopy(bBytes);
  const primaryRaw = pBytes.ok ? pBytes.bytes : Buffer.alloc(0);
  const backupRaw = bBytes.ok ? bBytes.bytes : Buffer.alloc(0);
  const asGeneration = (d: Decoded<StoredConfig>): Decoded<{ generation: number }> =>
    d.ok ? { ok: true, value: { generation: d.value.view } } : d;
  const verdict = judge(asGeneration(primary), asGeneration(backup), primaryRaw, backupRaw);
  const check: ConfigCheck = { primary, backup, verdict, primaryRaw, backupRaw };
  if (verdict === "both-bad" && pBytes.ok && bBytes.ok) {
    const merged = mergeConfigCopies(pBytes.bytes, bBytes.bytes, layout, pair.clusterUuid, regionName);
    if (merged.ok) return { ...check, verdict: "both-partly-bad", merged: merged.value };
  }
  return check;
}
