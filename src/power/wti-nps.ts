// WTI NPS (and IPS, TPS, NBB) network power switches over telnet.
//
// The switch takes one session at a time, so every operation is one short session: connect, log
// in, read the /S plug table, act, and log out with /X. A change is confirmed by reading the table
// again until the plug shows the new state, never by the command's own echo.
import { connect, type Socket } from "node:net";
import { Garbled, LineClosed, PowerSwitchError } from "./errors.js";
import { Steps, within } from "./steps.js";
import { OffThenOnSwitch, type OutletState, type StepObserver } from "./switch.js";
import { TelnetSession as Session } from "./telnet-session.js";
import {
  NPS_CONFIRM_PROMPT,
  NPS_PASSWORD_PROMPT,
  NPS_PROMPT,
  type PlugRow,
  parseStatusTable,
} from "./wti-nps-protocol.js";

export const NPS_DEFAULT_PORT = 23;
/**
 * Pages of /S output read at most, and their bytes together. A 64-plug switch shows its table
 * on a few pages of a few KiB; a switch that pages on and on never reaches its prompt.
 */
export const MAX_STATUS_PAGES = 16;
export const MAX_STATUS_OUTPUT = 64 * 1024;
const LOGIN_PROMPT = /(?:login|login name|username|user name)\s*:\s*$/i;
const PAGER_PROMPT = /Enter:\s*$/;
const INVALID_PASSWORD = /invalid password|access denied/i;
/** The switch serves one session at a time and frees it a moment after the last one ends. */
const BUSY_RETRY_MS = 100;
/** How long a session waits after logging out for the switch to hang up. */
const LOGOUT_WAIT_MS = 500;

export interface NpsTimeouts {
  connect: number;
  login: number;
  command: number;
  /** How long a plug may take to reach the new state (fence-agents' power_timeout is 20 s). */
  confirm: number;
  /** Between two reads of the table while waiting for a plug to change. */
  poll: number;
}

export const NPS_TIMEOUTS: NpsTimeouts = {
  connect: 5_000,
  login: 10_000,
  command: 10_000,
  confirm: 20_000,
  poll: 500,
};

export interface WtiNpsOptions {
  host: string;
  port?: number;
  username?: string;
  password?: string;
  timeouts?: Partial<NpsTimeouts>;
  observer?: StepObserver;
}

export class WtiNpsSwitch extends OffThenOnSwitch {
  readonly type = "wti_nps" as const;
  readonly confirmation = "switch" as const;
  readonly name: string;
  private readonly steps: Steps;
  private readonly timeouts: NpsTimeouts;
  /** The last session's logout, until the switch hangs up (bounded by LOGOUT_WAIT_MS). */
  private hangingUp: Promise<void> = Promise.resolve();

  constructor(private readonly options: WtiNpsOptions) {
    super();
    this.name = `wti_nps ${options.host}:${options.port ?? NPS_DEFAULT_PORT}`;
    this.steps = new Steps(this.name, options.observer);
    this.timeouts = { ...NPS_TIMEOUTS, ...options.timeouts };
  }

  async health(): Promise<void> {
    await this.session(this.steps, async (s) => {
      await this.table(this.steps, s);
    });
  }

  async status(outlet: string): Promise<OutletState> {
    const steps = this.steps.forOutlet(outlet);
    return this.session(steps, async (s) => this.plug(steps, await this.table(steps, s), outlet).state);
  }

  async close(): Promise<void> {
    await this.hangingUp;
  }

  protected async switchTo(outlet: string, state: OutletState): Promise<void> {
    const steps = this.steps.forOutlet(outlet);
    const t = this.timeouts;
    await this.session(steps, async (s) => {
      const before = this.plug(steps, await this.table(steps, s), outlet);
      if (before.state === state) {
        steps.note(`already ${state}`);
        return;
      }
      await steps.run(`${state} sent`, t.command, async (signal) => {
        s.send(`/${state} ${before.plug},y`);
        const answer = await s.until([NPS_PROMPT, NPS_CONFIRM_PROMPT], signal);
        if (answer.index === 1) {
          s.send("Y");
          await s.until([NPS_PROMPT], signal);
        }
      });
      // Confirmed by reading the table until the plug shows the state and is not busy.
      await steps.confirm(state, t.confirm, t.poll, async () => {
        const row = this.plug(
          steps,
          await within(t.command, (signal) => this.readTable(steps, s, signal)),
          outlet,
        );
        return { state: row.busy ? "busy" : row.state };
      });
    });
  }

  /**
   * Connects, logs in, runs `work` and logs out. What the session found is returned at once; the
   * wait for the switch to hang up is the next session's (or close()'s), so a confirmed off is
   * reported without it.
   */
  private async session<T>(steps: Steps, work: (s: Session) => Promise<T>): Promise<T> {
    const s = await this.connectAndLogin(steps);
    let result: T;
    try {
      result = await work(s);
    } catch (err) {
      s.close();
      throw err;
    }
    this.hangingUp = s.logOut("/X", LOGOUT_WAIT_MS);
    return result;
  }

  /**
   * A switch busy with another session closes the connection before any prompt; try again until
   * the login deadline, as the Linux-HA plugin does.
   */
  private async connectAndLogin(steps: Steps): Promise<Session> {
    await this.hangingUp;
    const t = this.timeouts;
    const { host } = this.options;
    const port = this.options.port ?? NPS_DEFAULT_PORT;
    const giveUp = Date.now() + t.login;
    for (;;) {
      const socket = await steps.run(
        "connecting",
        t.connect,
        (signal) => openSocket(host, port, signal),
        () => `${host}:${port}`,
      );
      const s = new Session(socket, `the switch at ${host}:${port}`);
      try {
        await this.login(steps, s);
        return s;
      } catch (err) {
        s.close();
        const busy = err instanceof PowerSwitchError && err.kind === "disconnected" && err.step === "login";
        if (!busy || Date.now() + BUSY_RETRY_MS >= giveUp) throw err;
        steps.note("switch busy", "it closed the connection before a prompt; trying again");
        await new Promise((r) => setTimeout(r, BUSY_RETRY_MS));
      }
    }
  }

  private async login(steps: Steps, s: Session): Promise<void> {
    const { username, password } = this.options;
    const prompts = [NPS_PROMPT, NPS_PASSWORD_PROMPT, LOGIN_PROMPT];
    await steps.run("login", this.timeouts.login, async (signal) => {
      let answer = await s.until(prompts, signal);
      if (answer.index === 2) {
        if (username === undefined)
          throw steps.error("auth", "login", "the switch asks for a user name and none is configured");
        s.send(username);
        answer = await s.until(prompts, signal);
      }
      if (answer.index === 1) {
        if (password === undefined)
          throw steps.error("auth", "login", "the switch asks for a password and none is configured");
        s.send(password);
        answer = await s.until([NPS_PROMPT, NPS_PASSWORD_PROMPT, INVALID_PASSWORD], signal);
        if (answer.index !== 0) throw steps.error("auth", "login", "the switch refused the password");
      }
    });
  }

  private table(steps: Steps, s: Session): Promise<PlugRow[]> {
    return steps.run("status table", this.timeouts.command, (signal) => this.readTable(steps, s, signal));
  }

  private async readTable(steps: Steps, s: Session, signal: AbortSignal): Promise<PlugRow[]> {
    s.send("/S");
    let output = "";
    for (let page = 1; ; page++) {
      const answer = await s.until([NPS_PROMPT, PAGER_PROMPT], signal);
      output += answer.output;
      if (answer.index === 0) break;
      if (page >= MAX_STATUS_PAGES || output.length > MAX_STATUS_OUTPUT)
        throw new Garbled(
          `the switch at ${this.options.host}:${this.options.port ?? NPS_DEFAULT_PORT} sent ${page} pages (${output.length} bytes) of /S output without its command prompt, more than a plug table holds (${MAX_STATUS_PAGES} pages, ${MAX_STATUS_OUTPUT} bytes)`,
        );
      s.send(""); // next page
    }
    const rows = parseStatusTable(output);
    if (rows === undefined)
      throw steps.error(
        "garbled",
        "status table",
        "the /S output holds no plug table with plug, name and status columns",
      );
    return rows;
  }

  private plug(steps: Steps, rows: PlugRow[], outlet: string): PlugRow {
    const row = rows.find((r) => r.plug === outlet);
    if (row === undefined) {
      throw steps.error(
        "unknown-outlet",
        "status table",
        `the switch has plugs ${rows.map((r) => r.plug).join(", ")}, not ${outlet}`,
      );
    }
    return row;
  }
}

/**
 * Connects, or rejects with LineClosed. The socket always has an error handler, and is destroyed
 * when the step gives up on it, so a connection that completes late can neither crash the process
 * nor hold the switch's only session.
 */
export function openSocket(
  host: string,
  port: number,
  signal: AbortSignal,
  open: (options: { host: string; port: number }) => Socket = connect,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = open({ host, port });
    socket.on("error", () => {});
    const abandon = () => {
      socket.destroy();
      reject(new LineClosed("the connection attempt was abandoned"));
    };
    if (signal.aborted) return abandon();
    signal.addEventListener("abort", abandon, { once: true });
    socket.once("connect", () => {
      signal.removeEventListener("abort", abandon);
      resolve(socket);
    });
    socket.once("error", (err) => {
      signal.removeEventListener("abort", abandon);
      socket.destroy();
      reject(new LineClosed(err.message));
    });
  });
}
