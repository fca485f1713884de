// Fencing a hung peer: when this member may fire its power switch, and what it does after.
//
// Pure: it is told which peers are hung, whether this member is healthy and holds the fencing
// lock, and how each power-switch action ended; it answers with actions.
// - A fence is issued only by a healthy member holding the disk lock, so with any number of
//   members exactly one fences a given peer (invariant 2).
// - The lock is kept from the moment a fence is fired until its outcome is known and, after a
//   confirmed off, until the fenced notice is on the disk: the next holder finds the notice and
//   does not power-cycle the same member again (perhaps its new life). A member that turns
//   unhealthy meanwhile fires nothing new, but keeps the lock: the disk lock never goes stale,
//   and letting go with a power cycle in flight is how one peer gets fenced twice.
// - A grant may go past the slot of a hung life this member is about to fence (a hung holder
//   could never be fenced otherwise). Until every such life is confirmed off, that grant fences
//   those lives and nothing else: their owners may still believe they hold the lock.
// - In a two-member cluster the higher id waits `twoMemberDelayMs` first, so cross-cabled
//   switches do not shoot both members at once.
// - In a larger one, each member that sees a peer hung waits `staggerMs` for every live member
//   with a lower id: the lowest fences at once, and the others, finding its notice under the lock,
//   stand down. Without this every survivor queues for the lock, and the member that must then
//   take over the services waits behind all of them.
// - A peer counts as fenced only when its switch confirmed off (invariant 1); a failed fence is
//   retried with backoff and reported, and nothing of the peer's is recoverable meanwhile. The
//   lock is given back during a backoff so another member, perhaps with a working path to the
//   switch, may try; whoever holds the lock re-reads the peer's mailbox before firing and calls
//   resolved() when another member's notice shows it is already fenced.
// - A watchdog peer cannot be switched off: it is off once its watchdog must have fired, twice
//   its timeout after it last fed it. It feeds it with every heartbeat, so that wait is measured
//   from the last movement of its counter: from the fence if it has not moved since, else from
//   its last movement, however often it was declared hung in between.
// - After a confirmed fence, a notice goes into the peer's mailbox for that incarnation, so if it
//   was only stalled it stops the moment it reads its mailbox again.
// - A confirmed off covers the incarnation the fence was fired at, and every earlier one (they
//   ran on that machine before it). It never covers a newer life seen while the fence was in
//   flight: the result may reach us late, and that life may have begun after the power came
//   back. If that newer life is hung too, it is fenced in its own right.

import { doublingWait } from "./backoff.js";
import type { FencedLife } from "./liveness.js";

/** A hung life whose lock slot the fencing lock was granted past; `tool`: the slot was a tool's
 * (cluadmin), which never fences. */
export interface CondemnedLife extends FencedLife {
  tool: boolean;
}

/** First retry delay after a failed fence; it doubles up to FENCE_RETRY_MAX_MS. */
export const FENCE_RETRY_BASE_MS = 2_000;
export const FENCE_RETRY_MAX_MS = 60_000;
/** After the fencing lock could not be taken, the next request waits this long, doubling. */
export const FENCE_LOCK_RETRY_BASE_MS = 250;
export const FENCE_LOCK_RETRY_MAX_MS = 8_000;
/** A fenced notice that could not be written is written again after this long, doubling. */
export const NOTICE_RETRY_BASE_MS = 500;
export const NOTICE_RETRY_MAX_MS = 8_000;

export interface FencingConfig {
  me: number;
  /** How many members the cluster has: the two-member delay applies only with exactly two. */
  members: number;
  twoMemberDelayMs: number;
  /** Per live member with a lower id, how long a member waits before going for the lock. */
  staggerMs: number;
  /** For a member fenced by its own watchdog: how long after its last sign of life it is surely
   * off (twice the watchdog's timeout). Undefined for a member behind a power switch. */
  watchdogWaitMs?: (member: number) => number | undefined;
}

export interface FencedNotice {
  member: number;
  incarnation: number;
}

export type FenceAction =
  | { kind: "acquire-fence-lock" }
  | { kind: "release-fence-lock" }
  | { kind: "fence"; member: number; incarnation: number; attempt: number }
  | { kind: "write-fenced-notice"; member: number; incarnation: number }
  | { kind: "report"; member: number; incarnation: number; message: string };

export type FenceCase =
  | { step: "delay"; incarnation: number; untilMs: number }
  | { step: "ready"; incarnation: number; attempt: number }
  | {
      step: "fencing";
      incarnation: number;
      attempt: number;
      /** When its counter last moved while the fence was in flight, if it did: a failed fence is
       * then not retried, and a watchdog's wait runs from then. Nothing ever clears it. */
      movedAtMs?: number;
      /** Declared hung again since it last moved: it is not alive after all. */
      hungAgain: boolean;
      /** A newer life found hung while this fence was in flight, to be judged after it. */
      newerHung?: number;
    }
  /** A watchdog's wait ended, but the peer had moved during it: off once its watchdog must have
   * fired, counted from its last movement. */
  | { step: "watchdog-wait"; incarnation: number; attempt: number; untilMs: number; newerHung?: number }
  | { step: "backoff"; incarnation: number; attempt: number; untilMs: number };

/** The fenced notice owed to one member: its newest life confirmed off. A notice covers every
 * earlier life too, and one mailbox block holds it, so one write at a time, of the newest. */
interface PendingNotice {
  incarnation: number;
  /** The incarnation of the write under way, if one is. */
  inFlight?: number;
  /** When it is due (again): at once, or after a failed write's backoff. */
  dueAtMs: number;
  retryMs: number;
}

export class Fencing {
  // Protected, as is `lockHeld`: the simulator's tests build broken variants of this class to show
  // that the seeds catch each bug it once had.
  protected readonly cases = new Map<number, FenceCase>();
  /** Per member, the newest incarnation confirmed dead (by our switch or another member's notice). */
  private readonly fencedUpTo = new Map<number, number>();
  protected lockHeld = false;
  private lockRequested = false;
  /** No new request for the lock before this (after one failed). */
  private lockRetryAtMs = Number.NEGATIVE_INFINITY;
  /** When the lock held (or asked for) was asked for. */
  private lockAskedAtMs = Number.NEGATIVE_INFINITY;
  private lockRetryMs = FENCE_LOCK_RETRY_BASE_MS;
  /** The hung lives the lock was granted past, not yet confirmed off: only they may be fenced. */
  private condemned: CondemnedLife[] = [];
  /** Fenced notices asked for and not yet on the disk: the lock is held until they are, so the
   * next holder finds them and does not power-cycle the same member again. */
  private readonly notices = new Map<number, PendingNotice>();

  constructor(private readonly config: FencingConfig) {}

  /** Lives this member's fences confirmed off that no status write of its has yet carried to
   * both copies, oldest first (one a heartbeat: a status block has room for one). */
  private readonly unannounced: FencedLife[] = [];
  private lastAnnounced: FencedLife | undefined;
  /** Peers' lives this member learned were fenced from their fencers' status blocks (never one of
   * its own): a count that grows exactly when a read brought news. */
  fencesLearned = 0;

  /** The life for this member's next status block: every member reads every status block each
   * heartbeat, so the others learn of it within one. */
  get lastFenced(): FencedLife | undefined {
    return this.unannounced[0] ?? this.lastAnnounced;
  }

  /**
   * A status write carrying `life` reached both copies: the next one may carry the next life.
   * True the first time, when the peers have news to read.
   */
  announced(life: FencedLife): boolean {
    const first = this.unannounced[0];
    if (first?.member !== life.member || first.incarnation !== life.incarnation) return false;
    this.lastAnnounced = this.unannounced.shift();
    return true;
  }

  /**
   * A peer's status says its fence confirmed `member` off in `incarnation`: that life and every
   * earlier one is dead, and a case waiting to fence it (a stagger) stands down. (A status naming
   * this member is the member core's business.)
   */
  fencedSeen(member: number, incarnation: number): void {
    if (member === this.config.me) return;
    if (!this.isFenced(member, incarnation)) this.fencesLearned++;
    this.learnFenced(member, incarnation);
  }

  /**
   * Liveness found `member` hung in `incarnation`; `ahead` live members (not counting it) have
   * lower ids than this one; `lastMoveMs` is when its counter last moved, on this member's clock.
   * Repeats are harmless.
   */
  hung(member: number, incarnation: number, nowMs: number, ahead = 0, lastMoveMs = nowMs): void {
    if (member === this.config.me) throw new Error("a member never fences itself");
    const existing = this.cases.get(member);
    if (existing?.step === "fencing" || existing?.step === "watchdog-wait") {
      // A power cycle cannot be taken back, so the case stays; a newer life waits for its result.
      if (incarnation === existing.incarnation && existing.step === "fencing") {
        // It moved, then stopped again. Its watchdog was fed at its last movement, whatever else.
        if (existing.movedAtMs !== undefined) existing.movedAtMs = Math.max(existing.movedAtMs, lastMoveMs);
        existing.hungAgain = true;
      } else if (incarnation > existing.incarnation)
        existing.newerHung = Math.max(existing.newerHung ?? 0, incarnation);
      return;
    }
    if (this.isFenced(member, incarnation)) return;
    if (existing !== undefined && incarnation <= existing.incarnation) return;
    const { members, me, twoMemberDelayMs, staggerMs } = this.config;
    const delayMs = members === 2 ? (me > member ? twoMemberDelayMs : 0) : ahead * staggerMs;
    this.cases.set(
      member,
      delayMs > 0
        ? { step: "delay", incarnation, untilMs: nowMs + delayMs }
        : { step: "ready", incarnation, attempt: 1 },
    );
  }

  /**
   * The peer's counter moved again: drop the case unless a fence is in flight (a power cycle
   * cannot be taken back). A watchdog peer that moves during the extra wait is alive: feeding its
   * watchdog, it was never reset.
   */
  resolved(member: number, nowMs: number): void {
    const c = this.cases.get(member);
    if (c?.step === "fencing") {
      c.movedAtMs = nowMs;
      c.hungAgain = false;
      c.newerHung = undefined;
    } else if (c !== undefined) {
      this.cases.delete(member);
      if (c.step === "watchdog-wait" && c.newerHung !== undefined) this.hung(member, c.newerHung, nowMs);
    }
  }

  /** Whether this member is about to fence `member` in `incarnation` (or a later life): the disk
   * lock may then go past that life's slot. */
  aboutToFence(member: number, incarnation: number): boolean {
    const c = this.cases.get(member);
    return c?.step === "ready" && c.incarnation >= incarnation;
  }

  /**
   * The fencing lock is ours. `notices` are the fenced notices found in the mailboxes of the peers
   * this member is waiting to fence, read under the lock: a peer another member already fenced
   * is fenced, and must not be power-cycled again (it may be restarting). `condemned` are the hung
   * lives the grant went past: until they are off, only they may be fenced.
   */
  lockGranted(notices: readonly FencedNotice[] = [], condemned: readonly CondemnedLife[] = []): void {
    this.lockHeld = true;
    this.lockRequested = false;
    this.lockRetryMs = FENCE_LOCK_RETRY_BASE_MS;
    for (const n of notices) this.learnFenced(n.member, n.incarnation);
    this.condemned = condemned.filter((l) => !this.isFenced(l.member, l.incarnation));
  }

  /** The lives the lock was granted past and not yet confirmed off. */
  get grantedPast(): readonly CondemnedLife[] {
    return this.condemned;
  }

  /** Another member fenced `member` in `incarnation`: a case still waiting to fence it stands down. */
  private learnFenced(member: number, incarnation: number): void {
    this.markFenced(member, incarnation);
    const c = this.cases.get(member);
    if (c !== undefined && c.step !== "fencing" && c.step !== "watchdog-wait" && c.incarnation <= incarnation)
      this.cases.delete(member);
  }

  private markFenced(member: number, incarnation: number): void {
    this.fencedUpTo.set(member, Math.max(this.fencedUpTo.get(member) ?? 0, incarnation));
  }

  /** The lock could not be taken (an I/O error on the lock blocks, or the wait ran out): ask
   * again after a backoff, so a broken lock region costs a few reads a second at most. */
  lockFailed(nowMs: number): void {
    this.lockRequested = false;
    this.lockRetryAtMs = nowMs + this.lockRetryMs;
    this.lockRetryMs = Math.min(2 * this.lockRetryMs, FENCE_LOCK_RETRY_MAX_MS);
  }

  /**
   * True once a switch confirmed the peer off in this incarnation or a later one: only then may
   * the services it ran in that incarnation be taken over.
   */
  isFenced(member: number, incarnation: number): boolean {
    return incarnation <= (this.fencedUpTo.get(member) ?? 0);
  }

  /**
   * The peer rejoined in a new incarnation: a waiting case about an older life is closed. A fence
   * in flight stays, and counts only for the life it was fired at.
   */
  rejoined(member: number, incarnation: number): void {
    const c = this.cases.get(member);
    if (c === undefined || incarnation <= c.incarnation || underWay(c)) return;
    this.cases.delete(member);
  }

  /**
   * `byTime`: "off" was not seen but assumed after a wait (a watchdog), which holds only if the
   * member stayed silent all along: one whose counter moved meanwhile was feeding its watchdog.
   */
  fenceResult(
    member: number,
    confirmedOff: boolean,
    detail: string,
    nowMs: number,
    byTime = false,
  ): FenceAction[] {
    const c = this.cases.get(member);
    if (c?.step !== "fencing")
      throw new Error(`a fence result for member ${member}, which is not being fenced`);
    const { incarnation, attempt, newerHung, movedAtMs } = c;
    const moved = movedAtMs !== undefined;
    if (confirmedOff && byTime && moved) {
      if (c.hungAgain) {
        // Silent again since its last movement: off once its watchdog must have fired after it.
        const waitMs = this.watchdogWait(member);
        this.cases.set(member, {
          step: "watchdog-wait",
          incarnation,
          attempt,
          untilMs: movedAtMs + waitMs,
          ...(newerHung !== undefined ? { newerHung } : {}),
        });
        return [
          {
            kind: "report",
            member,
            incarnation,
            message: `${detail}, but its heartbeat moved during the wait and stopped again, so it counts as off only ${waitMs} ms after it last moved`,
          },
        ];
      }
      confirmedOff = false;
      detail = `${detail}, but its heartbeat moved during the wait, so its watchdog was being fed`;
    }
    if (confirmedOff) return this.confirmed(member, incarnation, detail, nowMs, newerHung);
    if (moved && !c.hungAgain) {
      // It is writing its heartbeat again: fencing it now would be a false failover. If it hangs
      // again, liveness reports it again (a newer life already found hung is judged now).
      this.cases.delete(member);
      if (newerHung !== undefined) this.hung(member, newerHung, nowMs);
      return [
        {
          kind: "report",
          member,
          incarnation,
          message: `fence attempt ${attempt} failed (${detail}); the member is alive again, so it is not retried`,
        },
      ];
    }
    const delayMs = doublingWait(FENCE_RETRY_BASE_MS, FENCE_RETRY_MAX_MS, attempt);
    // The next attempt is fired after the newer life was seen, so its off covers that life too.
    this.cases.set(member, {
      step: "backoff",
      incarnation: Math.max(incarnation, newerHung ?? 0),
      attempt: attempt + 1,
      untilMs: nowMs + delayMs,
    });
    return [
      {
        kind: "report",
        member,
        incarnation,
        message: `fence attempt ${attempt} failed (${detail}); its services stay where they are; retrying in ${delayMs} ms`,
      },
    ];
  }

  private watchdogWait(member: number): number {
    const ms = this.config.watchdogWaitMs?.(member);
    if (ms === undefined) throw new Error(`member ${member} was fenced by time but has no watchdog wait`);
    return ms;
  }

  /** The life is off: it is fenced, its notice goes to the disk, and peers hear of it. */
  private confirmed(
    member: number,
    incarnation: number,
    detail: string,
    nowMs: number,
    newerHung: number | undefined,
  ): FenceAction[] {
    const owed = this.notices.get(member);
    if (owed !== undefined) {
      owed.incarnation = Math.max(owed.incarnation, incarnation);
      owed.dueAtMs = Math.min(owed.dueAtMs, nowMs);
    } else this.notices.set(member, { incarnation, dueAtMs: nowMs, retryMs: NOTICE_RETRY_BASE_MS });
    this.cases.delete(member);
    this.markFenced(member, incarnation);
    // Bounded: each member is fenced at most once a life, and an old entry is only news.
    if (this.unannounced.length >= this.config.members) this.unannounced.shift();
    this.unannounced.push({ member, incarnation });
    // A newer life found hung meanwhile is judged on its own: it may have begun after the off.
    if (newerHung !== undefined) this.hung(member, newerHung, nowMs);
    return [
      ...this.dueNotice(member, nowMs),
      { kind: "report", member, incarnation, message: `fenced: ${detail}` },
    ];
  }

  /** The notice write owed to `member`, if it is due and no write to its block is under way. */
  private dueNotice(member: number, nowMs: number): FenceAction[] {
    const n = this.notices.get(member);
    if (n === undefined || n.inFlight !== undefined || nowMs < n.dueAtMs) return [];
    n.inFlight = n.incarnation;
    return [{ kind: "write-fenced-notice", member, incarnation: n.incarnation }];
  }

  /** A fenced notice asked for reached the disk (`ok`), or could not be written: it is written
   * again, holding the lock, until it is there (the newest life owed, if one came meanwhile). */
  noticeWritten(member: number, incarnation: number, ok: boolean, nowMs: number): void {
    const n = this.notices.get(member);
    if (n === undefined || n.inFlight !== incarnation)
      throw new Error(`a fenced notice for member ${member} was written that was never asked for`);
    n.inFlight = undefined;
    if (ok && incarnation >= n.incarnation) {
      this.notices.delete(member);
      return;
    }
    if (ok) {
      n.dueAtMs = nowMs;
      return;
    }
    n.dueAtMs = nowMs + n.retryMs;
    n.retryMs = Math.min(2 * n.retryMs, NOTICE_RETRY_MAX_MS);
  }

  /** A power cycle, a watchdog's wait or a notice is still under way: a stop must wait for it. */
  get busy(): boolean {
    return this.notices.size > 0 || [...this.cases.values()].some(underWay);
  }

  /** Stopping with nothing under way: gives the lock back, held or asked for, and fires nothing more. */
  quiesce(): FenceAction[] {
    if (this.busy) throw new Error("quiesce() with a fence under way");
    const holding = this.lockHeld || this.lockRequested;
    this.lockHeld = false;
    this.lockRequested = false;
    this.cases.clear();
    return holding ? [{ kind: "release-fence-lock" }] : [];
  }

  /**
   * Moves every case on as far as time, health and the lock allow. `mayFire` is false while this
   * member is stopping: what is under way finishes, nothing starts. `lookedHungAtMs` is the last
   * time this member may have looked hung to its peers (a stall): a grant asked for before then
   * may have been gone past by a peer now fencing this member, so it fires nothing more and is
   * given back once nothing under it is under way.
   */
  tick(
    nowMs: number,
    healthy: boolean,
    mayFire = true,
    lookedHungAtMs = Number.NEGATIVE_INFINITY,
  ): FenceAction[] {
    const out: FenceAction[] = [];
    for (const [member, c] of this.cases) {
      if ((c.step === "delay" || c.step === "backoff") && nowMs >= c.untilMs) {
        this.cases.set(member, {
          step: "ready",
          incarnation: c.incarnation,
          attempt: c.step === "delay" ? 1 : c.attempt,
        });
      } else if (c.step === "watchdog-wait" && nowMs >= c.untilMs) {
        out.push(
          ...this.confirmed(
            member,
            c.incarnation,
            "its watchdog has surely fired since its heartbeat last moved",
            nowMs,
            c.newerHung,
          ),
        );
      }
    }
    // A notice is retried whatever this member's health: it is owed to whoever holds the lock next.
    for (const member of this.notices.keys()) out.push(...this.dueNotice(member, nowMs));
    this.condemned = this.condemned.filter((l) => !this.isFenced(l.member, l.incarnation));
    // A hung holder past which the lock was granted may itself be fencing: it goes first (its
    // fences end with it), then the tools' lives, then, with the grant whole, everyone else.
    const firstDaemons = this.condemned.some((l) => !l.tool);
    const mayFence = (member: number) =>
      this.condemned.length === 0 ||
      this.condemned.some((l) => l.member === member && (!firstDaemons || !l.tool));
    const ready = [...this.cases].filter(
      ([member, c]) => c.step === "ready" && (!this.lockHeld || mayFence(member)),
    );
    const underway = [...this.cases.values()].some(underWay) || this.notices.size > 0;
    const stale = this.lockHeld && Number.isFinite(lookedHungAtMs) && lookedHungAtMs >= this.lockAskedAtMs;
    if (ready.length > 0 && healthy && mayFire && !stale) {
      if (!this.lockHeld) {
        if (!this.lockRequested && nowMs >= this.lockRetryAtMs) {
          this.lockRequested = true;
          this.lockAskedAtMs = nowMs;
          out.push({ kind: "acquire-fence-lock" });
        }
      } else {
        for (const [member, c] of ready) {
          if (c.step !== "ready") continue;
          this.cases.set(member, {
            step: "fencing",
            incarnation: c.incarnation,
            attempt: c.attempt,
            hungAgain: false,
          });
          out.push({ kind: "fence", member, incarnation: c.incarnation, attempt: c.attempt });
        }
      }
    } else if (this.lockHeld && !underway) {
      // Nothing left to fire (or nothing this grant may fire): let another member's fence through.
      this.lockHeld = false;
      this.condemned = [];
      out.push({ kind: "release-fence-lock" });
    }
    return out;
  }
}

/** A fence fired and not yet settled: the lock stays held for it. */
function underWay(c: FenceCase): boolean {
  return c.step === "fencing" || c.step === "watchdog-wait";
}
