// What a copy without a usable header holds that rebuilding it would destroy. Blocks that are all
// zero or carry the clumanager magic (damaged or not) are ours to rewrite; anything else, or a
// filesystem or partition-table signature, may mean the wrong device was named.
import type { DirectDevice } from "./device.js";
import { isAllZero } from "./fields.js";
import { BLOCK_MAGIC } from "./format.js";
import { type Layout, slotOffset } from "./layout.js";
import { MAX_READ_CHUNK_BYTES } from "./pair.js";
import { findSignature, SIGNATURE_SCAN_BYTES } from "./signatures.js";

export async function foreignContent(device: DirectDevice, layout: Layout): Promise<string | undefined> {
  const sector = device.sectorSize;
  const deviceBytes = device.geometry.sizeBytes - (device.geometry.sizeBytes % sector);
  const head = await device.read(0, Math.min(Math.ceil(SIGNATURE_SCAN_BYTES / sector) * sector, deviceBytes));
  const signature = findSignature(head);
  if (signature !== undefined) return `holds ${signature}`;
  const perChunk = Math.max(1, Math.floor(MAX_READ_CHUNK_BYTES / layout.slotBytes));
  for (let first = 0; first < layout.totalSlots; first += perChunk) {
    const count = Math.min(perChunk, layout.totalSlots - first);
    const bytes = await device.read(slotOffset(layout, first), count * layout.slotBytes);
    for (let i = 0; i < count; i++) {
      const raw = bytes.subarray(i * layout.slotBytes, i * layout.slotBytes + layout.blockSize);
      if (!isAllZero(raw) && raw.readUInt32LE(0) !== BLOCK_MAGIC) {
        return `holds data that is not clumanager's in block ${first + i}`;
      }
    }
  }
  return undefined;
}
