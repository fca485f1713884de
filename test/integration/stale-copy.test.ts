// Two good copies that disagree: a backup rolled back to an earlier image, a write that reached
// one copy only, two copies that cannot be ordered. On files on ext4, damage done with dd from
// outside, as a resynced mirror or a restored snapshot would do it.
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeBlock } from "../../src/disk/block.js";
import { BothCopiesBadError, PartitionError } from "../../src/disk/errors.js";
import { BlockType } from "../../src/disk/format.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { slotOffset } from "../../src/disk/layout.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { emptyService, NO_OWNER, ServiceState } from "../../src/disk/service-block.js";
import { emptyStatus, encodeStatus, MemberState } from "../../src/disk/status-block.js";
import { repairPair, verifyExitCode, verifyPair } from "../../src/disk/verify.js";
import { ddRead, ddWrite, scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
let n = 0;

async function target(): Promise<{ primary: string; backup: string }> {
  n++;
  const primary = zeroFile(join(dir.path, `primary-${n}.img`), 2 << 20);
  const backup = zeroFile(join(dir.path, `backup-${n}.img`), 2 << 20);
  await initialisePair(primary, backup, { clusterName: "octane", maxMembers: 4, maxServices: 4 });
  return { primary, backup };
}

/** A member's daemon: one process, one pair, for one life. */
function open(t: { primary: string; backup: string }, member?: number) {
  return QuorumPair.open(t.primary, t.backup, { write: true, ...(member !== undefined ? { member } : {}) });
}

const up = (member: number, incarnation: number, heartbeat: number) => ({
  ...emptyStatus(member),
  state: MemberState.Up,
  incarnation,
  heartbeat,
  nodeName: `m${member}`,
});

const service = (owner: number, ownerIncarnation: number) => ({
  ...emptyService(0),
  name: "nfs",
  state: ServiceState.Running,
  owner,
  ownerIncarnation,
});

function offset(pair: QuorumPair, region: "status" | "service" | "config", index: number): number {
  return slotOffset(pair.layout, pair.layout.regions[region].firstSlot + index);
}

describe("a stale copy never wins", () => {
  it("names a backup rolled back to an earlier life stale, reads past it, and repair restores it", async () => {
    const t = await target();
    // The first life of member 0 beats 28 times and writes its service 8 times.
    const first = await open(t, 0);
    for (let beat = 1; beat <= 28; beat++) await first.heartbeat(up(0, 1, beat));
    for (let i = 0; i < 8; i++) await first.writeService(service(0, 1));
    first.close();
    const image = join(dir.path, "backup-image");
    copyFileSync(t.backup, image);
    // Its next life beats only 6 times; member 1 takes the service over, in a process of its own.
    const second = await open(t, 0);
    for (let beat = 1; beat <= 6; beat++) await second.heartbeat(up(0, 2, beat));
    second.close();
    const other = await open(t, 1);
    await other.writeService(service(1, 4));
    other.close();
    copyFileSync(image, t.backup); // the mirror comes back with the old data

    const tool = await open(t);
    try {
      const report = await verifyPair(tool);
      expect(report.damage).toEqual([
        expect.objectContaining({ region: "status", index: 0, verdict: "backup-stale", source: "primary" }),
        expect.objectContaining({ region: "service", index: 0, verdict: "backup-stale", source: "primary" }),
      ]);
      // A reader takes the current life and owner, not the old ones.
      const reader = await QuorumPair.open(t.primary, t.backup, { write: false, member: 1 });
      expect((await reader.readStatusRegion()).records[0]).toMatchObject({ incarnation: 2, heartbeat: 6 });
      expect((await reader.readServices()).records[0]).toMatchObject({ owner: 1, ownerIncarnation: 4 });
      reader.close();
      const repair = await repairPair(tool);
      expect(repair.repaired.map((d) => d.source)).toEqual(["primary", "primary"]);
      expect(verifyExitCode(repair.after)).toBe(0);
      expect(readFileSync(t.backup).equals(readFileSync(t.primary))).toBe(true);
    } finally {
      tool.close();
    }
  });

  it("believes a write that reached only the backup, and the next writer goes above it", async () => {
    const t = await target();
    const a = await open(t, 0);
    await a.writeService(service(0, 1));
    const at = offset(a, "service", 0);
    const before = ddRead(t.primary, at, 512);
    await a.writeService(service(0, 1));
    await a.writeService({ ...service(0, 1), state: ServiceState.Stopped, owner: NO_OWNER });
    a.close();
    ddWrite(t.primary, at, before); // the primary lost the last two writes
    const b = await open(t, 1);
    try {
      expect((await b.readServices()).records[0]).toMatchObject({ state: ServiceState.Stopped });
      await b.writeService(service(1, 2));
      const report = await verifyPair(b);
      expect(report.damage).toEqual([]);
      expect((await b.readBlocks("service", 0, 1)).records[0]?.generation).toBe(4);
    } finally {
      b.close();
    }
  });

  it("believes neither of two good copies with one generation and different contents, and does not repair them", async () => {
    const t = await target();
    const pair = await open(t);
    try {
      await pair.writeStatus(up(2, 1, 5));
      const slot = pair.layout.regions.status.firstSlot + 2;
      const generation = (await pair.readBlocks("status", 2, 1)).records[0]!.generation;
      const rival = encodeBlock(
        {
          type: BlockType.Status,
          slot,
          generation,
          clusterUuid: pair.clusterUuid,
          payload: encodeStatus(up(2, 9, 5)),
        },
        512,
      );
      ddWrite(t.backup, offset(pair, "status", 2), rival);
      const err = await pair.readStatusRegion().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BothCopiesBadError);
      expect((err as Error).message).toMatch(/status block 2 .*same generation but hold different contents/);
      const report = await verifyPair(pair);
      expect(report.damage).toEqual([
        expect.objectContaining({ region: "status", index: 2, verdict: "conflict" }),
      ]);
      expect(report.damage[0]?.source).toBeUndefined();
      expect(verifyExitCode(report)).toBe(2);
      const primaryBefore = readFileSync(t.primary);
      const repair = await repairPair(pair);
      expect(repair.repaired).toEqual([]);
      expect(readFileSync(t.primary).equals(primaryBefore)).toBe(true);
      expect(ddRead(t.backup, offset(pair, "status", 2), 512)).toEqual(rival);
    } finally {
      pair.close();
    }
  });

  it("never goes back from a version it read, nor repairs a copy from an older one", async () => {
    const t = await target();
    const writer = await open(t, 3);
    const reader = await open(t, 0);
    try {
      await writer.writeStatus(up(3, 1, 1));
      const at = offset(writer, "status", 3);
      const old = ddRead(t.primary, at, 512);
      await writer.writeStatus(up(3, 1, 2));
      expect((await reader.readStatusRegion()).records[3]?.heartbeat).toBe(2);
      // The primary goes back to the old version and the backup's copy rots.
      ddWrite(t.primary, at, old);
      ddWrite(t.backup, at + 80, Buffer.from("rot"));
      const again = await reader.readStatusRegion();
      expect(again.records[3]?.heartbeat).toBe(2);
      expect(again.repairs).toEqual([expect.objectContaining({ index: 3, repaired: "backup", done: false })]);
      expect(again.repairs[0]?.deferred).toMatch(/older than generation 2 read before/);
    } finally {
      writer.close();
      reader.close();
    }
  });

  it("rebuilds a configuration damaged in a different block on each copy from the good blocks of both", async () => {
    const t = await target();
    const pair = await open(t);
    try {
      const text = `[cluster]\nname = octane\n${"# padding\n".repeat(150)}`;
      await pair.writeConfig({ view: 1, text });
      ddWrite(t.primary, offset(pair, "config", 0) + 70, Buffer.from("rot"));
      ddWrite(t.backup, offset(pair, "config", 2) + 70, Buffer.from("rot"));
      const read = await pair.readConfig();
      expect(read.config).toEqual({ view: 1, text });
      expect(read.repairs.map((r) => r.repaired)).toEqual(["primary", "backup"]);
      const report = await verifyPair(pair);
      expect(report.damage).toEqual([
        expect.objectContaining({ region: "config", verdict: "both-partly-bad", source: "both" }),
      ]);
      const repair = await repairPair(pair);
      expect(verifyExitCode(repair.after)).toBe(0);
      expect((await pair.readConfig()).config).toEqual({ view: 1, text });
    } finally {
      pair.close();
    }
  });

  it("never stores two texts under one view, even after an interrupted write", async () => {
    const t = await target();
    const pair = await open(t);
    try {
      await pair.writeConfig({ view: 1, text: "one" });
      // View 2 reached the primary's first block only: the partitions still read as view 1.
      const v2 = pair.encodeConfigRegion({ view: 2, text: "two" });
      ddWrite(t.primary, offset(pair, "config", 0), v2.subarray(0, 512));
      expect((await pair.readConfig()).config.view).toBe(1);
      expect(await pair.nextConfigView()).toBe(3);
      const err = await pair.writeConfig({ view: 2, text: "another two" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PartitionError);
      expect((err as Error).message).toBe(
        "view 2 cannot be stored: the partitions already hold view 2; nothing was written",
      );
    } finally {
      pair.close();
    }
  });
});
