// The disk lock between members, on real partition files: never two holders at once, and a
// member that died holding a ticket blocks the others only until its slot is stale.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LockTimeoutError, withDiskLock } from "../../src/disk/bakery.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { QuorumPair } from "../../src/disk/pair.js";
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
          { pollMs: 2 },
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

  it("keeps two live waiters apart after a dead member's ticket goes stale", async () => {
    const [a, b, dead] = await pairs(3);
    try {
      // Member 2 took a ticket and died; members 0 and 1 both wait behind it.
      await dead!.writeLock({ member: 2, choosing: false, ticket: 1, incarnation: 0, target: 0xffff }, 1);
      let holders = 0;
      let most = 0;
      const hold = async () => {
        holders++;
        most = Math.max(most, holders);
        await new Promise((r) => setTimeout(r, 100));
        holders--;
      };
      const options = { pollMs: 5, staleMs: 300, waitMs: 10_000 };
      await Promise.all([withDiskLock(a!, 0, hold, options), withDiskLock(b!, 1, hold, options)]);
      expect(most).toBe(1);
    } finally {
      for (const p of [a, b, dead]) p!.close();
    }
  });

  it("is not taken from a holder that holds it longer than the stale time", async () => {
    const [a, b] = await pairs(2);
    try {
      let holders = 0;
      let most = 0;
      const hold = (ms: number) => async () => {
        holders++;
        most = Math.max(most, holders);
        await new Promise((r) => setTimeout(r, ms));
        holders--;
      };
      const options = { pollMs: 5, staleMs: 200, waitMs: 10_000 };
      const slow = withDiskLock(a!, 0, hold(700), options);
      await new Promise((r) => setTimeout(r, 50));
      await Promise.all([slow, withDiskLock(b!, 1, hold(10), options)]);
      expect(most).toBe(1);
    } finally {
      a!.close();
      b!.close();
    }
  });

  it("refuses a second, overlapping request by the same member in one process", async () => {
    const [a] = await pairs(1);
    try {
      const first = withDiskLock(a!, 0, () => new Promise((r) => setTimeout(r, 50)));
      await expect(withDiskLock(a!, 0, async () => {})).rejects.toThrow(
        /already holds or awaits the disk lock/,
      );
      await first;
    } finally {
      a!.close();
    }
  });

  it("waits for a holder, and treats a slot that stopped moving as abandoned", async () => {
    const [a, b] = await pairs(2);
    try {
      // Member 1 takes a ticket and dies without giving it back.
      await b!.writeLock({ member: 1, choosing: false, ticket: 5, incarnation: 0, target: 0xffff }, 1);
      const started = Date.now();
      await withDiskLock(a!, 0, async () => {}, { pollMs: 10, staleMs: 300 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      // With a longer stale time it gives up at its deadline, naming the holder.
      await b!.writeLock({ member: 1, choosing: false, ticket: 6, incarnation: 0, target: 0xffff }, 2);
      const err = await withDiskLock(a!, 0, async () => {}, {
        pollMs: 10,
        staleMs: 10_000,
        waitMs: 200,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect((err as Error).message).toMatch(/still held by member 1/);
    } finally {
      a!.close();
      b!.close();
    }
  });
});
