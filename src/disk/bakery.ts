// Lamport's bakery over the members' lock slots on the quorum partitions: a lock for things
// several members may change, such as the cluster configuration. Each member writes only its own
// slot, which is all the algorithm needs; the partitions' write order (primary, then backup)
// makes each slot write atomic enough.
//
// A member that dies holding a ticket must not block the others forever: a slot that does not
// change for LOCK_STALE_MS on the waiter's own monotonic clock (clocks are never compared across
// members) is treated as abandoned. Holders keep the lock for milliseconds, far below that.
import { performance } from "node:perf_hooks";
import type { Block } from "./block.js";
import { DiskError } from "./errors.js";
import { decodeLock, type LockSlot, NO_TARGET } from "./lock-block.js";
import type { QuorumPair } from "./pair.js";

export const LOCK_POLL_MS = 20;
export const LOCK_STALE_MS = 10_000;
export const LOCK_WAIT_MS = 30_000;

export class LockTimeoutError extends DiskError {
  override name = "LockTimeoutError";
}

export interface LockOptions {
  /** What the lock is for, recorded in the slot (NO_TARGET for none). */
  target?: number;
  incarnation?: number;
  pollMs?: number;
  staleMs?: number;
  waitMs?: number;
  /** Gives up waiting (with a LockTimeoutError) once aborted; a lock already taken is unaffected. */
  signal?: AbortSignal;
}

interface SlotView {
  lock: LockSlot;
  generation: number;
}

async function readSlots(pair: QuorumPair): Promise<SlotView[]> {
  const { records } = await pair.readBlocks("lock");
  return records.map((block: Block) => {
    const decoded = decodeLock(block.payload);
    if (!decoded.ok) throw new DiskError(`lock slot ${block.slot} is unreadable: ${decoded.problem}`);
    return { lock: decoded.value, generation: block.generation };
  });
}

/** Members holding or waiting for the lock through each pair, in this process. */
const inUse = new WeakMap<QuorumPair, Set<number>>();

/**
 * Runs `work` holding the disk lock as member `me`. A member has one slot, so one process must not
 * ask for the lock twice at once as the same member: that is refused outright.
 */
export async function withDiskLock<T>(
  pair: QuorumPair,
  me: number,
  work: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const members = inUse.get(pair) ?? new Set<number>();
  inUse.set(pair, members);
  if (members.has(me))
    throw new DiskError(`member ${me} already holds or awaits the disk lock in this process`);
  members.add(me);
  try {
    return await bakery(pair, me, work, options);
  } finally {
    members.delete(me);
  }
}

async function bakery<T>(
  pair: QuorumPair,
  me: number,
  work: () => Promise<T>,
  options: LockOptions,
): Promise<T> {
  const pollMs = options.pollMs ?? LOCK_POLL_MS;
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  const waitMs = options.waitMs ?? LOCK_WAIT_MS;
  const base = { member: me, incarnation: options.incarnation ?? 0, target: options.target ?? NO_TARGET };
  let generation = ((await readSlots(pair))[me]?.generation ?? 0) + 1;
  let current: Omit<LockSlot, "member" | "incarnation" | "target"> = { choosing: true, ticket: 0 };
  // Every write of my slot goes through one queue: a refresh must never overlap another write.
  let queue: Promise<void> = Promise.resolve();
  const write = (lock?: Omit<LockSlot, "member" | "incarnation" | "target">): Promise<void> => {
    if (lock !== undefined) current = lock;
    const snapshot = current;
    // A failed write must not stop the ones after it: a slot that stops changing is stale to the
    // others, who would then take the lock while this member still holds it.
    queue = queue.catch(() => {}).then(() => pair.writeLock({ ...base, ...snapshot }, generation++));
    return queue;
  };

  await write({ choosing: true, ticket: 0 });
  const slots = await readSlots(pair);
  const ticket = Math.max(0, ...slots.filter((_, j) => j !== me).map((s) => s.lock.ticket)) + 1;
  await write({ choosing: false, ticket });
  // A live member's slot keeps moving, waiting or holding, so only a dead member's goes stale.
  const refresher = setInterval(() => void write().catch(() => {}), Math.max(1, Math.floor(staleMs / 4)));
  try {
    const started = performance.now();
    // Last time each slot was seen to change, on this member's clock.
    const lastChange = new Map<number, { generation: number; at: number }>();
    for (;;) {
      const now = performance.now();
      const blocking = (await readSlots(pair)).filter((s, j) => {
        if (j === me) return false;
        const seen = lastChange.get(j);
        if (seen === undefined || seen.generation !== s.generation)
          lastChange.set(j, { generation: s.generation, at: now });
        else if (now - seen.at > staleMs) return false; // abandoned: it has not moved for too long
        if (s.lock.choosing) return true;
        return s.lock.ticket !== 0 && (s.lock.ticket < ticket || (s.lock.ticket === ticket && j < me));
      });
      if (blocking.length === 0) break;
      if (options.signal?.aborted)
        throw new LockTimeoutError("stopped waiting for the disk lock: asked to give up");
      if (now - started > waitMs) {
        const who = blocking.map((s) => `member ${s.lock.member}`).join(", ");
        throw new LockTimeoutError(
          `the disk lock is still held by ${who} after ${waitMs} ms; try again later`,
        );
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return await work();
  } finally {
    clearInterval(refresher);
    await write({ choosing: false, ticket: 0 }).catch(async () => {
      // The queue holds the failed refresh; the release itself still has to be tried.
      queue = Promise.resolve();
      await write({ choosing: false, ticket: 0 });
    });
  }
}
