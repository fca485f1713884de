// `cludiskutil -t`: proves each partition can be read and written with direct I/O, using the
// scratch block that nothing else reads, so a running cluster is not disturbed.
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { decodeBlock, encodeBlock } from "./block.js";
import { DirectDevice } from "./device.js";
import { extentOf, overlaps } from "./device-extent.js";
import { type Copy, DiskIoError, errorMessage, PartitionError } from "./errors.js";
import { readHeader } from "./header-read.js";
import { slotOffset } from "./layout.js";
import { encodeScratch, newScratch } from "./scratch-block.js";

export interface CopyAccess {
  copy: Copy;
  path: string;
  ok: boolean;
  sectorSize?: number;
  readMs?: number;
  writeMs?: number;
  readBackMs?: number;
  error?: string;
  /** The errno name, when the partition could not be opened or a transfer failed. */
  code?: string;
  /** The partition holds no usable header (uninitialised, foreign, or another sector size). */
  unusable?: boolean;
}

export interface AccessOptions {
  timeoutMs?: number;
  host?: string;
}

/**
 * Reads the scratch block of both copies, then writes one record with one generation to each and
 * reads it back, so the two copies agree afterwards. One copy failing does not stop the other.
 */
export async function testAccess(
  primaryPath: string,
  backupPath: string,
  options: AccessOptions = {},
): Promise<CopyAccess[]> {
  const record = encodeScratch(newScratch((options.host ?? hostname()).slice(0, 64), Date.now()));
  const copies = [
    await prepare("primary", primaryPath, options),
    await prepare("backup", backupPath, options),
  ];
  try {
    // The checks every other mode makes, before anything is written: two partitions, one cluster.
    const [p, b] = copies as [Prepared, Prepared];
    if (
      p.device !== undefined &&
      b.device !== undefined &&
      overlaps(extentOf(p.device.geometry), extentOf(b.device.geometry))
    ) {
      throw new PartitionError(
        `the primary ${primaryPath} and the backup ${backupPath} are the same device or overlap on one disk; nothing was written`,
        "same-device",
      );
    }
    if (
      p.target !== undefined &&
      b.target !== undefined &&
      !p.target.clusterUuid.equals(b.target.clusterUuid)
    ) {
      throw new PartitionError(
        `the primary ${primaryPath} and the backup ${backupPath} belong to different clusters; nothing was written`,
        "mismatch",
      );
    }
    const generation = Math.max(...copies.map((c) => c.previousGeneration ?? 0)) + 1;
    for (const c of copies) if (c.result.error === undefined) await writeAndReadBack(c, record, generation);
    return copies.map((c) => c.result);
  } finally {
    for (const c of copies) c.device?.close();
  }
}

interface Prepared {
  result: CopyAccess;
  device?: DirectDevice;
  target?: { slot: number; offset: number; blockSize: number; type: number; clusterUuid: Buffer };
  previousGeneration?: number;
}

async function prepare(copy: Copy, path: string, options: AccessOptions): Promise<Prepared> {
  const prepared: Prepared = { result: { copy, path, ok: false } };
  try {
    const device = await DirectDevice.open(path, {
      write: true,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    prepared.device = device;
    prepared.result.sectorSize = device.sectorSize;
    const head = await readHeader(device);
    if (!head.ok) {
      prepared.result.error = `${path} has no usable quorum partition header (${head.problem}); initialise it with cludiskutil -I`;
      prepared.result.unusable = true;
      return prepared;
    }
    const { layout } = head.header;
    const slot = layout.regions.scratch.firstSlot;
    const offset = slotOffset(layout, slot);
    const t = performance.now();
    const before = await device.read(offset, layout.blockSize);
    prepared.result.readMs = performance.now() - t;
    const previous = decodeBlock(before, { slot });
    if (previous.ok) prepared.previousGeneration = previous.value.generation;
    prepared.target = {
      slot,
      offset,
      blockSize: layout.blockSize,
      type: layout.regions.scratch.type,
      clusterUuid: head.block.clusterUuid,
    };
  } catch (err) {
    prepared.result.error = errorMessage(err);
    if (err instanceof DiskIoError) prepared.result.code = err.code;
  }
  return prepared;
}

async function writeAndReadBack(c: Prepared, payload: Buffer, generation: number): Promise<void> {
  const { device, target, result } = c;
  if (device === undefined || target === undefined) return;
  try {
    const data = encodeBlock(
      { type: target.type, slot: target.slot, generation, clusterUuid: target.clusterUuid, payload },
      target.blockSize,
    );
    let t = performance.now();
    await device.write(target.offset, data);
    result.writeMs = performance.now() - t;
    t = performance.now();
    const after = await device.read(target.offset, target.blockSize);
    result.readBackMs = performance.now() - t;
    if (!after.equals(data)) {
      result.error = `${result.path} returned different bytes than were written to it; the device is not reliable`;
      return;
    }
    result.ok = true;
  } catch (err) {
    result.error = errorMessage(err);
    if (err instanceof DiskIoError) result.code = err.code;
  }
}
