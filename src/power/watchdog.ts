// Self-fencing through a watchdog device (/dev/watchdog by default).
//
// The member's side: opening the device arms it, any write feeds it, and it resets the machine if
// nothing is written within its timeout. A clean stop writes the magic 'V' as the last write
// before closing, which disarms it; closing without it (a crash) leaves it armed, so the machine
// resets. The daemon feeds it only after a write to both quorum partitions succeeded.
//
// The peers' side: a watchdog cannot be asked for an outlet state. A peer is treated as off only
// once its watchdog has surely fired: WATCHDOG_SAFETY_FACTOR times its timeout after its last
// sign of life. The switch below waits that long from the decision to fence (the peer had stopped
// writing its heartbeat before we decided); if its heartbeat moves meanwhile, the fencing core
// measures the wait again from its last movement (src/core/fencing.ts).
import { closeSync, constants, fstatSync, openSync, statSync, writeSync } from "node:fs";
import { rawio } from "../disk/rawio.js";
import { PowerSwitchError } from "./errors.js";
import { Steps } from "./steps.js";
import type { OutletState, PowerSwitch, StepObserver } from "./switch.js";

export const DEFAULT_WATCHDOG_DEVICE = "/dev/watchdog";
export const WATCHDOG_SAFETY_FACTOR = 2;
const KEEPALIVE = Buffer.from([0]);
const MAGIC_CLOSE = Buffer.from("V");

export interface WatchdogOptions {
  /** The timeout cluster.conf gives: set on the device, which must take it or less. */
  timeoutSeconds?: number;
  /** The device must not fire sooner than this (heartbeat_interval + io_timeout): between two
   * feeds of a healthy member there may be that long. */
  minimumSeconds?: number;
  /** Accept a FIFO or a regular file in place of the device: for tests only. */
  allowStandIn?: boolean;
}

/** How long after a member's last sign of life its watchdog has surely fired. */
export function watchdogFenceWaitMs(timeoutSeconds: number): number {
  return timeoutSeconds * 1000 * WATCHDOG_SAFETY_FACTOR;
}

/** The member's own watchdog. */
export class Watchdog {
  private fd: number | undefined;
  /** The timeout the device took, once armed (undefined for a stand-in, which has none). */
  timeoutSeconds: number | undefined;

  constructor(
    readonly device: string = DEFAULT_WATCHDOG_DEVICE,
    private readonly options: WatchdogOptions = {},
  ) {}

  get armed(): boolean {
    return this.fd !== undefined;
  }

  /** Without arming it: whether the device is there and could be a watchdog (a character device,
   * or a stand-in where those are allowed). */
  check(): void {
    const fail = (kind: "config" | "disconnected", why: string) =>
      new PowerSwitchError(kind, `watchdog ${this.device}`, undefined, "arming", why);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(this.device);
    } catch {
      throw fail(
        "disconnected",
        "there is no such device; load a watchdog driver (softdog, as a last resort)",
      );
    }
    const standIn = (stat.isFIFO() || stat.isFile()) && this.options.allowStandIn === true;
    if (!stat.isCharacterDevice() && !standIn)
      throw fail("config", "it is not a character device, so it cannot reset this machine");
  }

  /**
   * Opens (and so arms) the device, sets its timeout and reads back what it took. It must already
   * exist and be a watchdog: opening a missing /dev/watchdog must not create a plain file that arms
   * nothing, and a character device that does not answer the watchdog ioctls (/dev/null, say)
   * resets nothing either. A watchdog is single-open, so a second opener gets EBUSY. A device that
   * keeps a longer timeout than configured is refused: peers would count this member off before
   * it fired. Arm it only once the member can feed it: after joining.
   */
  open(): void {
    if (this.fd !== undefined) return;
    const fail = (why: string) =>
      new PowerSwitchError("config", `watchdog ${this.device}`, undefined, "arming", why);
    let fd: number;
    try {
      fd = openSync(this.device, constants.O_WRONLY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "EIO";
      const why =
        code === "EBUSY"
          ? "another process holds it (a watchdog can be opened once)"
          : code === "ENOENT"
            ? "there is no such device; load a watchdog driver (softdog, as a last resort)"
            : (err as Error).message;
      throw new PowerSwitchError("disconnected", `watchdog ${this.device}`, undefined, "arming", why);
    }
    const stat = fstatSync(fd);
    const standIn = stat.isFIFO() || stat.isFile();
    if (standIn && this.options.allowStandIn) {
      this.fd = fd;
      return;
    }
    const refuse = (why: string) => {
      // Disarm what opening just armed, then refuse.
      writeSync(fd, MAGIC_CLOSE);
      closeSync(fd);
      return fail(why);
    };
    if (!stat.isCharacterDevice()) {
      closeSync(fd);
      throw fail("it is not a character device, so it cannot reset this machine");
    }
    const { timeoutSeconds: configured, minimumSeconds } = this.options;
    let actual: number;
    try {
      actual = rawio.watchdogTimeout(fd, configured ?? 0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "EIO";
      throw refuse(
        code === "ENOTTY"
          ? "it does not answer the watchdog ioctls (ENOTTY), so it is no watchdog and cannot reset this machine"
          : `its timeout could not be set or read: ${(err as Error).message}`,
      );
    }
    if (configured !== undefined && actual > configured)
      throw refuse(
        `it keeps a timeout of ${actual} s although ${configured} s was asked for; set the driver's timeout (for softdog: soft_margin=${configured})`,
      );
    if (minimumSeconds !== undefined && actual <= minimumSeconds)
      throw refuse(
        `it took a timeout of ${actual} s, which a healthy member could outlast between two feeds (heartbeat_interval + io_timeout = ${minimumSeconds} s)`,
      );
    this.fd = fd;
    this.timeoutSeconds = actual;
  }

  /** Feeds the watchdog: any write is a keepalive. */
  kick(): void {
    if (this.fd === undefined)
      throw new PowerSwitchError(
        "config",
        `watchdog ${this.device}`,
        undefined,
        "feeding",
        "it is not armed",
      );
    writeSync(this.fd, KEEPALIVE);
  }

  /** Disarms cleanly: 'V' in the last write, then close. */
  disarm(): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, MAGIC_CLOSE);
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes without the magic 'V': the watchdog stays armed and will fire (a deliberate self-fence). */
  abandon(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface WatchdogSwitchOptions {
  /** The peer's watchdog timeout in seconds, from its configuration. */
  timeoutSeconds: number;
  observer?: StepObserver;
}

/** A peer that fences itself through its watchdog, seen from the member that fences it. */
export class WatchdogSwitch implements PowerSwitch {
  readonly type = "watchdog" as const;
  readonly confirmation = "time" as const;
  readonly name: string;
  private readonly steps: Steps;

  constructor(private readonly options: WatchdogSwitchOptions) {
    if (!(options.timeoutSeconds > 0)) {
      throw new PowerSwitchError(
        "config",
        "watchdog",
        undefined,
        "configuration",
        "the watchdog timeout must be a positive number of seconds",
      );
    }
    this.name = `watchdog (${options.timeoutSeconds} s)`;
    this.steps = new Steps(this.name, options.observer);
  }

  /** How long after the decision to fence the peer counts as off. */
  get fenceWaitMs(): number {
    return watchdogFenceWaitMs(this.options.timeoutSeconds);
  }

  async health(): Promise<void> {
    this.steps.note("health", "a watchdog has nothing to ask; the peer's own daemon feeds it");
  }

  async status(outlet: string): Promise<OutletState> {
    throw this.steps
      .forOutlet(outlet)
      .error("unsupported", "status", "a watchdog cannot report whether a member is on");
  }

  async on(outlet: string): Promise<void> {
    this.steps.forOutlet(outlet).note("on", "a member reset by its watchdog starts again by itself");
  }

  async off(outlet: string): Promise<void> {
    const steps = this.steps.forOutlet(outlet);
    const wait = this.fenceWaitMs;
    await steps.run(
      "waiting for its watchdog",
      wait + 1_000,
      () => new Promise((r) => setTimeout(r, wait)),
      () => `${wait} ms`,
    );
    steps.note(
      "off assumed",
      `its watchdog has surely fired (${WATCHDOG_SAFETY_FACTOR} x ${this.options.timeoutSeconds} s)`,
    );
  }

  async reboot(outlet: string): Promise<void> {
    await this.off(outlet);
    await this.on(outlet);
  }

  async close(): Promise<void> {}
}
