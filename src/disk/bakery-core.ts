// Lamport's bakery over the members' lock slots, as a pure state machine: told how each slot
// write and read ended, it answers with the next step. The daemon and the tools drive it over the
// quorum partitions (bakery.ts); the simulator drives the same machine over simulated slots, with
// stalls at every step.
//
// Each member writes only its own slot, which is all the algorithm needs. What it must never do is
// count a member out while that member may still act: a stalled member (SIGSTOP, a VM pause, swap)
// resumes exactly where it stopped, and writes the ticket it chose or does the work it was doing.
// So no slot is ever given up for having stood still. A slot stops counting only when the life it
// names can no longer act (see judgeSlot):
// - that life is over: DOWN after a clean stop (a daemon's slot), confirmed fenced, or followed by
//   a newer life of the same member;
// - or the waiter is about to fence that very life: it is hung, and a hung holder could otherwise
//   never be fenced, so its lock never freed. Such a grant is for fencing those lives only, until
//   they are confirmed off (the grant names them; see Fencing).
import type { LockSlot } from "./lock-block.js";

/** How often a waiter reads the slots again. */
export const LOCK_POLL_MS = 20;
/** A waiter gives up after this long (and may ask again). */
export const LOCK_WAIT_MS = 30_000;
/** A release that could not be written is tried again after this, doubling up to the cap. */
export const LOCK_RELEASE_RETRY_MS = 100;
export const LOCK_RELEASE_RETRY_MAX_MS = 2_000;

/** A member's life, as a lock slot names it. */
export interface LockLife {
  member: number;
  incarnation: number;
}

/** A hung life whose slot a grant went past; `tool`: its slot was a tool's, which fences nothing. */
export interface PassedLife extends LockLife {
  tool: boolean;
}

/**
 * What a waiter makes of another member's slot:
 * - "live": its writer may still act, so its ticket counts;
 * - "gone": the life it names can act no more;
 * - "condemned": the waiter is about to fence that life, so it may go past it (to fence it only).
 */
export type SlotVerdict = "live" | "gone" | "condemned";

/** What a waiter knows of the members, from the status blocks and its own fencing knowledge. */
export interface LockKnowledge {
  /** The member's status block as last read: its state and incarnation. */
  status(member: number): { down: boolean; incarnation: number } | undefined;
  /** A switch confirmed that life off (or a notice or status on the disk says so). */
  isFenced(member: number, incarnation: number): boolean;
  /** The waiter is about to fence that life: only the fencing lock says yes. */
  condemned?(member: number, incarnation: number): boolean;
}

export function judgeSlot(slot: LockSlot, knows: LockKnowledge): SlotVerdict {
  const status = knows.status(slot.member);
  if (status !== undefined && status.incarnation > slot.incarnation) return "gone";
  // A daemon leaves its slot idle before it marks itself DOWN; a tool runs while its member is
  // DOWN, so DOWN says nothing of a tool's slot.
  if (!slot.tool && status?.down === true && status.incarnation === slot.incarnation) return "gone";
  // Incarnation 0 is no life: a tool on a member that never joined. Nothing fences it.
  if (slot.incarnation > 0 && knows.isFenced(slot.member, slot.incarnation)) return "gone";
  if (slot.incarnation > 0 && knows.condemned?.(slot.member, slot.incarnation) === true) return "condemned";
  return "live";
}

export interface BakeryConfig {
  me: number;
  pollMs: number;
  waitMs: number;
}

/** The part of my slot the bakery decides; the adapter adds my member, life and tool flag. */
export interface Ticket {
  choosing: boolean;
  ticket: number;
}

export type BakeryObservation =
  | { kind: "begin"; nowMs: number }
  /** My slot write ended; `ok` false when either copy refused it (it may be on the primary). */
  | { kind: "written"; ok: boolean; error?: string; nowMs: number }
  /** Everyone's slot, judged by what the reader knows now; `slots` undefined when the read failed. */
  | {
      kind: "read";
      slots?: readonly LockSlot[];
      judge?: (slot: LockSlot) => SlotVerdict;
      error?: string;
      nowMs: number;
    }
  /** The sleep asked for is over. */
  | { kind: "woke"; nowMs: number }
  /** The holder is done with the lock. */
  | { kind: "release"; nowMs: number };

export type BakeryAction =
  | { kind: "write"; slot: Ticket }
  | { kind: "read" }
  | { kind: "sleep"; ms: number }
  /** The lock is mine; `condemned` are the hung lives I went past, which I may fence and no more. */
  | { kind: "granted"; condemned: PassedLife[] }
  /** Nothing more to do: the lock was used and released, or never taken (`failure` says why). */
  | { kind: "done"; granted: boolean; failure?: LockFailure; released: boolean };

/** Why the lock was not taken, or not cleared: an I/O error, the wait ran out, or the asker gave up. */
export interface LockFailure {
  why: "io" | "timeout" | "aborted";
  message: string;
}

type Phase =
  | "idle"
  | "choosing"
  | "doorway"
  | "ticket"
  | "waiting"
  | "sleeping"
  | "held"
  | "releasing"
  | "release-backoff"
  | "done";

const FREE: Ticket = { choosing: false, ticket: 0 };

export class BakeryCore {
  private phase: Phase = "idle";
  private ticket = 0;
  private startedMs = 0;
  private granted = false;
  /** Why the lock is being given back without having been used, if it is. */
  private failure: LockFailure | undefined;
  /** Asked to give up while an I/O was under way: acted on when it ends. */
  private abortReason: string | undefined;
  private releaseRetryMs = LOCK_RELEASE_RETRY_MS;
  private releaseStartedMs = 0;
  private lastBlocking: number[] = [];

  constructor(private readonly config: BakeryConfig) {
    if (!(config.pollMs > 0) || !(config.waitMs > 0))
      throw new RangeError("the bakery needs pollMs > 0 and waitMs > 0");
  }

  /** Where it is, for the simulator's checks and for logs. */
  get state(): Phase {
    return this.phase;
  }

  /** The members whose slots kept it waiting at the last look. */
  get blockers(): readonly number[] {
    return this.lastBlocking;
  }

  step(o: BakeryObservation): BakeryAction {
    switch (o.kind) {
      case "begin":
        this.expect(o, "idle");
        this.startedMs = o.nowMs;
        this.phase = "choosing";
        return { kind: "write", slot: { choosing: true, ticket: 0 } };
      case "written":
        return this.written(o.ok, o.error, o.nowMs);
      case "read":
        return this.read(o.slots, o.judge, o.error, o.nowMs);
      case "woke":
        if (this.phase === "release-backoff") {
          this.phase = "releasing";
          return { kind: "write", slot: FREE };
        }
        this.expect(o, "sleeping");
        if (this.abortReason !== undefined) return this.giveBack(aborted(this.abortReason), o.nowMs);
        this.phase = "waiting";
        return { kind: "read" };
      case "release":
        this.expect(o, "held");
        return this.giveBack(undefined, o.nowMs);
    }
  }

  /**
   * A waiter gives up: its asker no longer wants the lock. While it sleeps between looks, the
   * answer is the write that clears its slot (the sleep is cancelled); while a write or read is
   * under way, nothing yet: the end of that I/O clears it. A lock already granted is not affected.
   */
  abort(reason: string, nowMs: number): BakeryAction | undefined {
    if (this.phase === "sleeping") return this.giveBack(aborted(reason), nowMs);
    if (
      this.phase === "choosing" ||
      this.phase === "doorway" ||
      this.phase === "ticket" ||
      this.phase === "waiting"
    )
      this.abortReason ??= reason;
    return undefined;
  }

  private expect(o: BakeryObservation, phase: Phase): void {
    if (this.phase !== phase) throw new Error(`bakery: "${o.kind}" while ${this.phase}, not ${phase}`);
  }

  private written(ok: boolean, error: string | undefined, nowMs: number): BakeryAction {
    switch (this.phase) {
      case "choosing":
        if (!ok)
          return this.giveBack(io(`could not write this member's lock slot: ${error ?? "failed"}`), nowMs);
        if (this.abortReason !== undefined) return this.giveBack(aborted(this.abortReason), nowMs);
        this.phase = "doorway";
        return { kind: "read" };
      case "ticket":
        // The ticket may be on the primary even so: the release clears it.
        if (!ok)
          return this.giveBack(io(`could not write this member's ticket: ${error ?? "failed"}`), nowMs);
        if (this.abortReason !== undefined) return this.giveBack(aborted(this.abortReason), nowMs);
        this.phase = "waiting";
        return { kind: "read" };
      case "releasing":
        if (ok) {
          this.phase = "done";
          return {
            kind: "done",
            granted: this.granted,
            released: true,
            ...(this.failure !== undefined ? { failure: this.failure } : {}),
          };
        }
        // A slot left holding a ticket keeps every other member out: keep trying, within bounds.
        if (nowMs - this.releaseStartedMs > this.config.waitMs) {
          this.phase = "done";
          return {
            kind: "done",
            granted: this.granted,
            released: false,
            failure: io(
              `could not clear this member's lock slot for ${this.config.waitMs} ms: ${error ?? "failed"}; it stays taken until this member's next use of the lock`,
            ),
          };
        }
        this.phase = "release-backoff";
        {
          const ms = this.releaseRetryMs;
          this.releaseRetryMs = Math.min(2 * ms, LOCK_RELEASE_RETRY_MAX_MS);
          return { kind: "sleep", ms };
        }
      default:
        throw new Error(`bakery: a slot write ended while ${this.phase}`);
    }
  }

  private read(
    slots: readonly LockSlot[] | undefined,
    judge: ((slot: LockSlot) => SlotVerdict) | undefined,
    error: string | undefined,
    nowMs: number,
  ): BakeryAction {
    if (this.phase === "doorway") {
      if (slots === undefined)
        return this.giveBack(io(`could not read the lock slots: ${error ?? "failed"}`), nowMs);
      if (this.abortReason !== undefined) return this.giveBack(aborted(this.abortReason), nowMs);
      let highest = 0;
      for (const s of slots) if (s.member !== this.config.me) highest = Math.max(highest, s.ticket);
      this.ticket = highest + 1;
      this.phase = "ticket";
      return { kind: "write", slot: { choosing: false, ticket: this.ticket } };
    }
    if (this.phase !== "waiting") throw new Error(`bakery: a slot read ended while ${this.phase}`);
    if (this.abortReason !== undefined) return this.giveBack(aborted(this.abortReason), nowMs);
    if (slots === undefined || judge === undefined)
      return this.waitMore(nowMs, `the lock slots could not be read (${error ?? "failed"})`);
    const blocking: number[] = [];
    const condemned: PassedLife[] = [];
    for (const s of slots) {
      if (s.member === this.config.me) continue;
      const ahead =
        s.choosing ||
        (s.ticket !== 0 &&
          (s.ticket < this.ticket || (s.ticket === this.ticket && s.member < this.config.me)));
      if (!ahead) continue;
      const verdict = judge(s);
      if (verdict === "live") blocking.push(s.member);
      else if (verdict === "condemned")
        condemned.push({ member: s.member, incarnation: s.incarnation, tool: s.tool });
    }
    this.lastBlocking = blocking;
    if (blocking.length === 0) {
      this.phase = "held";
      this.granted = true;
      return { kind: "granted", condemned };
    }
    return this.waitMore(
      nowMs,
      `the disk lock is still held by ${blocking.map((m) => `member ${m}`).join(", ")}`,
    );
  }

  private waitMore(nowMs: number, why: string): BakeryAction {
    if (nowMs - this.startedMs > this.config.waitMs)
      return this.giveBack(
        { why: "timeout", message: `${why} after ${this.config.waitMs} ms; try again later` },
        nowMs,
      );
    this.phase = "sleeping";
    return { kind: "sleep", ms: this.config.pollMs };
  }

  /** Clears my slot: after use, or on the way out without the lock. */
  private giveBack(failure: LockFailure | undefined, nowMs: number): BakeryAction {
    if (failure !== undefined && !this.granted) this.failure = failure;
    this.phase = "releasing";
    this.releaseStartedMs = nowMs;
    return { kind: "write", slot: FREE };
  }
}

function io(message: string): LockFailure {
  return { why: "io", message };
}

function aborted(reason: string): LockFailure {
  return { why: "aborted", message: `stopped waiting for the disk lock: ${reason}` };
}
