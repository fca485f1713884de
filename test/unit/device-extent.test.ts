// Telling a disk from its partitions. This kernel makes no partition devices for loop devices and
// the build machine's disk has none, so the sysfs lookup is checked against a tree laid out as
// /sys lays out a disk with two partitions (the real /sys is what the loop-device tests use).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extentOf, overlaps } from "../../src/disk/device-extent.js";
import type { Geometry } from "../../src/disk/rawio.js";

const root = mkdtempSync(join(tmpdir(), "sysfs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// devices/.../block/sdb is the disk (8:16); sdb1 (8:17) starts at sector 2048, sdb2 (8:18) at 10240.
const disk = join(root, "devices/pci/block/sdb");
mkdirSync(join(root, "dev/block"), { recursive: true });
mkdirSync(disk, { recursive: true });
writeFileSync(join(disk, "dev"), "8:16\n");
symlinkSync(disk, join(root, "dev/block/8:16"));
for (const [n, minor, start] of [
  [1, 17, 2048],
  [2, 18, 10240],
] as const) {
  const part = join(disk, `sdb${n}`);
  mkdirSync(part);
  writeFileSync(join(part, "dev"), `8:${minor}\n`);
  writeFileSync(join(part, "partition"), `${n}\n`);
  writeFileSync(join(part, "start"), `${start}\n`);
  symlinkSync(part, join(root, `dev/block/8:${minor}`));
}

function blk(identity: string, sizeBytes: number): Geometry {
  return {
    identity,
    sizeBytes,
    isBlockDevice: true,
    logicalSectorSize: 512,
    physicalSectorSize: 512,
    memoryAlignment: 512,
  };
}

describe("device extents", () => {
  const whole = extentOf(blk("blk:8:16", 16 << 20), root);
  const p1 = extentOf(blk("blk:8:17", 4 << 20), root);
  const p2 = extentOf(blk("blk:8:18", 4 << 20), root);

  it("resolves a partition to its disk and byte range", () => {
    expect(p1).toEqual({ disk: "blk:8:16", start: 2048 * 512, end: 2048 * 512 + (4 << 20) });
    expect(whole).toEqual({ disk: "blk:8:16", start: 0, end: 16 << 20 });
  });

  it("finds a disk and its own partition overlapping, and two partitions apart", () => {
    expect(overlaps(whole, p1)).toBe(true);
    expect(overlaps(p1, p2)).toBe(false);
    expect(overlaps(p1, p1)).toBe(true);
  });

  it("treats files by inode and never as overlapping another file", () => {
    const file = (identity: string) => ({ ...blk(identity, 1 << 20), isBlockDevice: false });
    expect(overlaps(extentOf(file("file:8:1:12"), root), extentOf(file("file:8:1:13"), root))).toBe(false);
    expect(overlaps(extentOf(file("file:8:1:12"), root), extentOf(file("file:8:1:12"), root))).toBe(true);
  });
});
