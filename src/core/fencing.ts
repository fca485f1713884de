// Fencing a hung peer: when this member may fire its power switch, and what it does after.
//
// Pure: it is told which peers are hung, whether this member is healthy and holds the fencing
// lock, and how each power-switch action ended; it answers with actions.
// - A fence is issued only by a healthy member holding the disk lock, so with any number of
//   members exactly one fences a given peer (invariant 2).
// - In a two-member cluster the higher id waits `twoMemberDelayMs` first, so cross-cabled
//   switches do not shoot both members at once.
// - A peer counts as fenced only when its switch confirmed off (invariant 1); a failed fence is
//   retried with backoff and reported, and nothing of the peer's is recoverable meanwhile. The
//   lock is given back during a backoff so another member, perhaps with a working path to the
//   switch, may try; whoever holds the lock re-reads the peer's mailbox before firing and calls
//   resolved() when another member's notice shows it is already fenced.
// - After a confirmed fence, a notice goes into the peer's mailbox for that incarnation, so if it
//   was only stalled it stops the moment it reads its mailbox again.

/** First retry delay after a failed fence; it doubles up to FENCE_RETRY_MAX_MS. */
export const FENCE_RETRY_BASE_MS = 2_000;
export const FENCE_RETRY_MAX_MS = 60_000;

export interface FencingConfig {
  me: number;
  /** How many members the cluster has: the two-member delay applies only with exactly two. */
  members: number;
  twoMemberDelayMs: number;
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
    }
  | { step: "backoff"; incarnation: number; attempt: number; untilMs: number }
  | { step: "fenced"; incarnation: number };

export class Fencing {
  private readonly cases = new Map<number, Case>();
  private lockHeld = false;
  private lockRequested = false;

  constructor(private readonly config: FencingConfig) {}

  /** Liveness found `member` hung in `incarnation`. Repeats are harmless. */
  hung(member: number, incarnation: number, nowMs: number): void {
    if (member === this.config.me) throw new Error("a member never fences itself");
    const existing = this.cases.get(member);
    if (existing?.step === "fencing") {
      // The power cycle in flight kills whatever runs on that machine, a newer life included:
      // its confirmation fences the newer incarnation too. Starting over would release the lock
      // with a fence still in flight.
      if (incarnation >= existing.incarnation) {
        existing.incarnation = incarnation;
        existing.revived = false;
      }
      return;
    }
    if (existing !== undefined && incarnation <= existing.incarnation) return;
    const { members, me, twoMemberDelayMs } = this.config;
    const delayed = members === 2 && me > member && twoMemberDelayMs > 0;
    this.cases.set(
      member,
      delayed
        ? { step: "delay", incarnation, untilMs: nowMs + twoMemberDelayMs }
        : { step: "ready", incarnation, attempt: 1 },
    );
  }

  /**
   * The peer's counter moved again, or another member's fenced notice for it was found: drop the
   * case unless a fence is in flight (a power cycle cannot be taken back) or done (only a
   * rejoin in a new incarnation closes it).
   */
  resolved(member: number): void {
    const c = this.cases.get(member);
    if (c?.step === "fencing") c.revived = true;
    else if (c !== undefined && c.step !== "fenced") this.cases.delete(member);
  }

  /**
   * The fencing lock is ours. `notices` are the fenced notices found in the mailboxes of the peers
   * this member is waiting to fence, read under the lock: a peer another member already fenced
   * is fenced, and must not be power-cycled again (it may be restarting).
   */
  lockGranted(notices: readonly FencedNotice[] = []): void {
    this.lockHeld = true;
    this.lockRequested = false;
    for (const n of notices) {
      const c = this.cases.get(n.member);
      if (c === undefined || c.step === "fencing" || c.step === "fenced" || c.incarnation > n.incarnation)
        continue;
      this.cases.set(n.member, { step: "fenced", incarnation: c.incarnation });
    }
  }

  /** The lock could not be taken (an I/O error on the lock blocks): ask again on the next tick. */
  lockFailed(): void {
    this.lockRequested = false;
  }

  /** True once the switch confirmed the peer off: only then may its services be taken over. */
  isFenced(member: number, incarnation: number): boolean {
    const c = this.cases.get(member);
    return c?.step === "fenced" && c.incarnation === incarnation;
  }

  /** The peer restarted and rejoined in a new incarnation: its old case is closed. */
  rejoined(member: number, incarnation: number): void {
    const c = this.cases.get(member);
    if (c === undefined || incarnation <= c.incarnation) return;
    // A life that began while its machine's power cycle is in flight ends with it.
    if (c.step === "fencing") c.incarnation = incarnation;
    else this.cases.delete(member);
  }

  fenceResult(member: number, confirmedOff: boolean, detail: string, nowMs: number): FenceAction[] {
    const c = this.cases.get(member);
    if (c?.step !== "fencing")
      throw new Error(`a fence result for member ${member}, which is not being fenced`);
    const { incarnation, attempt } = c;
    if (confirmedOff) {
      this.cases.set(member, { step: "fenced", incarnation });
      return [
        { kind: "write-fenced-notice", member, incarnation },
        { kind: "report", member, incarnation, message: `fenced: ${detail}` },
      ];
    }
    if (c.revived) {
      // It is writing its heartbeat again: fencing it now would be a false failover. If it hangs
      // again, liveness reports it again.
      this.cases.delete(member);
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
    this.cases.set(member, { step: "backoff", incarnation, attempt: attempt + 1, untilMs: nowMs + delayMs });
    return [
      {
        kind: "report",
        member,
        incarnation,
        message: `fence attempt ${attempt} failed (${detail}); its services stay where they are; retrying in ${delayMs} ms`,
      },
    ];
  }

  /** Moves every case on as far as time, health and the lock allow. */
  tick(nowMs: number, healthy: boolean): FenceAction[] {
    const out: FenceAction[] = [];
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
    if (ready.length > 0 && healthy) {
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
    } else if (this.lockHeld && !inFlight) {
      // Nothing left to fire: let another member's fence through.
      this.lockHeld = false;
      out.push({ kind: "release-fence-lock" });
    }
    return out;
  }
}
