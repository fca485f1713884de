// Whether this member may act, or must stop at once: the rule behind self-fencing.
//
// Pure: it is told when each status write to both copies started and how it ended, what this
// member's mailbox says and whether it could be read, and what the status blocks say of this
// member's own life, each at a time on this member's monotonic clock.
// - A member is healthy while its last write to both copies finished within io_timeout and no
//   later write has been pending longer than that. Only a healthy member may fence (invariant 2).
// - A member that cannot write both copies within io_timeout must self-fence: its peers may
//   already have decided it is dead and be about to take over its services.
// - So must a member that learns its current life was fenced (invariant 3), however it learns
//   it: a notice in its mailbox, or a peer's status naming that life. And one that cannot read
//   its own mailbox for tko intervals: the notice that would stop it may be waiting there.
// - And one whose own status block names a newer life of this member: another daemon runs in its
//   slot, and the disk lock counts this life as over.
import { type Mail, MailKind } from "../disk/mailbox-block.js";

export type SelfFenceReason =
  | { kind: "io-timeout"; detail: string }
  | { kind: "fenced-notice"; by: number; incarnation: number }
  /** A peer's status block says its fence confirmed this life off. */
  | { kind: "fenced-status"; by: number; incarnation: number }
  | { kind: "mailbox-unreadable"; detail: string }
  /** This member's own status block holds a newer life of this member. */
  | { kind: "superseded"; incarnation: number };

export interface SelfHealthConfig {
  ioTimeoutMs: number;
  incarnation: number;
  /** How long this member's mailbox may stay unreadable: its peers' hang window, tko intervals. */
  mailboxBlindMs: number;
}

export class SelfHealth {
  /** My clock when a write to both copies last completed in time, and when that write began:
   * peers saw this member's counter move no earlier than that. */
  private lastGoodMs: number;
  private lastGoodStartMs: number;
  /** My clock when the oldest write still pending started, if any. */
  private pendingSinceMs: number | undefined;
  private reason: SelfFenceReason | undefined;
  /** The last cycle could not read the status region: this member's view of its peers is stale. */
  private readFailing = false;
  /** My clock when a read of this member's mailbox first failed, of those failing in a row. */
  private mailFailingSinceMs: number | undefined;

  constructor(
    private readonly config: SelfHealthConfig,
    /** Joining: the first write to both copies has already succeeded at this time. */
    joinedAtMs: number,
  ) {
    if (!(config.ioTimeoutMs > 0)) throw new RangeError("io_timeout must be positive");
    if (!(config.mailboxBlindMs > config.ioTimeoutMs))
      throw new RangeError("the mailbox may stay unreadable only for longer than io_timeout");
    this.lastGoodMs = joinedAtMs;
    this.lastGoodStartMs = joinedAtMs;
  }

  /** How long this member's counter may have stood still in its peers' eyes: since the last
   * write that landed began. */
  stillForMs(nowMs: number): number {
    return nowMs - this.lastGoodStartMs;
  }

  writeStarted(nowMs: number): void {
    this.pendingSinceMs ??= nowMs;
  }

  /** A write to both copies finished; `ok` only when both copies took it. */
  writeFinished(ok: boolean, startedMs: number, nowMs: number): void {
    this.pendingSinceMs = undefined;
    if (ok && nowMs - startedMs <= this.config.ioTimeoutMs) {
      this.lastGoodMs = nowMs;
      this.lastGoodStartMs = startedMs;
      return;
    }
    this.reason ??= {
      kind: "io-timeout",
      detail: ok
        ? `a status write took ${nowMs - startedMs} ms, longer than io_timeout (${this.config.ioTimeoutMs} ms)`
        : "a status write to one of the quorum partitions failed",
    };
  }

  /** Whether the cycle's read of everyone's status worked, and of this member's mailbox. A member
   * that cannot see its peers must not fence any of them: their counters may be moving where it
   * cannot look. */
  readFinished(statusOk: boolean, mailOk: boolean, nowMs: number): void {
    this.readFailing = !statusOk;
    if (mailOk) this.mailFailingSinceMs = undefined;
    else this.mailFailingSinceMs ??= nowMs;
  }

  /** A message read from my own mailbox. */
  mail(m: Mail): void {
    if (m.kind === MailKind.Fenced && m.incarnation === this.config.incarnation) {
      this.reason ??= { kind: "fenced-notice", by: m.from, incarnation: m.incarnation };
    }
  }

  /** A peer's status block says its fence confirmed `incarnation` of this member off. */
  fencedBy(peer: number, incarnation: number): void {
    if (incarnation === this.config.incarnation)
      this.reason ??= { kind: "fenced-status", by: peer, incarnation };
  }

  /** This member's own status block, as read back: a newer life there means another daemon. */
  ownStatus(incarnation: number): void {
    if (incarnation > this.config.incarnation) this.reason ??= { kind: "superseded", incarnation };
  }

  /** Set once this member must stop; it never clears, since only a restart gives a new incarnation. */
  mustSelfFence(nowMs: number): SelfFenceReason | undefined {
    if (this.reason === undefined) {
      const { ioTimeoutMs, mailboxBlindMs } = this.config;
      const stuckMs = this.pendingSinceMs === undefined ? 0 : nowMs - this.pendingSinceMs;
      if (stuckMs > ioTimeoutMs) {
        this.reason = {
          kind: "io-timeout",
          detail: `a status write has been pending for ${stuckMs} ms, longer than io_timeout (${ioTimeoutMs} ms)`,
        };
      } else if (this.mailFailingSinceMs !== undefined && nowMs - this.mailFailingSinceMs > mailboxBlindMs) {
        this.reason = {
          kind: "mailbox-unreadable",
          detail: `this member's mailbox could not be read for ${Math.round(nowMs - this.mailFailingSinceMs)} ms, longer than its peers' hang window (${mailboxBlindMs} ms), so a notice that it was fenced could go unseen`,
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
      nowMs - this.lastGoodMs <= this.config.ioTimeoutMs
    );
  }
}
