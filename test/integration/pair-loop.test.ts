// Real block devices: loop devices with 512- and 4096-byte logical sectors, write failures from
// blockdev --setro on a live device, and a device whose sector size changes under the partition.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DirectDevice } from "../../src/disk/device.js";
import { DiskWriteError, PartitionError } from "../../src/disk/errors.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { MemberState } from "../../src/disk/status-block.js";
import { verifyPair } from "../../src/disk/verify.js";
import { attachLoop, detachAll, detachLoop, setReadOnly } from "../helpers/loop.js";
import { needs } from "../helpers/needs.js";
import { pairSuite } from "../helpers/pair-suite.js";
import { ddRead, ddWrite, scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => {
  detachAll();
  dir.remove();
});
let n = 0;

function loopPair(
  sectorSize: number,
  bytes = 4 << 20,
): { primary: string; backup: string; sectorSize: number } {
  n++;
  return {
    primary: attachLoop(zeroFile(join(dir.path, `p${n}.img`), bytes), sectorSize),
    backup: attachLoop(zeroFile(join(dir.path, `b${n}.img`), bytes), sectorSize),
    sectorSize,
  };
}

const sample = {
  member: 0,
  state: MemberState.Up,
  incarnation: 1,
  heartbeat: 1,
  wallClockMs: 0,
  nodeName: "clu1",
  configView: 0,
  services: [],
};

needs({ root: true, tools: ["losetup", "blockdev"] })("quorum partitions on loop devices", () => {
  describe("512-byte sectors", () => pairSuite(() => loopPair(512)));
  describe("4096-byte sectors", () => pairSuite(() => loopPair(4096, 24 << 20)));

  it("reads the geometry of a block device with the block ioctls", async () => {
    const { primary } = loopPair(4096);
    const dev = await DirectDevice.open(primary, { write: false });
    try {
      expect(dev.geometry).toMatchObject({
        isBlockDevice: true,
        logicalSectorSize: 4096,
        sizeBytes: 4 << 20,
      });
      expect(dev.geometry.identity).toMatch(/^blk:7:\d+$/);
    } finally {
      dev.close();
    }
  });

  it("refuses a 512-byte transfer on a 4096-byte-sector device with a clear error", async () => {
    const { primary } = loopPair(4096);
    const dev = await DirectDevice.open(primary, { write: true });
    try {
      await expect(dev.read(0, 512)).rejects.toMatchObject({
        code: "ERR_RAWIO_ALIGNMENT",
        message: expect.stringMatching(
          /512 bytes at offset 0 is not aligned to the device's 4096-byte sectors/,
        ),
      });
      await expect(dev.write(512, Buffer.alloc(4096))).rejects.toMatchObject({ code: "ERR_RAWIO_ALIGNMENT" });
      await expect(dev.write(4096, Buffer.alloc(4096, 3))).resolves.toBeUndefined();
    } finally {
      dev.close();
    }
  });

  it("fails a write to a primary made read-only under it, names the copy, and leaves the backup alone", async () => {
    const target = loopPair(512);
    await initialisePair(target.primary, target.backup, { clusterName: "octane", maxMembers: 4 });
    const pair = await QuorumPair.open(target.primary, target.backup, { write: true });
    try {
      await pair.writeStatus(sample);
      const at = pair.layout.regions.status.firstSlot * pair.layout.slotBytes;
      const backupBefore = ddRead(target.backup, at, 512);
      setReadOnly(target.primary, true);
      const err = await pair.writeStatus({ ...sample, heartbeat: 2 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DiskWriteError);
      expect(err).toMatchObject({
        copy: "primary",
        failure: { code: expect.stringMatching(/^(EPERM|EROFS)$/) },
      });
      expect((err as Error).message).toMatch(
        new RegExp(`primary ${target.primary} failed: .*the backup was not written`),
      );
      expect(ddRead(target.backup, at, 512)).toEqual(backupBefore);
      // Reads still work and still show the last complete write.
      expect((await pair.readStatusRegion()).records[0]?.heartbeat).toBe(1);
    } finally {
      setReadOnly(target.primary, false);
      pair.close();
    }
  });

  it("fails a heartbeat whose primary write fails, before anything reaches the backup", async () => {
    const target = loopPair(512);
    await initialisePair(target.primary, target.backup, { clusterName: "octane", maxMembers: 4 });
    const pair = await QuorumPair.open(target.primary, target.backup, { write: true });
    try {
      await pair.heartbeat(sample);
      setReadOnly(target.primary, true);
      const err = await pair.heartbeat({ ...sample, heartbeat: 2 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DiskWriteError);
      expect(err).toMatchObject({ copy: "primary" });
      setReadOnly(target.primary, false);
      // Both copies still hold heartbeat 1: nothing was half-reported as written.
      expect((await verifyPair(pair)).damage).toEqual([]);
      expect((await pair.readStatusRegion()).records[0]?.heartbeat).toBe(1);
      setReadOnly(target.backup, true);
      await expect(pair.heartbeat({ ...sample, heartbeat: 3 })).rejects.toMatchObject({ copy: "backup" });
    } finally {
      setReadOnly(target.primary, false);
      setReadOnly(target.backup, false);
      pair.close();
    }
  });

  it("reports a heartbeat's read repairs on the error when its backup write fails", async () => {
    const target = loopPair(512);
    await initialisePair(target.primary, target.backup, { clusterName: "octane", maxMembers: 4 });
    const pair = await QuorumPair.open(target.primary, target.backup, { write: true });
    try {
      ddWrite(target.primary, (pair.layout.regions.status.firstSlot + 2) * 512 + 80, Buffer.from("rot"));
      setReadOnly(target.backup, true);
      const err = await pair.heartbeat(sample).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DiskWriteError);
      expect((err as DiskWriteError).repairs).toEqual([
        expect.objectContaining({ region: "status", index: 2, done: true }),
      ]);
    } finally {
      setReadOnly(target.backup, false);
      pair.close();
    }
  });

  it("fails a write to a backup made read-only under it, naming the backup", async () => {
    const target = loopPair(512);
    await initialisePair(target.primary, target.backup, { clusterName: "octane", maxMembers: 4 });
    const pair = await QuorumPair.open(target.primary, target.backup, { write: true });
    try {
      setReadOnly(target.backup, true);
      const err = await pair.writeStatus(sample).catch((e: unknown) => e);
      expect(err).toMatchObject({
        copy: "backup",
        failure: { code: expect.stringMatching(/^(EPERM|EROFS)$/) },
      });
    } finally {
      setReadOnly(target.backup, false);
      pair.close();
    }
  });

  it("refuses a partition whose device now reports a different sector size", async () => {
    n++;
    const files = [
      zeroFile(join(dir.path, `sp${n}.img`), 8 << 20),
      zeroFile(join(dir.path, `sb${n}.img`), 8 << 20),
    ];
    const [p512, b512] = files.map((f) => attachLoop(f, 512));
    await initialisePair(p512!, b512!, { clusterName: "octane" });
    detachLoop(p512!);
    detachLoop(b512!);
    const [p4k, b4k] = files.map((f) => attachLoop(f, 4096));
    const err = await QuorumPair.open(p4k!, b4k!, { write: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartitionError);
    expect(err).toMatchObject({ reason: "sector-size-changed" });
    expect((err as Error).message).toMatch(
      /initialised with 512-byte sectors but the device now reports 4096-byte sectors/,
    );
  });

  it("refuses a primary and backup with different sector sizes", async () => {
    const a = loopPair(512);
    const b = loopPair(4096);
    await expect(initialisePair(a.primary, b.backup, { clusterName: "octane" })).rejects.toMatchObject({
      reason: "mismatch",
    });
  });
});
