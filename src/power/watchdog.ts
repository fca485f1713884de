// Self-fencing through a watchdog device (/dev/watchdog by default).
//
// The member's side: opening the device arms it, any write feeds it, and it resets the machine if
// nothing is written within its timeout. A clean stop writes the magic 'V' as the last write
// before closing, which disarms it; closing without it (a crash) leaves it armed, so the machine
// resets. The daemon feeds it only after a write to both quorum partitions succeeded.
//
// The peers' side: a watchdog cannot be asked for an outlet state. A peer is treated as off only
// once its watchdog has surely fired: WATCHDOG_SAFETY_FACTOR times its timeout after we decided
// to fence it (it can have fed its watchdog no later than that moment, since it had stopped
// writing its heartbeat before we decided).
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { PowerSwitchError } from "./errors.js";
import { Steps } from "./steps.js";
import type { OutletState, PowerSwitch, StepObserver } from "./switch.js";

export const DEFAULT_WATCHDOG_DEVICE = "/dev/watchdog";
export const WATCHDOG_SAFETY_FACTOR = 2;
const KEEPALIVE = Buffer.from([0]);
const MAGIC_CLOSE = Buffer.from("V");

export interface WatchdogOptions {
  /** The timeout cluster.conf gives; a device that reports a longer one is refused. */
  timeoutSeconds?: number;
  /** Accept a FIFO or a regular file in place of the device: for tests only. */
  allowStandIn?: boolean;
  sysfsRoot?: string;
}

/** How long after a member's last sign of life its watchdog has surely fired. */
export function watchdogFenceWaitMs(timeoutSeconds: number): number {
  return timeoutSeconds * 1000 * WATCHDOG_SAFETY_FACTOR;
}

/** The member's own watchdog. */
export class Watchdog {
  private fd: number | undefined;

  constructor(
    readonly device: string = DEFAULT_WATCHDOG_DEVICE,
    private readonly options: WatchdogOptions = {},
  ) {}

  get armed(): boolean {
    return this.fd !== undefined;
  }

  /**
   * Opens (and so arms) the device. It must already exist and be a character device: opening a
   * missing /dev/watchdog must not create a plain file that arms nothing. A watchdog is
   * single-open, so a second opener gets EBUSY. A device whose timeout is longer than the
   * configured one is refused: peers would count this member off before its watchdog fired.
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
    if (!stat.isCharacterDevice() && !(standIn && this.options.allowStandIn)) {
      closeSync(fd);
      throw fail("it is not a character device, so it cannot reset this machine");
    }
    const configured = this.options.timeoutSeconds;
    const actual = deviceTimeoutSeconds(this.device, this.options.sysfsRoot);
    if (configured !== undefined && actual !== undefined && actual > configured) {
      // Disarm what opening just armed, then refuse.
      writeSync(fd, MAGIC_CLOSE);
      closeSync(fd);
      throw fail(
        `its timeout is ${actual} s but the configuration says ${configured} s; set the driver's timeout (for softdog: soft_margin=${configured})`,
      );
    }
    this.fd = fd;
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

/**
 * The timeout the kernel reports for a watchdog device, from sysfs, or undefined where it cannot
 * say (a stand-in file, or a kernel without watchdog sysfs). Lets the daemon refuse a configured
 * timeout shorter than the device's.
 */
export function deviceTimeoutSeconds(device: string, sysfsRoot = "/sys"): number | undefined {
  const m = /^\/dev\/watchdog(\d*)$/.exec(device);
  if (!m) return undefined;
  try {
    const value = Number(
      readFileSync(`${sysfsRoot}/class/watchdog/watchdog${m[1] === "" ? "0" : m[1]}/timeout`, "utf8").trim(),
    );
    return Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
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
