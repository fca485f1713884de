// Any fence-agents program (fence_ipmilan, fence_wti, fence_apc_snmp, ...) as a power switch, so
// the 80-odd agents of that project work unchanged. The agent gets its arguments as key=value
// lines on stdin (no argv, so it reads them), runs in a process group of its own, and is killed
// with its children when its deadline passes. Exit 0 is success; for status, 0 = on and 2 = off.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { isSecretName } from "../config/secrets.js";
import { PowerSwitchError } from "./errors.js";
import { Steps } from "./steps.js";
import { OffThenOnSwitch, type OutletState, type StepObserver } from "./switch.js";

/** Default deadline for one agent run: fence-agents' own power_timeout is 20 s. */
export const DEFAULT_AGENT_TIMEOUT_MS = 60_000;
/** After SIGTERM, how long the agent's process group gets before SIGKILL. */
export const AGENT_KILL_GRACE_MS = 2_000;
/** Output kept from one run, for messages; the rest is dropped. */
export const MAX_AGENT_OUTPUT_BYTES = 64 * 1024;
/** Where fence-agents install on Debian and Red Hat, searched before PATH. */
const AGENT_DIRS = ["/usr/sbin", "/sbin", "/usr/local/sbin"];
const STATUS_ON = 0;
const STATUS_OFF = 2;

export interface FenceAgentOptions {
  /** A program name (fence_ipmilan) or a path to one. */
  agent: string;
  /** Extra arguments, written as key=value lines after action and plug. */
  args?: Readonly<Record<string, string>>;
  /** The argument that names the outlet: fence-agents use plug (old ones: port). */
  plugArgument?: string;
  timeoutMs?: number;
  observer?: StepObserver;
}

interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

export function resolveAgent(agent: string): string {
  if (agent.includes("/")) return agent;
  const dirs = [...AGENT_DIRS, ...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== "")];
  for (const dir of dirs) {
    const candidate = join(dir, agent);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new PowerSwitchError(
    "config",
    `fence_agent ${agent}`,
    undefined,
    "finding the agent",
    `no executable ${agent} in ${AGENT_DIRS.join(", ")} or PATH; install fence-agents or give a full path`,
  );
}

export class FenceAgentSwitch extends OffThenOnSwitch {
  readonly type = "fence_agent" as const;
  readonly confirmation = "switch" as const;
  readonly name: string;
  private readonly path: string;
  private readonly steps: Steps;
  private readonly timeoutMs: number;
  private readonly secrets: string[];

  constructor(private readonly options: FenceAgentOptions) {
    super();
    this.name = `fence_agent ${options.agent}`;
    this.path = resolveAgent(options.agent);
    this.steps = new Steps(this.name, options.observer);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    this.secrets = Object.entries(options.args ?? {})
      .filter(([k, v]) => isSecretName(k) && v !== "")
      .map(([, v]) => v);
  }

  async health(): Promise<void> {
    const run = await this.run(this.steps, "monitor", undefined);
    if (run.code !== 0) throw this.failure(this.steps, "monitor", run);
  }

  async status(outlet: string): Promise<OutletState> {
    const steps = this.steps.forOutlet(outlet);
    const run = await this.run(steps, "status", outlet);
    if (run.code === STATUS_ON) return "on";
    if (run.code === STATUS_OFF) return "off";
    throw this.failure(steps, "status", run);
  }

  async close(): Promise<void> {}

  protected async switchTo(outlet: string, action: "on" | "off"): Promise<void> {
    const steps = this.steps.forOutlet(outlet);
    const run = await this.run(steps, action, outlet);
    if (run.code !== 0) throw this.failure(steps, action, run);
    // The agent polls the device until the outlet reaches the state: exit 0 is the confirmation.
    steps.note(`${action} confirmed`, `${this.options.agent} exited 0`);
  }

  private failure(steps: Steps, action: string, run: AgentRun): PowerSwitchError {
    const how = run.signal !== null ? `was killed by ${run.signal}` : `exited ${run.code}`;
    const said = this.redact(run.output.trim().split("\n").slice(-3).join(" / "));
    return steps.error("failed", action, `${this.options.agent} ${how}${said !== "" ? `: ${said}` : ""}`);
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join("***");
    return out;
  }

  private run(steps: Steps, action: string, outlet: string | undefined): Promise<AgentRun> {
    // One line per argument: nothing may smuggle in a second "action=" (or anything else).
    const plugArgument = this.options.plugArgument ?? "plug";
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(plugArgument)) {
      throw steps.error("config", action, `the plug argument name "${plugArgument}" is not a plain name`);
    }
    if (outlet !== undefined && /[\r\n\0]/.test(outlet)) {
      throw steps.error("config", action, "the outlet contains a line break");
    }
    const lines = [`action=${action}`];
    if (outlet !== undefined) lines.push(`${plugArgument}=${outlet}`);
    for (const [key, value] of Object.entries(this.options.args ?? {})) {
      if (/[\r\n]/.test(key) || /[\r\n]/.test(value) || key.includes("=")) {
        throw steps.error("config", action, `argument ${key} contains a line break or '='`);
      }
      lines.push(`${key}=${value}`);
    }
    return steps.run(
      `${action} (${this.options.agent})`,
      this.timeoutMs + AGENT_KILL_GRACE_MS + 1_000,
      () => this.spawnAgent(`${lines.join("\n")}\n`),
      (r) => (r.signal !== null ? `killed by ${r.signal}` : `exit ${r.code}`),
    );
  }

  /** Runs the agent once; kills its whole process group when the deadline passes. */
  private spawnAgent(input: string): Promise<AgentRun> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.path, [], { detached: true, stdio: ["pipe", "pipe", "pipe"] });
      let output = "";
      const keep = (chunk: Buffer) => {
        if (output.length < MAX_AGENT_OUTPUT_BYTES) output += chunk.toString("utf8");
      };
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      let killTimer: NodeJS.Timeout | undefined;
      const killGroup = (signal: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          // the group is already gone
        }
      };
      const deadline = setTimeout(() => {
        killGroup("SIGTERM");
        killTimer = setTimeout(() => killGroup("SIGKILL"), AGENT_KILL_GRACE_MS);
      }, this.timeoutMs);
      child.on("error", (err) => {
        clearTimeout(deadline);
        clearTimeout(killTimer);
        reject(new Error(`could not run ${this.path}: ${err.message}`));
      });
      child.on("close", (code, signal) => {
        clearTimeout(deadline);
        clearTimeout(killTimer);
        // Whatever the agent left behind in its group goes with it.
        killGroup("SIGKILL");
        resolve({ code, signal, output });
      });
      child.stdin.on("error", () => {}); // an agent that exits without reading stdin
      child.stdin.end(input);
    });
  }
}
