// The replies of one RPS-10 session, fed as lines arrive and taken by the driver's waits.
import { abortableWait } from "./abortable.js";
import { Garbled } from "./errors.js";
import type { Rps10Reply } from "./rps10-protocol.js";

/**
 * Lines kept unread at most. The longest answer is a status of the whole chain: ten "Plug N"
 * lines and "Complete"; a switch that queues many more than that without the driver taking them
 * is flooding the line, and reading on would only grow this queue.
 */
export const MAX_PENDING_REPLIES = 64;

export class ReplyWaiter {
  private lines: Rps10Reply[] = [];
  private wake: (() => void) | undefined;
  private closed: Error | undefined;

  /** `where` names the line in the error of a flooding switch ("the switch on /dev/ttyS0"). */
  constructor(private readonly where: string) {}

  /** How many lines are waiting to be read: never more than MAX_PENDING_REPLIES. */
  get pending(): number {
    return this.lines.length;
  }

  push(reply: Rps10Reply): void {
    if (this.closed) return;
    if (this.lines.length >= MAX_PENDING_REPLIES) {
      this.lines = [];
      this.fail(
        new Garbled(
          `${this.where} sent more than ${MAX_PENDING_REPLIES} lines without the answer awaited; check that it is an RPS-10 at 9600 8N1`,
        ),
      );
      return;
    }
    this.lines.push(reply);
    this.wake?.();
  }

  /** Forgets every reply received so far. */
  clear(): void {
    this.lines = [];
  }

  fail(err: Error): void {
    this.closed ??= err;
    this.wake?.();
  }

  /** Resolves once nothing has arrived for `ms`, discarding whatever does arrive meanwhile. */
  async quiet(ms: number, signal: AbortSignal): Promise<void> {
    for (let heard = true; heard; ) {
      this.lines = [];
      if (this.closed) throw this.closed;
      if (signal.aborted) return;
      heard = await abortableWait(signal, false, (settle) => {
        const timer = setTimeout(() => settle(false), ms);
        this.wake = () => settle(true);
        return () => {
          clearTimeout(timer);
          this.wake = undefined;
        };
      });
    }
  }

  /** The first reply that `match` accepts, skipping others; rejects when the line closes. */
  async next<T>(match: (r: Rps10Reply) => T | undefined, signal: AbortSignal): Promise<T> {
    for (;;) {
      while (this.lines.length > 0) {
        const found = match(this.lines.shift()!);
        if (found !== undefined) return found;
      }
      if (this.closed) throw this.closed;
      if (signal.aborted) throw new Error("aborted");
      await abortableWait(signal, undefined, (settle) => {
        this.wake = () => settle(undefined);
        return () => {
          this.wake = undefined;
        };
      });
    }
  }
}
