// Reading block 0 of a device: the header that says whose partition it is and how it is laid out.
import { type Block, decodeBlock } from "./block.js";
import type { DirectDevice } from "./device.js";
import { isAllZero } from "./fields.js";
import {
  BLOCK_MAGIC,
  BlockType,
  FORMAT_VERSION,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  UPGRADABLE_FORMAT_VERSION,
} from "./format.js";
import { decodeHeader, type PartitionHeader } from "./header-block.js";

/** Why block 0 is not a usable header: damaged (ours, repairable from the other copy), empty
 * (never initialised), foreign (someone else's data), written for a different sector size, or in
 * the earlier format that cludiskutil --upgrade rewrites; or too small to hold even block 0. */
export type HeaderFault = "damaged" | "empty" | "foreign" | "sector-size" | "old-format" | "too-small";

export type HeaderRead =
  | { ok: true; header: PartitionHeader; block: Block; raw: Buffer }
  | {
      ok: false;
      fault: HeaderFault;
      problem: string;
      raw: Buffer /** too-small: the size */;
      sizeBytes?: number;
    };

export async function readHeader(
  device: DirectDevice,
  versions: readonly number[] = [FORMAT_VERSION],
): Promise<HeaderRead> {
  if (device.geometry.sizeBytes < device.sectorSize) {
    return {
      ok: false,
      fault: "too-small",
      problem: `is ${device.geometry.sizeBytes} bytes, smaller than one ${device.sectorSize}-byte block`,
      raw: Buffer.alloc(0),
      sizeBytes: device.geometry.sizeBytes,
    };
  }
  // Read the largest block size, so a header written for another sector size is recognised as such.
  const span = device.geometry.sizeBytes >= MAX_BLOCK_SIZE ? MAX_BLOCK_SIZE : device.sectorSize;
  const head = await device.read(0, Math.max(span, device.sectorSize));
  return decodeHeaderBlock(head, device.sectorSize, versions);
}

/** Decodes the header from the first bytes of a device (at least one sector of it), in one of
 * the format `versions` (this program's own unless the upgrade asks). */
export function decodeHeaderBlock(
  head: Buffer,
  deviceSectorSize: number,
  versions: readonly number[] = [FORMAT_VERSION],
): HeaderRead {
  const raw = Buffer.from(head.subarray(0, deviceSectorSize));
  const decoded = decodeBlock(raw, { type: BlockType.Header, slot: 0, versions });
  if (!decoded.ok) {
    if (isAllZero(raw)) return { ok: false, fault: "empty", problem: decoded.problem, raw };
    if (decodeBlock(raw, { type: BlockType.Header, slot: 0, versions: [UPGRADABLE_FORMAT_VERSION] }).ok)
      return { ok: false, fault: "old-format", problem: decoded.problem, raw };
    const ours = raw.readUInt32LE(0) === BLOCK_MAGIC;
    if (ours) {
      for (let size = MIN_BLOCK_SIZE; size <= Math.min(MAX_BLOCK_SIZE, head.length); size *= 2) {
        if (size === deviceSectorSize) continue;
        const other = decodeBlock(head.subarray(0, size), { type: BlockType.Header, slot: 0, versions });
        if (other.ok) {
          return {
            ok: false,
            fault: "sector-size",
            problem: `was initialised with ${size}-byte sectors but the device now reports ${deviceSectorSize}-byte sectors`,
            raw,
          };
        }
      }
    }
    return { ok: false, fault: ours ? "damaged" : "foreign", problem: decoded.problem, raw };
  }
  const header = decodeHeader(decoded.value.payload);
  if (!header.ok) return { ok: false, fault: "damaged", problem: header.problem, raw };
  if (header.value.layout.blockSize !== deviceSectorSize) {
    return {
      ok: false,
      fault: "sector-size",
      problem:
        `was initialised with ${header.value.layout.blockSize}-byte sectors but the device now reports ` +
        `${deviceSectorSize}-byte sectors`,
      raw,
    };
  }
  return { ok: true, header: header.value, block: decoded.value, raw };
}
