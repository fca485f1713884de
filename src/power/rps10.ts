// WTI RPS-10 on a serial line (9600 8N1), through the serialport package.
//
// Each operation takes the line for itself (serialport's exclusive lock), resets the controller
// with a DTR drop and waits for its "RPS-10 Ready" banner, discards anything older still in the
// buffers, sends one frame and waits for this outlet's "Plug N ..." line and "Complete". A
// pseudo-terminal has no modem lines: where the DTR ioctl is refused (ENOTTY), the reset and the
// banner are skipped and the frame is sent at once.
import { SerialPort } from "serialport";
import { LineClosed, PowerSwitchError } from "./errors.js";
import {
  isRps10Address,
  LineSplitter,
  parseRps10Line,
  RPS10_BAUD,
  type Rps10Op,
  type Rps10Reply,
  rps10Frame,
} from "./rps10-protocol.js";
import { Steps } from "./steps.js";
import type { OutletState, PowerSwitch, StepObserver } from "./switch.js";

export interface Rps10Timeouts {
  open: number;
  /** The controller prints its banner 5-10 s after a reset, by the drivers that ran on hardware. */
  banner: number;
  /** DTR low this long resets the controller. */
  dtrLow: number;
  send: number;
  /** From the frame to "Plug N ...". */
  reply: number;
  /** From "Plug N ..." to "Complete". */
  complete: number;
  /**
   * On a line without modem control, how long the line must stay silent before a frame is sent.
   * There is no reset to resynchronise such a line, so this is what keeps a late reply to an
   * earlier, abandoned command from being taken as the answer to this one.
   */
  quiet: number;
}

export const RPS10_TIMEOUTS: Rps10Timeouts = {
  open: 5_000,
  banner: 12_000,
  dtrLow: 500,
  send: 10_000,
  reply: 10_000,
  complete: 14_000,
  quiet: 200,
};

export interface Rps10Options {
  device: string;
  timeouts?: Partial<Rps10Timeouts>;
  observer?: StepObserver;
}

/** The replies of one command, fed as lines arrive. */
class ReplyWaiter {
  private lines: Rps10Reply[] = [];
  private wake: (() => void) | undefined;
  private closed: Error | undefined;

  push(reply: Rps10Reply): void {
    this.lines.push(reply);
    this.wake?.();
  }

  /** Forgets every reply received so far. */
  clear(): void {
    this.lines = [];
  }

  fail(err: Error): void {
    this.closed = err;
    this.wake?.();
  }

  /** Resolves once nothing has arrived for `ms`, discarding whatever does arrive meanwhile. */
  async quiet(ms: number, signal: AbortSignal): Promise<void> {
    for (;;) {
      this.lines = [];
      const heard = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        this.wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            resolve(false);
          },
          { once: true },
        );
      });
      this.wake = undefined;
      if (!heard || signal.aborted) return;
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
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
      this.wake = undefined;
    }
  }
}

export class Rps10Switch implements PowerSwitch {
  readonly type = "rps10" as const;
  readonly confirmation = "switch" as const;
  readonly name: string;
  private readonly steps: Steps;
  private readonly timeouts: Rps10Timeouts;

  constructor(private readonly options: Rps10Options) {
    this.name = `rps10 ${options.device}`;
    this.steps = new Steps(this.name, options.observer);
    this.timeouts = { ...RPS10_TIMEOUTS, ...options.timeouts };
  }

  /** The controller answers a status request for every module ('*'). */
  async health(): Promise<void> {
    await this.command(this.steps, "*", "?");
  }

  async status(outlet: string): Promise<OutletState> {
    return this.command(this.checked(outlet), outlet, "?");
  }

  async on(outlet: string): Promise<void> {
    const steps = this.checked(outlet);
    const state = await this.command(steps, outlet, "1");
    if (state !== "on")
      throw steps.error(
        "not-confirmed",
        "on confirmed",
        `the switch answered that plug ${outlet} is ${state}`,
      );
    steps.note("on confirmed", `plug ${outlet} on`);
  }

  async off(outlet: string): Promise<void> {
    const steps = this.checked(outlet);
    const state = await this.command(steps, outlet, "0");
    if (state !== "off")
      throw steps.error(
        "not-confirmed",
        "off confirmed",
        `the switch answered that plug ${outlet} is ${state}`,
      );
    steps.note("off confirmed", `plug ${outlet} off`);
  }

  /** Off and on as two commands, so off is confirmed by its own "Complete" before on is sent. */
  async reboot(outlet: string): Promise<void> {
    await this.off(outlet);
    await this.on(outlet);
  }

  async close(): Promise<void> {}

  private checked(outlet: string): Steps {
    const steps = this.steps.forOutlet(outlet);
    if (!isRps10Address(outlet) || outlet === "*") {
      throw steps.error(
        "unknown-outlet",
        "checking the outlet",
        `an RPS-10 outlet is a module address 0-9, not "${outlet}"`,
      );
    }
    return steps;
  }

  /** One session: open, reset, send one frame, read this outlet's state and "Complete", close. */
  private async command(steps: Steps, address: string, op: Rps10Op): Promise<OutletState> {
    const t = this.timeouts;
    const device = this.options.device;
    const port = new SerialPort({
      path: device,
      baudRate: RPS10_BAUD,
      dataBits: 8,
      parity: "none",
      stopBits: 1,
      autoOpen: false,
      lock: true,
    });
    const waiter = new ReplyWaiter();
    const splitter = new LineSplitter();
    port.on("data", (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) waiter.push(parseRps10Line(line));
    });
    port.on("close", () => waiter.fail(new LineClosed("the serial line closed")));
    port.on("error", (err: Error) => waiter.fail(new LineClosed(err.message)));
    const line = (what: string, work: (cb: (err: Error | null) => void) => void) =>
      call(work).catch((err: unknown) => {
        throw steps.error("disconnected", what, err instanceof Error ? err.message : String(err));
      });
    let timedOut = false;
    try {
      await steps.run(
        "opening the line",
        t.open,
        (signal) => openPort(port, signal),
        () => `${device} at 9600 8N1`,
      );
      // Whatever is waiting on the line is older than this command: discard it before the reset,
      // so that only a banner printed after the reset counts.
      await line("flushing the line", (cb) => port.flush(cb));
      splitter.clear();
      waiter.clear();
      const reset = await this.resetController(steps, port);
      if (reset) {
        await steps.run("banner", t.banner, (signal) =>
          waiter.next((r) => (r.kind === "ready" ? true : undefined), signal),
        );
        waiter.clear();
      } else {
        // No reset on this line: wait until it is quiet, for longer if an earlier command here
        // was abandoned, since its reply may still come.
        const quietMs = Math.max(t.quiet, abandonedUntil(device) - Date.now());
        await steps.run(
          "line quiet",
          quietMs + t.reply + t.complete,
          (signal) => waiter.quiet(quietMs, signal),
          () => `${quietMs} ms`,
        );
      }
      const verb = op === "0" ? "off" : op === "1" ? "on" : "status";
      await steps.run(`${verb} sent`, t.send, () =>
        line(`${verb} sent`, (cb) => port.write(rps10Frame(address, op), (err) => cb(err ?? null))).then(() =>
          line(`${verb} sent`, (cb) => port.drain(cb)),
        ),
      );
      let state: OutletState = "off";
      if (address !== "*") {
        state = await steps.run(
          "reply",
          t.reply,
          (signal) =>
            waiter.next((r) => (r.kind === "plug" && r.plug === address ? r.state : undefined), signal),
          (s) => `plug ${address} ${s}`,
        );
      }
      await steps.run("complete", t.complete, (signal) =>
        waiter.next((r) => (r.kind === "complete" ? true : undefined), signal),
      );
      return state;
    } catch (err) {
      timedOut = err instanceof PowerSwitchError && err.kind === "timeout";
      throw err;
    } finally {
      if (timedOut) markAbandoned(device, t.reply + t.complete);
      if (port.isOpen) await call((cb) => port.close(cb)).catch(() => {});
    }
  }

  /** Drops and raises DTR; false on a line without modem control (a pty), where it is skipped. */
  private async resetController(steps: Steps, port: SerialPort): Promise<boolean> {
    try {
      await call((cb) => port.set({ dtr: false }, cb));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/Inappropriate ioctl|ENOTTY/i.test(message)) {
        steps.note(
          "no modem lines",
          "DTR cannot be toggled on this line (a pseudo-terminal); sending without a reset",
        );
        return false;
      }
      throw steps.error("disconnected", "DTR reset", message);
    }
    await new Promise((r) => setTimeout(r, this.timeouts.dtrLow));
    await call((cb) => port.set({ dtr: true }, cb)).catch((err: unknown) => {
      throw steps.error("disconnected", "DTR reset", err instanceof Error ? err.message : String(err));
    });
    steps.note("DTR reset", `${this.timeouts.dtrLow} ms low`);
    return true;
  }
}

/** Opens the port; a port that opens after the step gave up on it is closed again at once, so it
 * does not keep the line's exclusive lock. */
function openPort(port: SerialPort, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let gaveUp = false;
    signal.addEventListener("abort", () => (gaveUp = true), { once: true });
    port.open((err) => {
      if (gaveUp) {
        if (!err) port.close(() => {});
        return;
      }
      if (err) reject(new LineClosed(err.message.replace(/^Error: /, "")));
      else resolve();
    });
  });
}

/**
 * Lines on which a command was abandoned (it timed out), and until when its late reply may still
 * arrive. Only this process knows: another process using the same line afterwards relies on its
 * quiet wait alone, which is why a line without modem control is for simulators, and a real
 * RPS-10 line is reset with DTR.
 */
const abandoned = new Map<string, number>();
const MAX_ABANDONED_LINES = 64;

function markAbandoned(device: string, windowMs: number): void {
  if (abandoned.size >= MAX_ABANDONED_LINES) abandoned.clear();
  abandoned.set(device, Date.now() + windowMs);
}

function abandonedUntil(device: string): number {
  const until = abandoned.get(device) ?? 0;
  if (until <= Date.now()) abandoned.delete(device);
  return until;
}

/** Wraps a node-style callback API. */
function call(start: (cb: (err: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => start((err) => (err ? reject(err) : resolve())));
}
