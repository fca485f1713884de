// Whether a copy whose block 0 is unreadable (no magic, or zeroed) is still this cluster's
// partition with a damaged header, or something else that happens to be where a copy belongs.
//
// Damage to repair: no filesystem or partition-table signature, every other block of the layout
// the good copy records blank or carrying the clumanager magic, and at least one block that
// passes its checks as this cluster's own (its UUID, its place). Anything else (another program's
// data, or a block of another cluster) may mean the wrong device was named, and is left for an
// administrator to overwrite with --force.
import { decodeBlock } from "./block.js";
import type { DirectDevice } from "./device.js";
import { isAllZero } from "./fields.js";
import { BLOCK_MAGIC } from "./format.js";
import { type Layout, slotOffset } from "./layout.js";
import { MAX_READ_CHUNK_BYTES } from "./pair.js";
import { findSignature, SIGNATURE_SCAN_BYTES } from "./signatures.js";

export type CopyEvidence =
  /** This cluster's partition: `blocks` blocks beyond block 0 pass as its own. */
  | { ours: true; blocks: number }
  /** Not shown to be ours; `foreign` says what else it holds, if anything. */
  | { ours: false; foreign?: string };

export async function copyEvidence(
  device: DirectDevice,
  layout: Layout,
  clusterUuid: Buffer,
): Promise<CopyEvidence> {
  const sector = device.sectorSize;
  const deviceBytes = device.geometry.sizeBytes - (device.geometry.sizeBytes % sector);
  const head = await device.read(0, Math.min(Math.ceil(SIGNATURE_SCAN_BYTES / sector) * sector, deviceBytes));
  const signature = findSignature(head);
  if (signature !== undefined) return { ours: false, foreign: `holds ${signature}` };
  let blocks = 0;
  const perChunk = Math.max(1, Math.floor(MAX_READ_CHUNK_BYTES / layout.slotBytes));
  // Block 0 is the damaged header itself: whatever it holds is what is being judged.
  for (let first = 1; first < layout.totalSlots; first += perChunk) {
    const count = Math.min(perChunk, layout.totalSlots - first);
    const bytes = await device.read(slotOffset(layout, first), count * layout.slotBytes);
    for (let i = 0; i < count; i++) {
      const slot = first + i;
      const raw = bytes.subarray(i * layout.slotBytes, i * layout.slotBytes + layout.blockSize);
      if (isAllZero(raw)) continue;
      if (raw.readUInt32LE(0) !== BLOCK_MAGIC)
        return { ours: false, foreign: `holds data that is not clumanager's in block ${slot}` };
      const block = decodeBlock(raw, { slot });
      if (!block.ok) continue; // a damaged block of ours
      if (!block.value.clusterUuid.equals(clusterUuid))
        return { ours: false, foreign: `holds blocks of another clumanager cluster (block ${slot})` };
      blocks++;
    }
  }
  return blocks > 0 ? { ours: true, blocks } : { ours: false };
}
