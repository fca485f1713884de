// The behaviour of the primary/backup pair, as one suite that runs on files on ext4 and on loop
// devices of both sector sizes. Damage is done from outside, with dd, as a failing disk or a
// careless administrator would do it.
import { expect, it, vi } from "vitest";
import { encodeBlock } from "../../src/disk/block.js";
import { BothCopiesBadError, DiskIoError } from "../../src/disk/errors.js";
import { BlockType } from "../../src/disk/format.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { mailboxIndex, ownerOf, slotOffset } from "../../src/disk/layout.js";
import { MailKind } from "../../src/disk/mailbox-block.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { emptyService, ServiceState } from "../../src/disk/service-block.js";
import { encodeStatus, MemberState, type MemberStatus } from "../../src/disk/status-block.js";
import { repairPair, verifyExitCode, verifyPair } from "../../src/disk/verify.js";
import { ddRead, ddWrite } from "./scratch.js";

export interface PairTarget {
  primary: string;
  backup: string;
  sectorSize: number;
}

function status(member: number, heartbeat: number): MemberStatus {
  return {
    member,
    state: MemberState.Up,
    incarnation: 77,
    heartbeat,
    wallClockMs: 1_700_000_000_000,
    nodeName: `clu${member}`,
    configView: 3,
    services: [1, 5],
  };
}

/** Opens a freshly initialised pair for writing. */
async function fresh(target: PairTarget, members = 8): Promise<QuorumPair> {
  await initialisePair(target.primary, target.backup, {
    clusterName: "octane",
    maxMembers: members,
    force: true,
  });
  return QuorumPair.open(target.primary, target.backup, { write: true });
}

/** Offset of a block of a region, as dd sees it. */
function blockOffset(
  pair: QuorumPair,
  region: "status" | "mailbox" | "config" | "header" | "service",
  index: number,
): number {
  return slotOffset(pair.layout, pair.layout.regions[region].firstSlot + index);
}

function ownerOfMailbox(pair: QuorumPair, to: number, from: number): number | undefined {
  return ownerOf(pair.layout, "mailbox", mailboxIndex(pair.layout, to, from));
}

export function pairSuite(makeTarget: () => PairTarget): void {
  it("uses the device's sector size as the block size and records it in the header", async () => {
    const target = makeTarget();
    const pair = await fresh(target);
    try {
      expect(pair.layout.blockSize).toBe(target.sectorSize);
      expect(pair.header.clusterName).toBe("octane");
      const { records } = await pair.readStatusRegion();
      expect(records).toHaveLength(8);
      expect(records.every((r) => r.state === MemberState.None)).toBe(true);
    } finally {
      pair.close();
    }
  });

  it("writes both copies and reads a cycle as one read of each copy of the status region and of the mailbox row", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(3, 41));
      await pair.writeMail({
        to: 2,
        from: 3,
        kind: MailKind.Fenced,
        sequence: 1,
        incarnation: 9,
        wallClockMs: 5,
        argument: Buffer.from("x"),
      });
      const primaryRead = vi.spyOn(pair.primary, "read");
      const backupRead = vi.spyOn(pair.backup, "read");
      const statuses = await pair.readStatusRegion();
      const row = await pair.readMailboxRow(2);
      expect(primaryRead).toHaveBeenCalledTimes(2);
      expect(primaryRead.mock.calls[0]).toEqual([blockOffset(pair, "status", 0), 8 * pair.layout.slotBytes]);
      expect(primaryRead.mock.calls[1]).toEqual([
        blockOffset(pair, "mailbox", 2 * 8),
        8 * pair.layout.slotBytes,
      ]);
      expect(backupRead.mock.calls).toEqual(primaryRead.mock.calls);
      expect(statuses.records[3]).toEqual(status(3, 41));
      expect(statuses.repairs).toEqual([]);
      expect(row.records[3]).toMatchObject({ to: 2, from: 3, kind: MailKind.Fenced, incarnation: 9 });
      expect(row.records[1]).toMatchObject({ to: 2, from: 1, kind: MailKind.Empty });
      // The backup holds the same bytes as the primary.
      const at = blockOffset(pair, "status", 3);
      expect(ddRead(pair.backup.path, at, pair.layout.blockSize)).toEqual(
        ddRead(pair.primary.path, at, pair.layout.blockSize),
      );
    } finally {
      pair.close();
    }
  });

  it("runs a heartbeat: both copies written, and the reads see the primary write they follow", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeMail({
        to: 4,
        from: 0,
        kind: MailKind.Fenced,
        sequence: 3,
        incarnation: 77,
        wallClockMs: 0,
        argument: Buffer.alloc(0),
      });
      for (let beat = 1; beat <= 20; beat++) {
        const result = await pair.heartbeat(status(4, beat));
        expect(result.statuses[4]).toEqual(status(4, beat));
        expect(result.mail[0]).toMatchObject({ kind: MailKind.Fenced, incarnation: 77, sequence: 3 });
        expect(result.repairs).toEqual([]);
      }
      const at = blockOffset(pair, "status", 4);
      expect(ddRead(pair.backup.path, at, pair.layout.blockSize)).toEqual(
        ddRead(pair.primary.path, at, pair.layout.blockSize),
      );
      expect((await verifyPair(pair)).damage).toEqual([]);
    } finally {
      pair.close();
    }
  });

  it("does not serve a cached decode once the bytes on disk change", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(2, 1));
      expect((await pair.readStatusRegion()).records[2]?.heartbeat).toBe(1);
      expect((await pair.readStatusRegion()).records[2]?.heartbeat).toBe(1);
      // Another member (here: dd) rewrites the block behind this pair's back.
      const slot = pair.layout.regions.status.firstSlot + 2;
      const other = encodeBlock(
        {
          type: BlockType.Status,
          slot,
          generation: 9,
          clusterUuid: pair.clusterUuid,
          payload: encodeStatus(status(2, 9)),
        },
        pair.layout.blockSize,
      );
      ddWrite(pair.primary.path, slotOffset(pair.layout, slot), other);
      expect((await pair.readStatusRegion()).records[2]?.heartbeat).toBe(9);
      // And damage behind a cached block is still caught and repaired.
      ddWrite(pair.primary.path, slotOffset(pair.layout, slot) + 90, Buffer.from("xx"));
      const after = await pair.readStatusRegion();
      expect(after.repairs).toHaveLength(1);
    } finally {
      pair.close();
    }
  });

  it("repairs a corrupted primary block from the backup on read, and reports the repair", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(1, 10));
      const at = blockOffset(pair, "status", 1);
      ddWrite(pair.primary.path, at + 100, Buffer.from("bit rot"));
      const { records, repairs } = await pair.readStatusRegion();
      expect(records[1]).toEqual(status(1, 10));
      expect(repairs).toEqual([
        expect.objectContaining({
          region: "status",
          index: 1,
          repaired: "primary",
          done: true,
          generation: 1,
        }),
      ]);
      expect(repairs[0]?.problem).toMatch(/checksum mismatch/);
      expect(ddRead(pair.primary.path, at, pair.layout.blockSize)).toEqual(
        ddRead(pair.backup.path, at, pair.layout.blockSize),
      );
      expect((await pair.readStatusRegion()).repairs).toEqual([]);
    } finally {
      pair.close();
    }
  });

  it("finds a corrupted backup block with verify, and repair mends it", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(2, 5));
      ddWrite(pair.backup.path, blockOffset(pair, "status", 2) + 60, Buffer.from([0xff, 0xff, 0xff]));
      const before = await verifyPair(pair);
      expect(verifyExitCode(before)).toBe(1);
      expect(before.damage).toEqual([
        expect.objectContaining({ region: "status", index: 2, verdict: "backup-bad", source: "primary" }),
      ]);
      const repair = await repairPair(pair);
      expect(repair.repaired).toHaveLength(1);
      expect(verifyExitCode(repair.after)).toBe(0);
    } finally {
      pair.close();
    }
  });

  it("reports a block bad on both copies as a typed error naming the region and block", async () => {
    const pair = await fresh(makeTarget());
    try {
      for (const path of [pair.primary.path, pair.backup.path]) {
        ddWrite(path, blockOffset(pair, "status", 4) + 200, Buffer.from("scrambled"));
      }
      const err = await pair.readStatusRegion().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BothCopiesBadError);
      expect((err as BothCopiesBadError).blocks).toEqual([
        expect.objectContaining({
          region: "status",
          index: 4,
          slot: pair.layout.regions.status.firstSlot + 4,
        }),
      ]);
      expect((err as Error).message).toMatch(/status block 4 .* is damaged on both copies/);
      const report = await verifyPair(pair);
      expect(verifyExitCode(report)).toBe(2);
      const repaired = await repairPair(pair);
      expect(verifyExitCode(repaired.after)).toBe(2);
    } finally {
      pair.close();
    }
  });

  it("detects a torn write (half a new block over the old one) and repairs it to the last complete version", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(5, 1));
      const slot = pair.layout.regions.status.firstSlot + 5;
      const newer = encodeBlock(
        {
          type: BlockType.Status,
          slot,
          generation: 2,
          clusterUuid: pair.clusterUuid,
          payload: encodeStatus(status(5, 2)),
        },
        pair.layout.blockSize,
      );
      // Only the first 64 bytes of the new block reached the primary; the rest is the old block.
      ddWrite(pair.primary.path, slotOffset(pair.layout, slot), newer.subarray(0, 64));
      const { records, repairs } = await pair.readStatusRegion();
      expect(records[5]?.heartbeat).toBe(1);
      expect(repairs).toEqual([
        expect.objectContaining({ region: "status", index: 5, done: true, generation: 1 }),
      ]);
    } finally {
      pair.close();
    }
  });

  it("resolves two valid copies of different generations to the newer one", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(6, 1));
      const at = blockOffset(pair, "status", 6);
      const old = ddRead(pair.primary.path, at, pair.layout.blockSize);
      await pair.writeStatus(status(6, 2));
      ddWrite(pair.primary.path, at, old); // the primary lost its last write
      const report = await verifyPair(pair);
      expect(report.damage).toEqual([
        expect.objectContaining({
          region: "status",
          index: 6,
          verdict: "primary-stale",
          source: "backup",
          primaryGeneration: 1,
          backupGeneration: 2,
        }),
      ]);
      await repairPair(pair);
      expect((await pair.readStatusRegion()).records[6]?.heartbeat).toBe(2);
    } finally {
      pair.close();
    }
  });

  it("repairs a damaged primary header when the pair is opened", async () => {
    const target = makeTarget();
    (await fresh(target)).close();
    ddWrite(target.primary, 20, Buffer.from("xx"));
    const pair = await QuorumPair.open(target.primary, target.backup, { write: true });
    try {
      expect(pair.openRepairs).toEqual([
        expect.objectContaining({ region: "header", repaired: "primary", done: true }),
      ]);
      expect(ddRead(target.primary, 0, target.sectorSize)).toEqual(
        ddRead(target.backup, 0, target.sectorSize),
      );
    } finally {
      pair.close();
    }
  });

  it("stores the configuration, and an interrupted update falls back to the previous view", async () => {
    const pair = await fresh(makeTarget());
    try {
      const v1 = { view: 1, text: `[cluster]\nname = octane\n${"# padding\n".repeat(200)}` };
      await pair.writeConfig(v1);
      expect(await pair.readConfig()).toEqual({ config: v1, repairs: [] });
      // Half of view 2 reached the primary: its first block only.
      const v2 = pair.encodeConfigRegion({
        view: 2,
        text: `[cluster]\nname = renamed\n${"# more\n".repeat(300)}`,
      });
      const first = blockOffset(pair, "config", 0);
      ddWrite(pair.primary.path, first, v2.subarray(0, pair.layout.blockSize));
      const { config, repairs } = await pair.readConfig();
      expect(config).toEqual(v1);
      // A reader cannot tell an interrupted update from one in flight: it reports, never writes.
      expect(repairs).toEqual([
        expect.objectContaining({ region: "config", repaired: "primary", done: false }),
      ]);
      expect(repairs[0]?.problem).toMatch(/interrupted update/);
      expect(ddRead(pair.primary.path, first, pair.layout.blockSize)).toEqual(
        v2.subarray(0, pair.layout.blockSize),
      );
      // The next write mends both copies.
      const v3 = { view: 3, text: "[cluster]\nname = octane\n" };
      await pair.writeConfig(v3);
      expect(await pair.readConfig()).toEqual({ config: v3, repairs: [] });
    } finally {
      pair.close();
    }
  });

  it("reads the newer configuration when the primary holds an older one", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeConfig({ view: 1, text: "one" });
      const old = pair.encodeConfigRegion({ view: 1, text: "one" });
      await pair.writeConfig({ view: 2, text: "two" });
      ddWrite(pair.primary.path, blockOffset(pair, "config", 0), old); // the primary lost the last write
      const { config, repairs } = await pair.readConfig();
      expect(config).toEqual({ view: 2, text: "two" });
      expect(repairs).toEqual([
        expect.objectContaining({ repaired: "primary", problem: "holds the older view 1" }),
      ]);
    } finally {
      pair.close();
    }
  });

  it("a member repairs only the blocks it writes, and serves the backup's copy of the others", async () => {
    const target = makeTarget();
    (await fresh(target)).close();
    const pair = await QuorumPair.open(target.primary, target.backup, { write: true, member: 0 });
    try {
      await pair.writeStatus(status(0, 3));
      await pair.writeStatus(status(1, 4)); // standing in for member 1's own write
      for (const m of [0, 1])
        ddWrite(target.primary, blockOffset(pair, "status", m) + 80, Buffer.from("rot"));
      const damaged1 = ddRead(target.primary, blockOffset(pair, "status", 1), pair.layout.blockSize);
      const { records, repairs } = await pair.readStatusRegion();
      expect(records[0]).toEqual(status(0, 3));
      expect(records[1]).toEqual(status(1, 4));
      expect(repairs).toEqual([
        expect.objectContaining({ index: 0, done: true }),
        expect.objectContaining({
          index: 1,
          done: false,
          deferred: "member 1 writes this block and repairs it",
        }),
      ]);
      expect(ddRead(target.primary, blockOffset(pair, "status", 1), pair.layout.blockSize)).toEqual(damaged1);
      // Member 1's mailbox to member 0 is member 1's to mend too; member 0's own outgoing one is not.
      expect(ownerOfMailbox(pair, 0, 1)).toBe(1);
    } finally {
      pair.close();
    }
  });

  it("a member never repairs a service block: those change only under the disk lock", async () => {
    const target = makeTarget();
    (await fresh(target)).close();
    const pair = await QuorumPair.open(target.primary, target.backup, { write: true, member: 0 });
    try {
      await pair.writeService({ ...emptyService(3), name: "web", state: ServiceState.Stopped });
      ddWrite(target.primary, blockOffset(pair, "service", 3) + 80, Buffer.from("rot"));
      const damaged = ddRead(target.primary, blockOffset(pair, "service", 3), pair.layout.blockSize);
      const { records, repairs } = await pair.readServices();
      expect(records[3]).toMatchObject({ name: "web", state: ServiceState.Stopped });
      expect(repairs).toEqual([
        expect.objectContaining({
          index: 3,
          done: false,
          deferred: "it is rewritten by its next change, made under the disk lock",
        }),
      ]);
      expect(ddRead(target.primary, blockOffset(pair, "service", 3), pair.layout.blockSize)).toEqual(damaged);
    } finally {
      pair.close();
    }
  });

  it("leaves a damaged block alone if it was rewritten between the read and the repair", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(2, 1));
      const slot = pair.layout.regions.status.firstSlot + 2;
      ddWrite(pair.primary.path, slotOffset(pair.layout, slot) + 80, Buffer.from("rot"));
      const newer = encodeBlock(
        {
          type: BlockType.Status,
          slot,
          generation: 2,
          clusterUuid: pair.clusterUuid,
          payload: encodeStatus(status(2, 2)),
        },
        pair.layout.blockSize,
      );
      // The owner's write lands just before the repair looks again.
      const read = pair.primary.read.bind(pair.primary);
      let calls = 0;
      vi.spyOn(pair.primary, "read").mockImplementation(async (offset, length) => {
        calls++;
        if (calls === 2) ddWrite(pair.primary.path, slotOffset(pair.layout, slot), newer);
        return read(offset, length);
      });
      const { repairs } = await pair.readStatusRegion();
      expect(repairs).toEqual([expect.objectContaining({ index: 2, done: true })]);
      expect(repairs[0]?.problem).toMatch(/rewritten meanwhile, so left alone/);
      expect(ddRead(pair.primary.path, slotOffset(pair.layout, slot), pair.layout.blockSize)).toEqual(newer);
    } finally {
      pair.close();
    }
  });

  it("serves a region from the backup when the primary cannot be read at all", async () => {
    const pair = await fresh(makeTarget());
    try {
      await pair.writeStatus(status(3, 8));
      const read = pair.primary.read.bind(pair.primary);
      let failed = false;
      vi.spyOn(pair.primary, "read").mockImplementation(async (offset, length) => {
        if (!failed) {
          failed = true;
          throw new DiskIoError(
            `read of ${length} bytes at offset ${offset} on ${pair.primary.path} failed: EIO`,
            "EIO",
            pair.primary.path,
            "read",
          );
        }
        return read(offset, length);
      });
      const { records, repairs } = await pair.readStatusRegion();
      expect(records[3]).toEqual(status(3, 8));
      expect(repairs).toHaveLength(8);
      expect(repairs[0]?.problem).toMatch(/^the primary could not be read: EIO/);
    } finally {
      pair.close();
    }
  });

  it("reports the repairs it made even when the same read then fails on a block bad on both copies", async () => {
    const pair = await fresh(makeTarget());
    try {
      ddWrite(pair.primary.path, blockOffset(pair, "status", 0) + 80, Buffer.from("rot"));
      for (const path of [pair.primary.path, pair.backup.path])
        ddWrite(path, blockOffset(pair, "status", 1) + 80, Buffer.from("rot"));
      const err = await pair.readStatusRegion().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BothCopiesBadError);
      expect((err as BothCopiesBadError).repairs).toEqual([
        expect.objectContaining({ index: 0, done: true }),
      ]);
    } finally {
      pair.close();
    }
  });
}
