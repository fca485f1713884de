// An OCF resource agent as a resource (for example heartbeat:Dummy from Debian's resource-agents):
// the agent is OCF_ROOT/resource.d/PROVIDER/TYPE, its parameters are OCF_RESKEY_* variables, and
// monitor answers 0 (running) or 7 (not running). Stop of a stopped resource succeeds, as OCF says.
import { statSync } from "node:fs";
import { join } from "node:path";
import {
  clusterEnv,
  type Resource,
  type ResourceAction,
  type ResourceContext,
  ResourceError,
  type ResourceState,
} from "./resource.js";
import { exitCodeOf } from "./resource-program.js";

export const DEFAULT_OCF_ROOT = "/usr/lib/ocf";
const OCF_SUCCESS = 0;
const OCF_NOT_RUNNING = 7;
/** Provider, type and parameter names: no path separators, nothing a shell would read. */
const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

/** What each OCF exit code means, for messages (OCF resource agent API). */
const OCF_CODES: Record<number, string> = {
  1: "generic error",
  2: "invalid argument",
  3: "unimplemented action",
  4: "insufficient privileges",
  5: "not installed",
  6: "not configured",
  7: "not running",
  8: "running as master",
  9: "failed as master",
};

export class OcfResource implements Resource {
  readonly name: string;
  private readonly provider: string;
  private readonly type: string;

  constructor(
    agent: string,
    private readonly params: Record<string, string>,
    private readonly ocfRoot: string = process.env.OCF_ROOT ?? DEFAULT_OCF_ROOT,
    private readonly timeouts: Partial<Record<ResourceAction, number>> = {},
  ) {
    this.name = `ocf ${agent}`;
    const [provider, type, ...rest] = agent.split(":");
    if (
      provider === undefined ||
      type === undefined ||
      rest.length > 0 ||
      !SAFE_NAME.test(provider) ||
      !SAFE_NAME.test(type)
    )
      throw new ResourceError(
        "config",
        this.name,
        "start",
        `"${agent}" is not PROVIDER:TYPE (for example heartbeat:Dummy)`,
      );
    for (const key of Object.keys(params)) {
      if (!SAFE_NAME.test(key))
        throw new ResourceError("config", this.name, "start", `parameter name "${key}" is not valid`);
    }
    this.provider = provider;
    this.type = type;
  }

  get path(): string {
    return join(this.ocfRoot, "resource.d", this.provider, this.type);
  }

  private async run(action: ResourceAction, ctx: ResourceContext): Promise<number> {
    const verb = action === "status" ? "monitor" : action;
    try {
      statSync(this.path);
    } catch {
      throw new ResourceError(
        "not-found",
        this.name,
        action,
        `there is no agent ${this.path}; install the package that provides it (resource-agents has heartbeat:*)`,
      );
    }
    const env: Record<string, string> = {
      ...clusterEnv(ctx),
      OCF_ROOT: this.ocfRoot,
      OCF_RESOURCE_INSTANCE: `${ctx.service}-resource${ctx.index}`,
      OCF_RESOURCE_TYPE: this.type,
      OCF_RESOURCE_PROVIDER: this.provider,
      // Where resource-agents keeps its state files, when the administrator moved it.
      ...(process.env.HA_RSCTMP !== undefined ? { HA_RSCTMP: process.env.HA_RSCTMP } : {}),
    };
    for (const [k, v] of Object.entries(this.params)) env[`OCF_RESKEY_${k}`] = v;
    const timeoutMs = this.timeouts[action];
    return exitCodeOf(
      {
        resource: this.name,
        action,
        command: this.path,
        args: [verb],
        env,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      },
      ctx,
    );
  }

  private failed(action: ResourceAction, code: number): ResourceError {
    return new ResourceError(
      "failed",
      this.name,
      action,
      `exited with ${code} (${OCF_CODES[code] ?? "unknown code"})`,
    );
  }

  async start(ctx: ResourceContext): Promise<void> {
    const code = await this.run("start", ctx);
    if (code !== OCF_SUCCESS) throw this.failed("start", code);
  }

  async stop(ctx: ResourceContext): Promise<void> {
    const code = await this.run("stop", ctx);
    if (code !== OCF_SUCCESS) throw this.failed("stop", code);
  }

  async status(ctx: ResourceContext): Promise<ResourceState> {
    const code = await this.run("status", ctx);
    if (code === OCF_SUCCESS) return "running";
    if (code === OCF_NOT_RUNNING) return "stopped";
    throw this.failed("status", code);
  }
}
