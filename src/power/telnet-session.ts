// One telnet session with a switch's text interface: bytes in, option negotiation answered, and
// waits for the output to end in a prompt. What a switch may send without a prompt is bounded:
// a switch (or anything posing as one) that talks on and on is an error, not a growing buffer.
import type { Socket } from "node:net";
import { abortableWait } from "./abortable.js";
import { Garbled, LineClosed } from "./errors.js";
import { TelnetFilter } from "./telnet.js";

/**
 * Output kept while waiting for a prompt. A screen of a power switch (a 64-plug status page, a
 * help text) is a few KiB; a switch that sends more than this without a prompt is not speaking
 * the interface we expect.
 */
export const MAX_SESSION_OUTPUT = 64 * 1024;

/**
 * How much of the end of the output a prompt is looked for in. Prompts end the output, so a
 * long screen is not searched from its start again for every chunk that arrives.
 */
const PROMPT_WINDOW = 4 * 1024;

export class TelnetSession {
  private text = "";
  private wake: (() => void) | undefined;
  private closedBecause: Error | undefined;
  private readonly filter = new TelnetFilter();

  /** `where` names the switch in errors: "the switch at 10.0.0.5:23". */
  constructor(
    private readonly socket: Socket,
    private readonly where: string,
  ) {
    socket.on("data", (chunk: Buffer) => {
      if (this.closedBecause !== undefined) return;
      const { data, replies } = this.filter.push(chunk, "client");
      if (replies.length > 0) socket.write(replies);
      if (this.text.length + data.length > MAX_SESSION_OUTPUT) {
        this.text = "";
        this.closedBecause = new Garbled(
          `${this.where} sent more than ${MAX_SESSION_OUTPUT} bytes without a prompt; check that it is the switch type configured and that its command prompt is one this driver knows`,
        );
        socket.destroy();
      } else this.text += data.toString("latin1");
      this.wake?.();
    });
    socket.on("close", () => {
      this.closedBecause ??= new LineClosed("the switch closed the connection");
      this.wake?.();
    });
    socket.on("error", (err) => {
      this.closedBecause ??= new LineClosed(err.message);
      this.wake?.();
    });
  }

  /** Output received and not yet taken by a wait: never more than MAX_SESSION_OUTPUT. */
  get buffered(): number {
    return this.text.length;
  }

  /** Whether the connection is over (closed, failed, or given up on). */
  get closed(): boolean {
    return this.closedBecause !== undefined;
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** Waits until the output ends in one of `patterns`; returns its index and the output, consumed. */
  async until(patterns: readonly RegExp[], signal: AbortSignal): Promise<{ index: number; output: string }> {
    for (;;) {
      const tail = this.text.length > PROMPT_WINDOW ? this.text.slice(-PROMPT_WINDOW) : this.text;
      const index = patterns.findIndex((p) => p.test(tail));
      if (index !== -1) {
        const output = this.text;
        this.text = "";
        return { index, output };
      }
      if (this.closedBecause !== undefined) throw this.closedBecause;
      if (signal.aborted) throw new Error("aborted");
      await abortableWait(signal, undefined, (settle) => {
        this.wake = () => settle(undefined);
        return () => {
          this.wake = undefined;
        };
      });
    }
  }

  /**
   * Logs out with `command`; resolves once the switch has hung up, or after `waitMs`, with the
   * connection closed either way. A switch that serves one session at a time would find a next
   * session opened before it hangs up busy.
   */
  logOut(command: string, waitMs: number): Promise<void> {
    if (this.closedBecause !== undefined) {
      this.close();
      return Promise.resolve();
    }
    this.send(command);
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.close();
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.socket.once("close", done);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
