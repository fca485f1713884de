// The disk lock between members, on real partition files: never two holders at once, and a slot
// stops counting only when the life it names is over, never for standing still.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LockTimeoutError, withDiskLock } from "../../src/disk/bakery.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { emptyLock, type LockSlot } from "../../src/disk/lock-block.js";
import { emptyMail, MailKind } from "../../src/disk/mailbox-block.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { emptyStatus, MemberState } from "../../src/disk/status-block.js";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-bakery-");
afterAll(() => dir.remove());

async function pairs(count: number): Promise<QuorumPair[]> {
  const primary = zeroFile(join(dir.path, `p${Date.now()}.img`), 2 << 20);
  const backup = zeroFile(join(dir.path, `b${Date.now()}.img`), 2 << 20);
  await initialisePair(primary, backup, { clusterName: "octane", maxMembers: 4 });
  // One pair per member, as each member has its own file descriptors.
  return Promise.all([...Array(count).keys()].map(() => QuorumPair.open(primary, backup, { write: true })));
}

/** A member's slot as a life of it left it: a ticket taken, or still choosing one. */
function leftBehind(pair: QuorumPair, over: Partial<LockSlot> & { member: number }) {
  return pair.writeLock({ ...emptyLock(over.member), ticket: 1, incarnation: 3, ...over });
}

function status(pair: QuorumPair, member: number, state: MemberState, incarnation: number) {
  return pair.writeStatus({ ...emptyStatus(member), state, incarnation, heartbeat: 1 });
}

const fast = { incarnation: 1, pollMs: 5 };

describe("the disk lock", () => {
  it("never has two holders, however the members interleave", async () => {
    const members = await pairs(3);
    try {
      let holders = 0;
      let most = 0;
      const order: number[] = [];
      const round = (pair: QuorumPair, me: number) =>
        withDiskLock(
          pair,
          me,
          async () => {
            holders++;
            most = Math.max(most, holders);
            order.push(me);
            await new Promise((r) => setTimeout(r, 5));
            holders--;
          },
          { incarnation: 1, pollMs: 2 },
        );
      // Each member takes the lock three times, one after another; the members all at once.
      await Promise.all(
        members.map(async (pair, me) => {
          for (let i = 0; i < 3; i++) await round(pair, me);
        }),
      );
      expect(most).toBe(1);
      expect(order).toHaveLength(9);
    } finally {
      for (const p of members) p.close();
    }
  });

  it("is never taken from a live member that stands still, in its doorway or holding", async () => {
    const [a, b] = await pairs(2);
    try {
      // Member 1 (UP, incarnation 3) stalled between its "choosing" write and its ticket: once
      // given up after 10 s of standing still, which let it and a waiter both enter.
      await status(b!, 1, MemberState.Up, 3);
      await leftBehind(b!, { member: 1, choosing: true, ticket: 0 });
      const err = await withDiskLock(a!, 0, async () => {}, { ...fast, waitMs: 400 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect((err as Error).message).toMatch(/still held by member 1 after 400 ms/);
      // A holder that keeps the lock, however long, without writing its slot meanwhile.
      let holders = 0;
      let most = 0;
      const hold = (ms: number) => async () => {
        holders++;
        most = Math.max(most, holders);
        await new Promise((r) => setTimeout(r, ms));
        holders--;
      };
      await leftBehind(b!, { member: 1, ticket: 0 });
      const slow = withDiskLock(b!, 1, hold(700), { ...fast, incarnation: 3 });
      await new Promise((r) => setTimeout(r, 50));
      await Promise.all([slow, withDiskLock(a!, 0, hold(10), { ...fast, waitMs: 10_000 })]);
      expect(most).toBe(1);
    } finally {
      a!.close();
      b!.close();
    }
  });

  it("frees a dead life's slot once that life is DOWN, followed by a newer one, or fenced", async () => {
    const [a, b] = await pairs(2);
    try {
      const waitFor = async (change: () => Promise<void>) => {
        const started = Date.now();
        const waiting = withDiskLock(a!, 0, async () => Date.now() - started, { ...fast, waitMs: 10_000 });
        await new Promise((r) => setTimeout(r, 150));
        await change();
        return waiting;
      };
      // Its daemon marked it DOWN after leaving a ticket (a failed release, say).
      await status(b!, 1, MemberState.Up, 3);
      await leftBehind(b!, { member: 1 });
      expect(await waitFor(() => status(b!, 1, MemberState.Down, 3))).toBeGreaterThanOrEqual(150);
      // A newer life of member 1 joined: the old life's ticket counts no more.
      await status(b!, 1, MemberState.Up, 3);
      await leftBehind(b!, { member: 1 });
      expect(await waitFor(() => status(b!, 1, MemberState.Up, 4))).toBeGreaterThanOrEqual(150);
      // Fenced: a waiter with no fencing knowledge of its own (a tool) reads the notice.
      await status(b!, 1, MemberState.Up, 5);
      await leftBehind(b!, { member: 1, incarnation: 5 });
      const started = Date.now();
      const tool = withDiskLock(a!, 0, async () => Date.now() - started, {
        ...fast,
        tool: true,
        waitMs: 10_000,
      });
      await new Promise((r) => setTimeout(r, 150));
      const notice = { ...emptyMail(1, 0), kind: MailKind.Fenced, sequence: 1, incarnation: 5 };
      await a!.writeMail(notice);
      expect(await tool).toBeGreaterThanOrEqual(150);
    } finally {
      a!.close();
      b!.close();
    }
  });

  it("keeps a tool's slot while its member is DOWN", async () => {
    const [a, b] = await pairs(2);
    try {
      await status(b!, 1, MemberState.Down, 3);
      await leftBehind(b!, { member: 1, tool: true });
      const err = await withDiskLock(a!, 0, async () => {}, { ...fast, waitMs: 200 }).catch(
        (e: unknown) => e,
      );
      expect((err as Error).message).toMatch(/still held by member 1/);
      await leftBehind(b!, { member: 1, tool: false });
      await withDiskLock(a!, 0, async () => {}, { ...fast, waitMs: 200 });
    } finally {
      a!.close();
      b!.close();
    }
  });

  it("goes past a hung holder it is about to fence, and says so", async () => {
    const [a, b] = await pairs(2);
    try {
      await status(b!, 1, MemberState.Up, 3);
      await leftBehind(b!, { member: 1 });
      const grant = await withDiskLock(a!, 0, async (g) => g, {
        ...fast,
        waitMs: 2_000,
        isFenced: () => false,
        condemned: (m, i) => m === 1 && i === 3,
      });
      expect(grant.condemned).toEqual([{ member: 1, incarnation: 3, tool: false }]);
      // Its own slot is clear again.
      expect((await a!.readLocks()).records[0]).toMatchObject({ ticket: 0, choosing: false, incarnation: 1 });
    } finally {
      a!.close();
      b!.close();
    }
  });

  it("refuses a second, overlapping request by the same member in one process", async () => {
    const [a] = await pairs(1);
    try {
      const first = withDiskLock(a!, 0, () => new Promise((r) => setTimeout(r, 50)), fast);
      await expect(withDiskLock(a!, 0, async () => {}, fast)).rejects.toThrow(
        /already holds or awaits the disk lock/,
      );
      await first;
    } finally {
      a!.close();
    }
  });

  it("stops waiting when asked, and clears its slot", async () => {
    const [a, b] = await pairs(2);
    try {
      await status(b!, 1, MemberState.Up, 3);
      await leftBehind(b!, { member: 1 });
      const giveUp = new AbortController();
      const waiting = withDiskLock(a!, 0, async () => {}, { ...fast, signal: giveUp.signal }).catch(
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 60));
      giveUp.abort();
      const err = await waiting;
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect((err as Error).message).toMatch(/stopped waiting for the disk lock/);
      expect((await a!.readLocks()).records[0]).toMatchObject({ ticket: 0, choosing: false });
    } finally {
      a!.close();
      b!.close();
    }
  });
});
