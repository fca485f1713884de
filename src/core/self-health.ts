// Whether this member may act, or must stop at once: the rule behind self-fencing.
//
// Pure: it is told when each status write to both copies started and how it ended, and what this
// member's mailbox says, each at a time on this member's monotonic clock.
// - A member is healthy while its last write to both copies finished within io_timeout and no
//   later write has been pending longer than that. Only a healthy member may fence (invariant 2).
// - A member that cannot write both copies within io_timeout, or that finds a notice that it was
//   fenced in its current incarnation, must self-fence: its peers may already have decided it is
//   dead and be about to take over its services.
import { type Mail, MailKind } from "../disk/mailbox-block.js";

export type SelfFenceReason =
  | { kind: "io-timeout"; detail: string }
  | { kind: "fenced-notice"; by: number; incarnation: number };

export class SelfHealth {
  /** My clock when a write to both copies last completed in time. */
  private lastGoodMs: number;
  /** My clock when the oldest write still pending started, if any. */
  private pendingSinceMs: number | undefined;
  private reason: SelfFenceReason | undefined;
  /** The last cycle could not read the status region: this member's view of its peers is stale. */
  private readFailing = false;

  constructor(
    private readonly ioTimeoutMs: number,
    private readonly incarnation: number,
    /** Joining: the first write to both copies has already succeeded at this time. */
    joinedAtMs: number,
  ) {
    if (!(ioTimeoutMs > 0)) throw new RangeError("io_timeout must be positive");
    this.lastGoodMs = joinedAtMs;
  }

  writeStarted(nowMs: number): void {
    this.pendingSinceMs ??= nowMs;
  }

  /** A write to both copies finished; `ok` only when both copies took it. */
  writeFinished(ok: boolean, startedMs: number, nowMs: number): void {
    this.pendingSinceMs = undefined;
    if (ok && nowMs - startedMs <= this.ioTimeoutMs) {
      this.lastGoodMs = nowMs;
      return;
    }
    this.reason ??= {
      kind: "io-timeout",
      detail: ok
        ? `a status write took ${nowMs - startedMs} ms, longer than io_timeout (${this.ioTimeoutMs} ms)`
        : "a status write to one of the quorum partitions failed",
    };
  }

  /** Whether the cycle's read of everyone's status worked. A member that cannot see its peers
   * must not fence any of them: their counters may be moving where it cannot look. */
  readFinished(ok: boolean): void {
    this.readFailing = !ok;
  }

  /** A message read from my own mailbox. */
  mail(m: Mail): void {
    if (m.kind === MailKind.Fenced && m.incarnation === this.incarnation) {
      this.reason ??= { kind: "fenced-notice", by: m.from, incarnation: m.incarnation };
    }
  }

  /** Set once this member must stop; it never clears, since only a restart gives a new incarnation. */
  mustSelfFence(nowMs: number): SelfFenceReason | undefined {
    if (this.reason === undefined) {
      const stuckMs = this.pendingSinceMs === undefined ? 0 : nowMs - this.pendingSinceMs;
      if (stuckMs > this.ioTimeoutMs) {
        this.reason = {
          kind: "io-timeout",
          detail: `a status write has been pending for ${stuckMs} ms, longer than io_timeout (${this.ioTimeoutMs} ms)`,
        };
      }
    }
    return this.reason;
  }

  /**
   * Healthy enough to fence a peer: the last write to both copies landed within io_timeout. A
   * member that was stalled (SIGSTOP, a swap storm) is not healthy until it writes again, so it
   * cannot fence on a view it formed before the stall.
   */
  healthy(nowMs: number): boolean {
    return (
      this.mustSelfFence(nowMs) === undefined &&
      !this.readFailing &&
      nowMs - this.lastGoodMs <= this.ioTimeoutMs
    );
  }
}
