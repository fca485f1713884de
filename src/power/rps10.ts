// WTI RPS-10 on a serial line (9600 8N1), through the serialport package.
//
// Each operation takes the line for itself (serialport's exclusive lock), resets the controller
// with a DTR drop and waits for its "RPS-10 Ready" banner, discards anything older still in the
// buffers, sends one frame and waits for this outlet's "Plug N ..." line and "Complete". A
// pseudo-terminal has no modem lines: where the DTR ioctl is refused (ENOTTY), the reset and the
// banner are skipped and the frame is sent once the line is quiet.
import { SerialPort } from "serialport";
import { LineBusy, LineClosed, PowerSwitchError } from "./errors.js";
import {
  isRps10Address,
  LineSplitter,
  parseRps10Line,
  RPS10_BAUD,
  type Rps10Op,
  rps10Frame,
} from "./rps10-protocol.js";
import { ReplyWaiter } from "./rps10-replies.js";
import { Steps } from "./steps.js";
import type { OutletState, PowerSwitch, StepObserver } from "./switch.js";

export interface Rps10Timeouts {
  open: number;
  /**
   * How long to keep trying to take a line another process holds (a peer's check or fence on a
   * shared line): one session of theirs on hardware is a reset, a banner and a reply.
   */
  busy: number;
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
  /**
   * After a command on a line without modem control was abandoned: how long the line must stay
   * silent once the switch has answered again before the next frame is sent. A switch that
   * comes back answers the frames it still holds one after the other, with shorter gaps than
   * this; once it has been this quiet, it holds none.
   */
  resync: number;
}

export const RPS10_TIMEOUTS: Rps10Timeouts = {
  open: 5_000,
  busy: 15_000,
  banner: 12_000,
  dtrLow: 500,
  send: 10_000,
  reply: 10_000,
  complete: 14_000,
  quiet: 200,
  resync: 1_000,
};

/** The first wait before trying a busy line again; each next wait doubles, up to the last. */
export const LINE_BUSY_FIRST_RETRY_MS = 50;
export const LINE_BUSY_LAST_RETRY_MS = 1_000;

export interface Rps10Options {
  device: string;
  timeouts?: Partial<Rps10Timeouts>;
  observer?: StepObserver;
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
    const waiter = new ReplyWaiter(`the switch on ${device}`);
    const splitter = new LineSplitter();
    let port: SerialPort | undefined;
    // A frame is on the wire whose answer was not read to its "Complete": the switch may still
    // answer it, late.
    let sent = false;
    let completed = false;
    const line = (what: string, work: (cb: (err: Error | null) => void) => void) =>
      call(work).catch((err: unknown) => {
        throw steps.error("disconnected", what, err instanceof Error ? err.message : String(err));
      });
    const send = (what: string, frame: Buffer) => {
      sent = true;
      const p = port!;
      return steps.run(what, t.send, () =>
        line(what, (cb) => p.write(frame, (err) => cb(err ?? null))).then(() =>
          line(what, (cb) => p.drain(cb)),
        ),
      );
    };
    try {
      const open = await this.openLine(
        steps,
        () =>
          new SerialPort({
            path: device,
            baudRate: RPS10_BAUD,
            dataBits: 8,
            parity: "none",
            stopBits: 1,
            autoOpen: false,
            lock: true,
          }),
      );
      port = open;
      // Listened to only once open: a refused open of a busy line must not close this session.
      open.on("data", (chunk: Buffer) => {
        for (const text of splitter.push(chunk)) waiter.push(parseRps10Line(text));
      });
      open.on("close", () => waiter.fail(new LineClosed("the serial line closed")));
      open.on("error", (err: Error) => waiter.fail(new LineClosed(err.message)));
      // Whatever is waiting on the line is older than this command: discard it before the reset,
      // so that only a banner printed after the reset counts.
      await line("flushing the line", (cb) => open.flush(cb));
      splitter.clear();
      waiter.clear();
      const reset = await this.resetController(steps, open);
      if (reset) {
        await steps.run("banner", t.banner, (signal) =>
          waiter.next((r) => (r.kind === "ready" ? true : undefined), signal),
        );
        waiter.clear();
      } else if (abandonedUntil(device) > Date.now()) {
        await this.resynchronise(steps, waiter, send);
        abandoned.delete(device);
      } else {
        // No reset on this line: send once it is quiet, so no stray output is taken for the answer.
        await steps.run(
          "line quiet",
          t.quiet + t.reply + t.complete,
          (signal) => waiter.quiet(t.quiet, signal),
          () => `${t.quiet} ms`,
        );
      }
      const verb = op === "0" ? "off" : op === "1" ? "on" : "status";
      await send(`${verb} sent`, rps10Frame(address, op));
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
      completed = true;
      return state;
    } finally {
      if (sent && !completed) markAbandoned(device, t.reply + t.complete);
      if (port?.isOpen) await call((cb) => port!.close(cb)).catch(() => {});
    }
  }

  /**
   * Brings a line without modem control back in step after a command on it was abandoned (the
   * switch hung, or answered too late). Frames the switch still holds are answered in order, and
   * their replies must not be taken for this command's. Waiting out the abandoned command's whole
   * reply budget would keep a fenced member's services down that long even after the switch came
   * back and cut the power; instead ask the switch for its status, read and discard everything
   * until it has answered something, then until it has been quiet for `resync`: every frame it
   * held before is answered by then. A switch that still says nothing fails the command here,
   * before its frame is sent.
   */
  private async resynchronise(
    steps: Steps,
    waiter: ReplyWaiter,
    send: (what: string, frame: Buffer) => Promise<unknown>,
  ): Promise<void> {
    const t = this.timeouts;
    steps.note(
      "resynchronising",
      "a command on this line was abandoned; asking the switch for its status first",
    );
    await send("status probe sent", rps10Frame("*", "?"));
    await steps.run(
      "switch answers",
      t.reply + t.complete,
      (signal) => waiter.next((r) => (r.kind === "other" ? undefined : r.kind), signal),
      (kind) => (kind === "plug" ? "a plug line" : kind),
    );
    await steps.run(
      "line quiet",
      t.resync + t.reply + t.complete,
      (signal) => waiter.quiet(t.resync, signal),
      () => `${t.resync} ms after the switch answered`,
    );
  }

  /**
   * Opens the line. A line another process holds (serialport's lock, EBUSY) is busy, not dead:
   * try again, waiting a little longer each time, until the busy budget is spent.
   */
  private async openLine(steps: Steps, create: () => SerialPort): Promise<SerialPort> {
    const t = this.timeouts;
    const device = this.options.device;
    const giveUp = Date.now() + t.busy;
    for (let wait = LINE_BUSY_FIRST_RETRY_MS; ; wait = Math.min(wait * 2, LINE_BUSY_LAST_RETRY_MS)) {
      const port = create();
      try {
        await steps.run(
          "opening the line",
          t.open,
          (signal) => openPort(port, signal),
          () => `${device} at 9600 8N1`,
        );
        return port;
      } catch (err) {
        if (!(err instanceof PowerSwitchError && err.kind === "busy")) throw err;
        if (Date.now() + wait > giveUp)
          throw steps.error(
            "busy",
            "opening the line",
            `${device} stayed in use by another process for ${t.busy} ms (${err.detail}): a peer's check or fence holds it; try again later`,
          );
        steps.note("line busy", `${err.detail}; trying again in ${wait} ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
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
    const giveUp = () => {
      gaveUp = true;
    };
    signal.addEventListener("abort", giveUp, { once: true });
    port.open((err) => {
      signal.removeEventListener("abort", giveUp);
      if (gaveUp) {
        if (!err) port.close(() => {});
        return;
      }
      if (!err) return resolve();
      const message = err.message.replace(/^Error:? /, "");
      reject(
        isLockRefusal(message)
          ? new LineBusy(`in use by another process: ${message}`)
          : new LineClosed(message),
      );
    });
  });
}

/** serialport's own lock ("Cannot lock port", flock's EAGAIN) or the tty's exclusive mode (EBUSY). */
function isLockRefusal(message: string): boolean {
  return /Cannot lock port|EBUSY|Device or resource busy/i.test(message);
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
