// The disk lock over the quorum partitions: the thin adapter that runs the bakery
// (bakery-core.ts) with real slot writes, real reads and real timers.
//
// Each look at the slots also reads the status blocks, which say whether the life a slot names is
// DOWN or followed by a newer one. A daemon adds what its core knows (which lives its fences
// confirmed off, which lives it is about to fence); a tool, which has no such knowledge, reads the
// fenced notices in the mailboxes and the fences the status blocks report.
import { performance } from "node:perf_hooks";
import {
  type BakeryAction,
  BakeryCore,
  judgeSlot,
  LOCK_POLL_MS,
  LOCK_WAIT_MS,
  type LockFailure,
  type LockKnowledge,
  type PassedLife,
} from "./bakery-core.js";
import type { Block } from "./block.js";
import { DiskError } from "./errors.js";
import { decodeLock, type LockSlot, NO_TARGET } from "./lock-block.js";
import { decodeMail, MailKind } from "./mailbox-block.js";
import type { QuorumPair } from "./pair.js";
import { MemberState, type MemberStatus } from "./status-block.js";

export { LOCK_POLL_MS, LOCK_WAIT_MS } from "./bakery-core.js";

/** The bakery's steps for one use of the lock, at most: a run that takes more is itself a bug. */
const MAX_STEPS = 1_000_000;

export class LockTimeoutError extends DiskError {
  override name = "LockTimeoutError";
}

export interface LockOptions {
  /** The life this use of the lock is for: the daemon's incarnation, or the member's current one
   * for a tool. */
  incarnation: number;
  /** Written by a tool (cluadmin), not the member's daemon. */
  tool?: boolean;
  /** The daemon's own knowledge of confirmed fences; without it the notices on the disk are read. */
  isFenced?: (member: number, incarnation: number) => boolean;
  /** The lives this waiter is about to fence: the fencing lock only. */
  condemned?: (member: number, incarnation: number) => boolean;
  pollMs?: number;
  waitMs?: number;
  /** Gives up waiting (with a LockTimeoutError) once aborted; a lock already taken is unaffected. */
  signal?: AbortSignal;
}

/** What the holder was granted: the hung lives it went past, which it may fence and no more. */
export interface LockGrant {
  condemned: PassedLife[];
}

async function readSlots(pair: QuorumPair): Promise<LockSlot[]> {
  const { records } = await pair.readBlocks("lock");
  return records.map((block: Block) => {
    const decoded = decodeLock(block.payload);
    if (!decoded.ok) throw new DiskError(`lock slot ${block.slot} is unreadable: ${decoded.problem}`);
    return decoded.value;
  });
}

/** The lives the disk says were fenced: notices in the mailboxes, and fences the status blocks report. */
async function fencesOnDisk(
  pair: QuorumPair,
  statuses: readonly MemberStatus[],
): Promise<Map<number, number>> {
  const upTo = new Map<number, number>();
  const note = (member: number, incarnation: number) =>
    upTo.set(member, Math.max(upTo.get(member) ?? 0, incarnation));
  for (const s of statuses) if (s.fenced !== undefined) note(s.fenced.member, s.fenced.incarnation);
  for (const block of (await pair.readBlocks("mailbox")).records) {
    const d = decodeMail(block.payload);
    if (d.ok && d.value.kind === MailKind.Fenced) note(d.value.to, d.value.incarnation);
  }
  return upTo;
}

/** Members holding or waiting for the lock through each pair, in this process. */
const inUse = new WeakMap<QuorumPair, Set<number>>();

/**
 * Runs `work` holding the disk lock as member `me`. A member has one slot, so one process must not
 * ask for the lock twice at once as the same member: that is refused outright. (Two processes of
 * one member are kept apart by MemberSlotLock.)
 */
export async function withDiskLock<T>(
  pair: QuorumPair,
  me: number,
  work: (grant: LockGrant) => Promise<T>,
  options: LockOptions,
): Promise<T> {
  const members = inUse.get(pair) ?? new Set<number>();
  inUse.set(pair, members);
  if (members.has(me))
    throw new DiskError(`member ${me} already holds or awaits the disk lock in this process`);
  members.add(me);
  try {
    return await runBakery(pair, me, work, options);
  } finally {
    members.delete(me);
  }
}

async function runBakery<T>(
  pair: QuorumPair,
  me: number,
  work: (grant: LockGrant) => Promise<T>,
  options: LockOptions,
): Promise<T> {
  const pollMs = options.pollMs ?? LOCK_POLL_MS;
  const core = new BakeryCore({ me, pollMs, waitMs: options.waitMs ?? LOCK_WAIT_MS });
  const now = () => performance.now();
  const base = {
    member: me,
    incarnation: options.incarnation,
    target: NO_TARGET,
    tool: options.tool ?? false,
  };
  let outcome: { value: T } | { error: unknown } | undefined;
  let action: BakeryAction = core.step({ kind: "begin", nowMs: now() });
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    switch (action.kind) {
      case "write": {
        let error: string | undefined;
        try {
          await pair.writeLock({ ...base, ...action.slot });
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        noticeAbort(core, options.signal, now());
        action = core.step({
          kind: "written",
          ok: error === undefined,
          ...(error ? { error } : {}),
          nowMs: now(),
        });
        break;
      }
      case "read": {
        let observed: Parameters<BakeryCore["step"]>[0];
        try {
          const [slots, statuses] = await Promise.all([readSlots(pair), pair.readStatusRegion()]);
          let fenced = options.isFenced;
          if (fenced === undefined) {
            const upTo = await fencesOnDisk(pair, statuses.records);
            fenced = (m: number, i: number) => i <= (upTo.get(m) ?? 0);
          }
          const knows: LockKnowledge = {
            status: (m) => {
              const s = statuses.records[m];
              return s === undefined || s.state === MemberState.None
                ? undefined
                : { down: s.state === MemberState.Down, incarnation: s.incarnation };
            },
            isFenced: fenced,
            ...(options.condemned !== undefined ? { condemned: options.condemned } : {}),
          };
          observed = { kind: "read", slots, judge: (slot) => judgeSlot(slot, knows), nowMs: now() };
        } catch (err) {
          observed = { kind: "read", error: err instanceof Error ? err.message : String(err), nowMs: now() };
        }
        noticeAbort(core, options.signal, now());
        action = core.step(observed);
        break;
      }
      case "sleep":
        action = await sleepUnlessAborted(core, action.ms, options.signal, now);
        break;
      case "granted":
        try {
          outcome = { value: await work({ condemned: action.condemned }) };
        } catch (error) {
          outcome = { error };
        }
        action = core.step({ kind: "release", nowMs: now() });
        break;
      case "done":
        if (!action.granted) throw lockError(action.failure);
        if (outcome !== undefined && "error" in outcome) throw outcome.error;
        if (!action.released) throw lockError(action.failure);
        return (outcome as { value: T }).value;
    }
  }
  throw new Error(`the disk lock took more than ${MAX_STEPS} steps`);
}

function noticeAbort(core: BakeryCore, signal: AbortSignal | undefined, nowMs: number): void {
  if (signal?.aborted) core.abort("asked to give up", nowMs);
}

/** Sleeps `ms`, unless the asker gives up meanwhile: then the bakery clears the slot at once. */
function sleepUnlessAborted(
  core: BakeryCore,
  ms: number,
  signal: AbortSignal | undefined,
  now: () => number,
): Promise<BakeryAction> {
  return new Promise((resolve) => {
    const woke = () => {
      signal?.removeEventListener("abort", aborted);
      resolve(core.step({ kind: "woke", nowMs: now() }));
    };
    const timer = setTimeout(woke, ms);
    const aborted = () => {
      const next = core.abort("asked to give up", now());
      if (next === undefined) return;
      clearTimeout(timer);
      resolve(next);
    };
    if (signal?.aborted) aborted();
    else signal?.addEventListener("abort", aborted, { once: true });
  });
}

function lockError(failure: LockFailure | undefined): DiskError {
  const message = failure?.message ?? "the disk lock was not taken";
  return failure?.why === "io" ? new DiskError(message) : new LockTimeoutError(message);
}
