// `cludiskutil -I`: lays down a fresh, empty pair of quorum partitions.
//
// Nothing is overwritten without a look first: a partition that holds anything this program did
// not write as empty (another cluster's state, a filesystem, a partition table, any non-zero byte
// where the layout goes) is refused unless the caller forces it.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { decodeBlock } from "./block.js";
import type { DirectDevice } from "./device.js";
import { emptyImageChunk } from "./empty-image.js";
import { PartitionError } from "./errors.js";
import { isAllZero } from "./fields.js";
import { NAME_BYTES } from "./format.js";
import type { PartitionHeader } from "./header-block.js";
import { decodeHeaderBlock } from "./header-read.js";
import { formatBytes, type Layout, layoutFor, slotOffset } from "./layout.js";
import { MAX_READ_CHUNK_BYTES, openBoth } from "./pair.js";
import { findSignature, SIGNATURE_SCAN_BYTES } from "./signatures.js";
import { wallClock } from "./wall-clock.js";

export interface InitOptions {
  clusterName: string;
  maxMembers?: number;
  maxServices?: number;
  configBytes?: number;
  /** Erase whatever the partitions hold. */
  force?: boolean;
  /** Recorded in the header; defaults to this host's name. */
  host?: string;
  /** Wall-clock time recorded in the header (for people only). */
  nowMs?: number;
  timeoutMs?: number;
}

export interface InitResult {
  header: PartitionHeader;
  clusterUuid: string;
  /** What --force erased, one sentence per partition that held something. */
  erased: string[];
}

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function checkClusterName(name: string): void {
  if (!CLUSTER_NAME.test(name) || Buffer.byteLength(name) > NAME_BYTES) {
    throw new PartitionError(
      `the cluster name "${name}" is not valid: use 1 to ${NAME_BYTES} letters, digits, '.', '_' or '-', starting with a letter or digit`,
      "invalid-option",
    );
  }
}

export function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll("-", ""), "hex");
}

export function uuidString(bytes: Buffer): string {
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function initialisePair(
  primaryPath: string,
  backupPath: string,
  options: InitOptions,
): Promise<InitResult> {
  checkClusterName(options.clusterName);
  const { primary, backup } = await openBoth(primaryPath, backupPath, {
    write: true,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  try {
    const layout = layoutFor({
      logicalSectorSize: primary.sectorSize,
      physicalSectorSize: Math.max(primary.geometry.physicalSectorSize, backup.geometry.physicalSectorSize),
      ...(options.maxMembers !== undefined ? { maxMembers: options.maxMembers } : {}),
      ...(options.maxServices !== undefined ? { maxServices: options.maxServices } : {}),
      ...(options.configBytes !== undefined ? { configBytes: options.configBytes } : {}),
    });
    for (const device of [primary, backup]) checkSize(device, layout);

    const erased: string[] = [];
    for (const device of [primary, backup]) {
      const content = await describeExistingContent(device, layout, options.clusterName);
      if (content === undefined) continue;
      if (!options.force) {
        throw new PartitionError(
          `${device.path} ${content}; cludiskutil -I will not overwrite it (use --force if that data may be destroyed)`,
          "not-empty",
        );
      }
      erased.push(`${device.path} ${content}`);
    }

    const uuid = randomUUID();
    const clusterUuid = uuidBytes(uuid);
    const header: PartitionHeader = {
      clusterName: options.clusterName,
      layout,
      initialisedAtMs: options.nowMs ?? Date.now(),
      initialisedBy: (options.host ?? hostname()).slice(0, NAME_BYTES),
    };
    for (const device of [primary, backup]) await writeImage(device, header, clusterUuid);
    return { header, clusterUuid: uuid, erased };
  } finally {
    primary.close();
    backup.close();
  }
}

function checkSize(device: DirectDevice, layout: Layout): void {
  if (device.geometry.sizeBytes >= layout.totalBytes) return;
  throw new PartitionError(
    `${device.path} is ${formatBytes(device.geometry.sizeBytes)} but the quorum partition layout needs at least ` +
      `${formatBytes(layout.totalBytes)} (${layout.totalBytes} bytes for ${layout.maxMembers} members, ` +
      `${layout.maxServices} services and ${layout.blockSize}-byte sectors); use a larger partition or fewer members`,
    "too-small",
  );
}

/**
 * Writes the empty image. The header goes last, so a partition whose initialisation was cut
 * short has no valid header and can never be mistaken for a ready one.
 */
async function writeImage(device: DirectDevice, header: PartitionHeader, clusterUuid: Buffer): Promise<void> {
  const { layout } = header;
  const perChunk = Math.max(1, Math.floor(MAX_READ_CHUNK_BYTES / layout.slotBytes));
  for (let first = 1; first < layout.totalSlots; first += perChunk) {
    const count = Math.min(perChunk, layout.totalSlots - first);
    await device.write(slotOffset(layout, first), emptyImageChunk(header, clusterUuid, first, count));
  }
  const head = emptyImageChunk(header, clusterUuid, 0, 1);
  await device.write(0, head);
  const back = await device.read(0, layout.slotBytes);
  if (!back.equals(head)) {
    throw new PartitionError(
      `${device.path} did not return the header just written to it; check the device`,
      "bad-header",
    );
  }
}

/**
 * Says what `device` holds that -I would destroy, or undefined if it holds nothing worth keeping:
 * all zeros where the layout goes, or an unused partition of the same cluster name.
 */
export async function describeExistingContent(
  device: DirectDevice,
  layout: Layout,
  clusterName: string,
): Promise<string | undefined> {
  const deviceBytes = device.geometry.sizeBytes - (device.geometry.sizeBytes % device.sectorSize);
  const wanted = roundUp(Math.max(SIGNATURE_SCAN_BYTES, layout.slotBytes), device.sectorSize);
  const head = await device.read(0, Math.min(wanted, deviceBytes));
  const existing = decodeHeaderBlock(head, device.sectorSize);
  if (existing.ok) {
    const h = existing.header;
    const when = wallClock(h.initialisedAtMs);
    const owner = `holds the quorum partition of cluster "${h.clusterName}" (initialised by ${h.initialisedBy} at ${when})`;
    if (h.clusterName !== clusterName) return owner;
    const used = await firstUsedSlot(device, h.layout, existing.block.clusterUuid);
    return used === undefined ? undefined : `${owner}, with cluster state written since (${used})`;
  }
  if (existing.fault === "old-format")
    return "holds a clumanager quorum partition in an earlier format (cludiskutil --upgrade keeps its state)";
  if (existing.fault === "damaged" || existing.fault === "sector-size") {
    return `holds a clumanager quorum partition header that cannot be used (${existing.problem})`;
  }
  const signature = findSignature(head);
  if (signature !== undefined) return `holds ${signature}`;
  const perChunk = MAX_READ_CHUNK_BYTES;
  for (let offset = 0; offset < layout.totalBytes; offset += perChunk) {
    const bytes = await device.read(offset, Math.min(perChunk, layout.totalBytes - offset));
    if (!isAllZero(bytes)) {
      const at = offset + bytes.findIndex((b) => b !== 0);
      return `holds data (a non-zero byte at offset ${at}, in block ${Math.floor(at / device.sectorSize)})`;
    }
  }
  return undefined;
}

/** The first block of an existing partition that is not in its initial state, described. */
async function firstUsedSlot(
  device: DirectDevice,
  layout: Layout,
  clusterUuid: Buffer,
): Promise<string | undefined> {
  const perChunk = Math.max(1, Math.floor(MAX_READ_CHUNK_BYTES / layout.slotBytes));
  for (let first = 1; first < layout.totalSlots; first += perChunk) {
    const count = Math.min(perChunk, layout.totalSlots - first);
    const bytes = await device.read(slotOffset(layout, first), count * layout.slotBytes);
    for (let i = 0; i < count; i++) {
      const raw = bytes.subarray(i * layout.slotBytes, i * layout.slotBytes + layout.blockSize);
      const decoded = decodeBlock(raw, { slot: first + i, clusterUuid });
      if (!decoded.ok) return `block ${first + i}: ${decoded.problem}`;
      // The scratch block only records `cludiskutil -t` runs: no cluster state lives there.
      if (first + i === layout.regions.scratch.firstSlot) continue;
      if (decoded.value.generation !== 0)
        return `block ${first + i} has generation ${decoded.value.generation}`;
    }
  }
  return undefined;
}

function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}
