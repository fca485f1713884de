// A WTI NPS network power switch on loopback, speaking telnet and the NPS text interface.
//
//   npx tsx tools/sim/wti-nps.ts --port 2323 [--password PW] [--outlets 8] [--state-file F] [--hook CMD]
//
// One session at a time, as the real switch: a second connection is told so and closed. Prints
// "listening PORT" once it accepts connections (with --port 0, the port it was given).
import { createServer, type Server, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { IAC, OPT_ECHO, OPT_SGA, TelnetFilter, WILL } from "../../src/power/telnet.js";
import { renderStatusTable } from "../../src/power/wti-nps-protocol.js";
import { bankOptions, COMMON_OPTIONS, oneOf, required, serveUntilSignalled } from "./cli.js";
import { OutletBank, type State } from "./outlets.js";

export type NpsFault =
  | "none"
  /** Accepts the connection and never says anything. */
  | "silent"
  /** Logs in and shows tables, but goes quiet after an on or off command. */
  | "stall"
  /** Answers /S with noise instead of the plug table. */
  | "garbage"
  /** A relay that no longer switches: /on and /off are accepted and change nothing. */
  | "stuck";
const NPS_FAULTS: readonly NpsFault[] = ["none", "silent", "stall", "garbage", "stuck"];

export interface NpsSimOptions {
  port: number;
  host?: string;
  password?: string;
  outlets?: number;
  stateFile?: string;
  hook?: string;
  /** Plug names shown in the table; default "plugN". */
  names?: string[];
  /** Ask "Sure? (Y/N):" when a command has no ",y". */
  confirm?: boolean;
  /** After a command, its plugs show "*" (busy) in the table for this long. */
  busyMs?: number;
}

const PROMPT = "NPS> ";
const BANNER = "\r\n\r\nNetwork Power Switch v3.34\r\n";
const MAX_LINE = 256;

export class NpsSimulator {
  readonly bank: OutletBank;
  fault: NpsFault = "none";
  /** Every command line received after login, for tests. */
  readonly commands: string[] = [];
  private server: Server | undefined;
  private active: Socket | undefined;
  private boundPort = 0;

  constructor(private readonly options: NpsSimOptions) {
    const count = options.outlets ?? 8;
    if (!Number.isInteger(count) || count < 1 || count > 64) throw new RangeError("an NPS has 1 to 64 plugs");
    this.bank = new OutletBank({
      names: [...Array(count).keys()].map((i) => String(i + 1)),
      ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
      ...(options.hook !== undefined ? { hook: options.hook } : {}),
    });
  }

  get port(): number {
    return this.boundPort;
  }

  /** Whether a session holds the switch now. */
  get busy(): boolean {
    return this.active !== undefined && !this.active.destroyed;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host ?? "127.0.0.1", () => resolve());
    });
    const address = server.address();
    this.boundPort = typeof address === "object" && address !== null ? address.port : this.options.port;
  }

  async stop(): Promise<void> {
    this.active?.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Connections accepted, busy refusals included: how often clients come knocking. */
  connections = 0;

  private accept(socket: Socket): void {
    this.connections++;
    if (this.active !== undefined && !this.active.destroyed) {
      socket.end("\r\nSorry, another session is active.\r\n");
      return;
    }
    this.active = socket;
    socket.on("error", () => {});
    // The session is over at logout, or once the client hangs up, before the close completes.
    socket.on("end", () => this.sessionEnded(socket));
    socket.on("close", () => this.sessionEnded(socket));
    if (this.fault === "silent") return;
    new NpsSession(this, socket, this.options).start();
  }

  /** Frees the one session slot for the next client. */
  sessionEnded(socket: Socket): void {
    if (this.active === socket) this.active = undefined;
  }

  /** Plugs with a command still in progress, and when it settles. */
  readonly busyUntil = new Map<string, number>();

  rows(): { plug: string; name: string; state: State; busy: boolean }[] {
    return this.bank.names.map((plug, i) => ({
      plug,
      name: this.options.names?.[i] ?? `plug${plug}`,
      state: this.bank.get(plug),
      busy: (this.busyUntil.get(plug) ?? 0) > Date.now(),
    }));
  }

  get busyMs(): number {
    return this.options.busyMs ?? 0;
  }
}

/** One client's session: login, then one command per line. */
class NpsSession {
  private readonly filter = new TelnetFilter();
  private line = "";
  private lastWasCr = false;
  private mode: "password" | "command" | "confirm" = "command";
  private pending: (() => void) | undefined;

  constructor(
    private readonly sim: NpsSimulator,
    private readonly socket: Socket,
    private readonly options: NpsSimOptions,
  ) {}

  start(): void {
    // Server echo and character-at-a-time, as the switch does: the telnet client then sends each
    // line ending once, as CR LF.
    this.socket.write(Buffer.from([IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA]));
    // Everything one packet makes the switch say goes out as one write: echoed a byte per write,
    // Nagle's algorithm here and the client's delayed ACK would hold each answer 40 ms, a stall
    // of two Node processes on loopback that the benchmark's fence time would wrongly include.
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => {
      this.socket.cork();
      try {
        this.receive(this.filter.push(chunk, "server").data);
      } finally {
        this.socket.uncork();
      }
    });
    if (this.options.password !== undefined) {
      this.mode = "password";
      this.write("\r\nEnter Password: ");
    } else this.write(`${BANNER}\r\n${PROMPT}`);
  }

  private write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** CR, LF, CR LF and CR NUL each end one line; echo what is typed, except a password. */
  private receive(data: Buffer): void {
    for (const byte of data) {
      // A NUL only ever follows a CR (telnet's bare CR); on its own it is ignored.
      if (byte === 0 && !this.lastWasCr) continue;
      if (byte === 0x0d || byte === 0x0a || byte === 0) {
        const continuation = this.lastWasCr && (byte === 0x0a || byte === 0);
        this.lastWasCr = byte === 0x0d;
        if (continuation) continue;
        this.write("\r\n");
        const line = this.line;
        this.line = "";
        this.handle(line.trim());
        continue;
      }
      this.lastWasCr = false;
      if (this.line.length < MAX_LINE) this.line += String.fromCharCode(byte);
      if (this.mode !== "password") this.write(String.fromCharCode(byte));
    }
  }

  private handle(line: string): void {
    if (this.mode === "password") {
      if (line === this.options.password) {
        this.mode = "command";
        this.write(`${BANNER}\r\n${PROMPT}`);
      } else this.write("\r\nInvalid password\r\n\r\nEnter Password: ");
      return;
    }
    if (this.mode === "confirm") {
      this.mode = "command";
      const run = this.pending;
      this.pending = undefined;
      if (/^y/i.test(line)) run?.();
      else this.write(`\r\n${PROMPT}`);
      return;
    }
    if (line === "") return; // a bare line end: no fresh prompt, or fence_wti loses its place
    this.sim.commands.push(line);
    this.command(line);
  }

  private command(line: string): void {
    const [verb = "", ...rest] = line.split(/\s+/);
    const upper = verb.toUpperCase();
    if (upper === "/S") {
      if (this.sim.fault === "garbage") {
        this.write(`\r\n#!~ pl@g t4ble unavailable ~!#\r\n\r\n${PROMPT}`);
        return;
      }
      this.write(`\r\n${renderStatusTable(this.sim.rows())}\r\n${PROMPT}`);
      return;
    }
    if (upper === "/H") {
      this.write(`\r\n/S status  /ON n  /OFF n  /BOOT n  /X logout\r\n\r\n${PROMPT}`);
      return;
    }
    if (upper === "/X") {
      this.write("\r\nGoodbye.\r\n");
      this.sim.sessionEnded(this.socket);
      this.socket.end();
      return;
    }
    if (upper === "/ON" || upper === "/OFF" || upper === "/BOOT") {
      const argument = rest.join(" ");
      const confirmed = /,\s*y$/i.test(argument);
      const plugs = this.plugs(argument.replace(/,\s*y$/i, ""));
      if (plugs === undefined) {
        this.write(`\r\nInvalid plug\r\n\r\n${PROMPT}`);
        return;
      }
      const run = () => this.switchPlugs(upper, plugs);
      if (!confirmed && this.options.confirm) {
        this.mode = "confirm";
        this.pending = run;
        this.write("\r\nSure? (Y/N): ");
        return;
      }
      run();
      return;
    }
    this.write(`\r\nInvalid command\r\n\r\n${PROMPT}`);
  }

  /** Plug numbers, names, a space- or comma-separated list, or "*" for all. */
  private plugs(argument: string): string[] | undefined {
    const words = argument.split(/[\s,]+/).filter((w) => w !== "");
    if (words.length === 0) return undefined;
    if (words.includes("*")) return this.sim.bank.names;
    const rows = this.sim.rows();
    const found: string[] = [];
    for (const word of words) {
      const row = rows.find((r) => r.plug === word || r.name.toLowerCase() === word.toLowerCase());
      if (row === undefined) return undefined;
      found.push(row.plug);
    }
    return found;
  }

  private switchPlugs(verb: string, plugs: string[]): void {
    if (this.sim.fault === "stall") return;
    const set = (state: State) => {
      if (this.sim.fault === "stuck") return;
      for (const p of plugs) {
        this.sim.bank.set(p, state);
        if (this.sim.busyMs > 0) this.sim.busyUntil.set(p, Date.now() + this.sim.busyMs);
      }
    };
    if (verb === "/BOOT") {
      set("off");
      setTimeout(() => set("on"), 1_000);
    } else set(verb === "/ON" ? "on" : "off");
    // The prompt comes back once the plugs' hooks ran: a plug reported off has lost its power.
    this.write("\r\nProcessing - please wait ...\r\n");
    void this.sim.bank.settled().then(() => this.write(`\r\n${PROMPT}`));
  }
}

const HELP = `usage: npx tsx tools/sim/wti-nps.ts --port PORT [options]

A simulated WTI NPS network power switch on 127.0.0.1 (telnet).

  --port PORT         TCP port to listen on (0 picks a free one; required)
  --password PW       ask for this password at login (default: no password)
  --outlets N         number of plugs, 1..N (1-64, default 8)
  --names A,B,...     plug names shown in the /S table
  --confirm           ask "Sure? (Y/N):" for commands without ",y"
  --state-file FILE   write the plug states as JSON after every change
  --hook CMD          run CMD (with OUTLET and STATE set) whenever a plug changes
  --fault KIND        misbehave: silent, stall, garbage or stuck (default none)
  -h, --help          show this help

Prints "listening PORT" when it accepts connections; stops on SIGINT or SIGTERM.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...COMMON_OPTIONS,
      port: { type: "string" },
      password: { type: "string" },
      names: { type: "string" },
      confirm: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const fault = oneOf("wti-nps", "--fault", values.fault, NPS_FAULTS);
  const sim = new NpsSimulator({
    port: Number(required("wti-nps", "--port PORT", values.port, HELP)),
    ...(values.password !== undefined ? { password: values.password } : {}),
    ...bankOptions(values),
    ...(values.names !== undefined ? { names: values.names.split(",") } : {}),
    ...(values.confirm ? { confirm: true } : {}),
  });
  if (fault !== undefined) sim.fault = fault;
  await sim.start();
  serveUntilSignalled(`listening ${sim.port}`, () => sim.stop());
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
