// Any fence-agents program (fence_ipmilan, fence_wti, fence_apc_snmp, ...) as a power switch, so
// the 80-odd agents of that project work unchanged. The agent gets its arguments as key=value
// lines on stdin (no argv, so no other user sees them), the driver's own action, plug and nodename
// last; it runs in a process group of its own, and it and whatever it started are killed when its
// deadline passes. Exit 0 is success; for status, 0 = on and 2 = off.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { isSecretName } from "../config/secrets.js";
import { agentInput } from "./agent-input.js";
import { agentWords, scrub } from "./agent-output.js";
import {
  AGENT_EXIT_GRACE_MS,
  AGENT_KILL_GRACE_MS,
  type AgentRun,
  LEFTOVER_SCAN_BUDGET_MS,
  runAgent,
} from "./agent-process.js";
import { PowerSwitchError } from "./errors.js";
import { Steps } from "./steps.js";
import { OffThenOnSwitch, type OutletState, type StepObserver } from "./switch.js";

export { AGENT_KILL_GRACE_MS, MAX_AGENT_OUTPUT_BYTES } from "./agent-process.js";

/** Default deadline for one agent run: fence-agents' own power_timeout is 20 s. */
export const DEFAULT_AGENT_TIMEOUT_MS = 60_000;
/** Where fence-agents install on Debian and Red Hat, searched before PATH. */
const AGENT_DIRS = ["/usr/sbin", "/sbin", "/usr/local/sbin"];
const STATUS_ON = 0;
const STATUS_OFF = 2;

export interface FenceAgentOptions {
  /** A program name (fence_ipmilan) or a path to one. */
  agent: string;
  /** The user's arguments, written as key=value lines before the driver's own. */
  args?: Readonly<Record<string, string>>;
  /** The argument that names the outlet: fence-agents use plug (old ones: port). */
  plugArgument?: string;
  /** The member acted on, sent as nodename= (fence_scsi and fence_kdump fence by node name). */
  nodename?: string;
  timeoutMs?: number;
  observer?: StepObserver;
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
  /** Every secret value the agent is sent: none may come back in a message. */
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
    if (run.code !== 0 || run.timedOut) throw this.failure(this.steps, "monitor", run);
  }

  async status(outlet: string): Promise<OutletState> {
    const steps = this.steps.forOutlet(outlet);
    const run = await this.run(steps, "status", outlet);
    if (!run.timedOut && run.code === STATUS_ON) return "on";
    if (!run.timedOut && run.code === STATUS_OFF) return "off";
    throw this.failure(steps, "status", run);
  }

  async close(): Promise<void> {}

  protected async switchTo(outlet: string, action: "on" | "off"): Promise<void> {
    const steps = this.steps.forOutlet(outlet);
    const run = await this.run(steps, action, outlet);
    if (run.code !== 0 || run.timedOut) throw this.failure(steps, action, run);
    // The agent polls the device until the outlet reaches the state: exit 0 is the confirmation.
    steps.note(`${action} confirmed`, `${this.options.agent} exited 0`);
  }

  private failure(steps: Steps, action: string, run: AgentRun): PowerSwitchError {
    const how = run.timedOut
      ? `did not finish within ${this.timeoutMs} ms and was killed`
      : run.signal !== null
        ? `was killed by ${run.signal}`
        : `exited ${run.code}`;
    // Scrubbed before it is cut to length, so no cut can leave part of a secret behind.
    const said = agentWords(scrub(run.output, this.secrets));
    return steps.error(
      run.timedOut ? "timeout" : "failed",
      action,
      `${this.options.agent} ${how}${said !== "" ? `: ${said}` : ""}`,
    );
  }

  private run(steps: Steps, action: string, outlet: string | undefined): Promise<AgentRun> {
    const input = agentInput({
      action,
      plugArgument: this.options.plugArgument ?? "plug",
      outlet,
      nodename: this.options.nodename,
      args: this.options.args ?? {},
    });
    if (!input.ok) throw steps.error("config", action, scrub(input.problem, this.secrets));
    return steps.run(
      `${action} (${this.options.agent})`,
      // runAgent settles by itself within this; the step's own deadline is only a backstop.
      this.timeoutMs + AGENT_KILL_GRACE_MS + AGENT_EXIT_GRACE_MS + LEFTOVER_SCAN_BUDGET_MS + 1_000,
      () => runAgent(this.path, input.text, this.timeoutMs),
      (r) => (r.timedOut ? "timed out" : r.signal !== null ? `killed by ${r.signal}` : `exit ${r.code}`),
    );
  }
}
