// A WTI RPS-10 power switch on a pseudo-terminal, speaking the real serial protocol.
//
//   npx tsx tools/sim/rps10.ts --link /tmp/rps10 [--outlets 10] [--state-file F] [--hook CMD]
//
// socat makes the pseudo-terminal and puts a symlink to it at --link; a driver opens that path as
// it would /dev/ttyS0. The simulator prints "ready PATH" once the link exists.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { FrameScanner, RPS10_BANNER } from "../../src/power/rps10-protocol.js";
import { bankOptions, COMMON_OPTIONS, oneOf, required, serveUntilSignalled } from "./cli.js";
import { OutletBank, type State } from "./outlets.js";

/** How a simulated switch misbehaves, for tests of what a driver does then. */
export type Rps10Fault =
  | "none"
  /** Ignores every frame, as a switch with a broken cable would. */
  | "silent"
  /** Prints the "Plug N ..." line and then goes quiet, never "Complete". */
  | "stall"
  /** Answers with noise instead of the protocol. */
  | "garbage"
  /** Answers correctly, but only after LATE_REPLY_MS, when a driver may have given up. */
  | "late"
  /** A relay that no longer switches: commands are answered with the outlet's unchanged state. */
  | "stuck"
  /**
   * A controller that froze: it takes frames and answers none, until resume() brings it back and
   * it answers every frame it took, in order, as a hung switch that recovers does.
   */
  | "hung";
/** The faults a program can be started with (a hung one could never be brought back). */
const RPS10_FAULTS: readonly Rps10Fault[] = ["none", "silent", "stall", "garbage", "late", "stuck"];
/** Frames a hung controller keeps to answer once it is back; older ones are lost. */
const MAX_HELD_FRAMES = 64;

export const LATE_REPLY_MS = 1_200;

export interface Rps10SimOptions {
  link: string;
  outlets?: number;
  stateFile?: string;
  hook?: string;
  /** Off time of a toggle ('T'); the drivers that ran on hardware wait up to 10 s for the "On". */
  toggleDelayMs?: number;
}

const STARTUP_TIMEOUT_MS = 5_000;

export class Rps10Simulator {
  readonly bank: OutletBank;
  fault: Rps10Fault = "none";
  /** Every frame received, in order, for tests. */
  readonly frames: { address: string; op: string }[] = [];
  private socat: ChildProcess | undefined;
  private readonly scanner = new FrameScanner();
  private held: { address: string; op: string }[] = [];
  private answers: Promise<void> = Promise.resolve();

  constructor(private readonly options: Rps10SimOptions) {
    const count = options.outlets ?? 10;
    if (!Number.isInteger(count) || count < 1 || count > 10)
      throw new RangeError("an RPS-10 chain has 1 to 10 outlets");
    this.bank = new OutletBank({
      names: [...Array(count).keys()].map(String),
      ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
      ...(options.hook !== undefined ? { hook: options.hook } : {}),
    });
  }

  get link(): string {
    return this.options.link;
  }

  async start(): Promise<void> {
    rmSync(this.options.link, { force: true });
    const socat = spawn("socat", [`pty,raw,echo=0,link=${this.options.link}`, "STDIO"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.socat = socat;
    socat.stdout?.on("data", (chunk: Buffer) => this.receive(chunk));
    let failed: Error | undefined;
    socat.on("error", (err) => {
      failed = err;
    });
    const started = Date.now();
    while (!existsSync(this.options.link)) {
      if (failed !== undefined)
        throw new Error(
          (failed as NodeJS.ErrnoException).code === "ENOENT"
            ? "the RPS-10 simulator needs socat, which is not installed (Debian package socat)"
            : `the RPS-10 simulator cannot run socat: ${failed.message}`,
        );
      if (socat.exitCode !== null || Date.now() - started > STARTUP_TIMEOUT_MS) {
        throw new Error(`socat did not create ${this.options.link}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // Power-up: the controller announces itself (a driver discards it before its command).
    this.send(`${RPS10_BANNER}\r\n`);
  }

  async stop(): Promise<void> {
    const socat = this.socat;
    if (socat === undefined || socat.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      socat.once("exit", () => resolve());
      socat.kill("SIGTERM");
    });
    rmSync(this.options.link, { force: true });
  }

  /**
   * An answer to a frame: sent once every outlet change so far has had its effect (its hook ran
   * to the end), and after every earlier answer. A real switch says Plug N Off once the relay has
   * cut the power; answering before the lab's hook killed the member's processes let a peer take
   * its services over while they still ran.
   */
  private reply(text: string): void {
    this.answers = this.answers.then(() => this.bank.settled()).then(() => this.send(text));
  }

  private send(text: string): void {
    this.socat?.stdin?.write(Buffer.from(text, "latin1"));
  }

  private receive(chunk: Buffer): void {
    for (const frame of this.scanner.push(chunk)) {
      this.frames.push(frame);
      this.handle(frame.address, frame.op);
    }
  }

  /** Brings a hung controller back: it answers every frame it took while hung, in order. */
  resume(): void {
    this.fault = "none";
    const held = this.held;
    this.held = [];
    for (const frame of held) this.answer(frame.address, frame.op);
  }

  private handle(address: string, op: string): void {
    if (this.fault === "silent") return;
    if (this.fault === "hung") {
      if (this.held.length >= MAX_HELD_FRAMES) this.held.shift();
      this.held.push({ address, op });
      return;
    }
    if (this.fault === "late") {
      setTimeout(() => this.answer(address, op), LATE_REPLY_MS);
      return;
    }
    this.answer(address, op);
  }

  private answer(address: string, op: string): void {
    if (this.fault === "garbage") {
      this.reply("\x1b[2J#@!%\r\nPl?g ~ 0ff\r\n");
      return;
    }
    // A module that is not on the chain does not answer; neither does an unknown operation.
    const targets = address === "*" ? this.bank.names : this.bank.has(address) ? [address] : [];
    if (targets.length === 0 || !["0", "1", "T", "?"].includes(op)) return;
    const line = (outlet: string, state: State) => `Plug ${outlet} ${state === "on" ? "On" : "Off"}\r\n`;
    if (op === "?") {
      for (const t of targets) this.reply(line(t, this.bank.get(t)));
      this.complete();
      return;
    }
    if (op === "0" || op === "1") {
      const state: State = op === "1" ? "on" : "off";
      for (const t of targets) {
        if (this.fault !== "stuck") this.bank.set(t, state);
        this.reply(line(t, this.bank.get(t)));
      }
      this.complete();
      return;
    }
    for (const t of targets) {
      this.bank.set(t, "off");
      this.reply(line(t, "off"));
    }
    setTimeout(() => {
      for (const t of targets) {
        this.bank.set(t, "on");
        this.reply(line(t, "on"));
      }
      this.complete();
    }, this.options.toggleDelayMs ?? 1_000);
  }

  private complete(): void {
    if (this.fault === "stall") return;
    this.reply("Complete\r\n");
  }
}

const HELP = `usage: npx tsx tools/sim/rps10.ts --link PATH [options]

A simulated WTI RPS-10 power switch on a pseudo-terminal (needs socat).

  --link PATH         where to put the symlink to the serial device (required)
  --outlets N         modules on the chain, addresses 0..N-1 (1-10, default 10)
  --state-file FILE   write the outlet states as JSON after every change
  --hook CMD          run CMD (with OUTLET and STATE set) whenever an outlet changes
  --toggle-delay MS   off time of a toggle command (default 1000)
  --fault KIND        misbehave: silent, stall, garbage, late or stuck (default none)
  -h, --help          show this help

Prints "ready PATH" when the device can be opened; stops on SIGINT or SIGTERM.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ...COMMON_OPTIONS, link: { type: "string" }, "toggle-delay": { type: "string" } },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const fault = oneOf("rps10", "--fault", values.fault, RPS10_FAULTS);
  const sim = new Rps10Simulator({
    link: required("rps10", "--link PATH", values.link, HELP),
    ...bankOptions(values),
    ...(values["toggle-delay"] !== undefined ? { toggleDelayMs: Number(values["toggle-delay"]) } : {}),
  });
  if (fault !== undefined) sim.fault = fault;
  await sim.start();
  serveUntilSignalled(`ready ${sim.link}`, () => sim.stop());
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
