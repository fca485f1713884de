// Where on which disk a block device's bytes are, so that two paths to overlapping storage (a
// disk and one of its partitions, two names for one partition) are never taken as two copies.
import { readFileSync, realpathSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { Geometry } from "./rawio.js";

export interface Extent {
  /** The whole disk (or the file) the bytes are on. */
  disk: string;
  /** Byte range on it. */
  start: number;
  end: number;
}

const SECTOR = 512; // sysfs counts partition offsets in 512-byte units whatever the device

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The extent of a device from its geometry; a partition is resolved to its disk through sysfs. */
export function extentOf(geometry: Geometry, sysfsRoot = "/sys"): Extent {
  const whole = { disk: geometry.identity, start: 0, end: geometry.sizeBytes };
  if (!geometry.isBlockDevice) return whole;
  const id = geometry.identity.replace(/^blk:/, "");
  const sysfs = `${sysfsRoot}/dev/block/${id}`;
  const start = readNumber(`${sysfs}/start`);
  if (readNumber(`${sysfs}/partition`) === undefined || start === undefined) return whole;
  try {
    // /sys/dev/block/MAJ:MIN links to .../block/sdb/sdb1; the disk is the parent directory.
    const parent = dirname(realpathSync(sysfs));
    const diskId = readFileSync(`${parent}/dev`, "utf8").trim();
    return { disk: `blk:${diskId}`, start: start * SECTOR, end: start * SECTOR + geometry.sizeBytes };
  } catch {
    return { ...whole, disk: `${whole.disk}:${basename(sysfs)}` };
  }
}

export function overlaps(a: Extent, b: Extent): boolean {
  return a.disk === b.disk && a.start < b.end && b.start < a.end;
}
