// Fencing a hung peer: when this member may fire its power switch, and what it does after.
//
// Pure: it is told which peers are hung, whether this member is healthy and holds the fencing
// lock, and how each power-switch action ended; it answers with actions.
// - A fence is issued only by a healthy member holding the disk lock, so with any number of
//   members exactly one fences a given peer (invariant 2).
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
// - After a confirmed fence, a notice goes into the peer's mailbox for that incarnation, so if it
//   was only stalled it stops the moment it reads its mailbox again.
// - A confirmed off covers the incarnation the fence was fired at, and every earlier one (they
//   ran on that machine before it). It never covers a newer life seen while the fence was in
//   flight: the result may reach us late, and that life may have begun after the power came
//   back. If that newer life is hung too, it is fenced in its own right.

import type { FencedLife } from "./liveness.js";

/** First retry delay after a failed fence; it doubles up to FENCE_RETRY_MAX_MS. */
export const FENCE_RETRY_BASE_MS = 2_000;
export const FENCE_RETRY_MAX_MS = 60_000;

export interface FencingConfig {
  me: number;
  /** How many members the cluster has: the two-member delay applies only with exactly two. */
  members: number;
  twoMemberDelayMs: number;
  /** Per live member with a lower id, how long a member waits before going for the lock. */
  staggerMs: number;
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

type Case =
  | { step: "delay"; incarnation: number; untilMs: number }
  | { step: "ready"; incarnation: number; attempt: number }
  | {
      step: "fencing";
      incarnation: number;
      attempt: number;
      /** Its counter moved while the fence was in flight: if the fence fails, do not retry. */
      revived: boolean;
      /** A newer life found hung while this fence was in flight, to be judged after it. */
      newerHung?: number;
    }
  | { step: "backoff"; incarnation: number; attempt: number; untilMs: number };

export class Fencing {
  private readonly cases = new Map<number, Case>();
  /** Per member, the newest incarnation confirmed dead (by our switch or another member's notice). */
  private readonly fencedUpTo = new Map<number, number>();
  private lockHeld = false;
  private lockRequested = false;
  /** Fenced notices asked for and not yet on the disk: the lock is held until they are, so the
   * next holder finds them and does not power-cycle the same member again. */
  private noticesPending = 0;

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
   * earlier one is dead, and a case waiting to fence it (a stagger) stands down.
   */
  fencedSeen(member: number, incarnation: number): void {
    if (member === this.config.me) return;
    if (!this.isFenced(member, incarnation)) this.fencesLearned++;
    this.learnFenced(member, incarnation);
  }

  /**
   * Liveness found `member` hung in `incarnation`; `ahead` live members (not counting it) have
   * lower ids than this one. Repeats are harmless.
   */
  hung(member: number, incarnation: number, nowMs: number, ahead = 0): void {
    if (member === this.config.me) throw new Error("a member never fences itself");
    const existing = this.cases.get(member);
    if (existing?.step === "fencing") {
      // A power cycle cannot be taken back, so the case stays; a newer life waits for its result.
      if (incarnation === existing.incarnation) existing.revived = false;
      else if (incarnation > existing.incarnation)
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
   * cannot be taken back).
   */
  resolved(member: number): void {
    const c = this.cases.get(member);
    if (c?.step === "fencing") {
      c.revived = true;
      c.newerHung = undefined;
    } else if (c !== undefined) this.cases.delete(member);
  }

  /**
   * The fencing lock is ours. `notices` are the fenced notices found in the mailboxes of the peers
   * this member is waiting to fence, read under the lock: a peer another member already fenced
   * is fenced, and must not be power-cycled again (it may be restarting).
   */
  lockGranted(notices: readonly FencedNotice[] = []): void {
    this.lockHeld = true;
    this.lockRequested = false;
    for (const n of notices) this.learnFenced(n.member, n.incarnation);
  }

  /** Another member fenced `member` in `incarnation`: a case still waiting to fence it stands down. */
  private learnFenced(member: number, incarnation: number): void {
    this.markFenced(member, incarnation);
    const c = this.cases.get(member);
    if (c !== undefined && c.step !== "fencing" && c.incarnation <= incarnation) this.cases.delete(member);
  }

  private markFenced(member: number, incarnation: number): void {
    this.fencedUpTo.set(member, Math.max(this.fencedUpTo.get(member) ?? 0, incarnation));
  }

  /** The lock could not be taken (an I/O error on the lock blocks): ask again on the next tick. */
  lockFailed(): void {
    this.lockRequested = false;
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
    if (c === undefined || incarnation <= c.incarnation || c.step === "fencing") return;
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
    const { incarnation, attempt, newerHung } = c;
    if (confirmedOff && byTime && c.revived) {
      confirmedOff = false;
      detail = `${detail}, but its heartbeat moved during the wait, so its watchdog was being fed`;
    }
    if (confirmedOff) {
      this.noticesPending++;
      this.cases.delete(member);
      this.markFenced(member, incarnation);
      // Bounded: each member is fenced at most once a life, and an old entry is only news.
      if (this.unannounced.length >= this.config.members) this.unannounced.shift();
      this.unannounced.push({ member, incarnation });
      // A newer life found hung meanwhile is judged on its own: it may have begun after the off.
      if (newerHung !== undefined) this.hung(member, newerHung, nowMs);
      return [
        { kind: "write-fenced-notice", member, incarnation },
        { kind: "report", member, incarnation, message: `fenced: ${detail}` },
      ];
    }
    if (c.revived) {
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
    const delayMs = Math.min(FENCE_RETRY_BASE_MS * 2 ** (attempt - 1), FENCE_RETRY_MAX_MS);
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

  /** A fenced notice asked for by fenceResult reached the disk, or failed to. */
  noticeWritten(): void {
    if (this.noticesPending === 0) throw new Error("a fenced notice was written that was never asked for");
    this.noticesPending--;
  }

  /** A power cycle or its notice is still under way: a stop must wait for it. */
  get busy(): boolean {
    return this.noticesPending > 0 || [...this.cases.values()].some((c) => c.step === "fencing");
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

  /** Moves every case on as far as time, health and the lock allow. */
  /** `mayFire` is false while this member is stopping: what is under way finishes, nothing starts. */
  tick(nowMs: number, healthy: boolean, mayFire = true): FenceAction[] {
    const out: FenceAction[] = [];
    if (!healthy && this.lockHeld) {
      // A holder that stalled cannot know whether its lock went stale meanwhile and another member
      // took it (the bakery's rule for a dead holder): it gives the lock up and asks again once it
      // is healthy. A stall long enough for that always makes a member unhealthy first.
      this.lockHeld = false;
      out.push({ kind: "release-fence-lock" });
    }
    for (const [member, c] of this.cases) {
      if ((c.step === "delay" || c.step === "backoff") && nowMs >= c.untilMs) {
        this.cases.set(member, {
          step: "ready",
          incarnation: c.incarnation,
          attempt: c.step === "delay" ? 1 : c.attempt,
        });
      }
    }
    const ready = [...this.cases].filter(([, c]) => c.step === "ready");
    const inFlight = [...this.cases.values()].some((c) => c.step === "fencing");
    if (ready.length > 0 && healthy && mayFire) {
      if (!this.lockHeld) {
        if (!this.lockRequested) {
          this.lockRequested = true;
          out.push({ kind: "acquire-fence-lock" });
        }
      } else {
        for (const [member, c] of ready) {
          if (c.step !== "ready") continue;
          this.cases.set(member, {
            step: "fencing",
            incarnation: c.incarnation,
            attempt: c.attempt,
            revived: false,
          });
          out.push({ kind: "fence", member, incarnation: c.incarnation, attempt: c.attempt });
        }
      }
    } else if (this.lockHeld && !inFlight && this.noticesPending === 0) {
      // Nothing left to fire: let another member's fence through.
      this.lockHeld = false;
      out.push({ kind: "release-fence-lock" });
    }
    return out;
  }
}
