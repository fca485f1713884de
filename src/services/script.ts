// An LSB init script as a resource: `start`, `stop`, `status`. Status 0 is running and 3 is
// stopped; any other status means the script cannot tell, which a careful manager treats as a
// failure rather than guess.
import { statSync } from "node:fs";
import {
  clusterEnv,
  type Resource,
  type ResourceContext,
  ResourceError,
  type ResourceState,
} from "./resource.js";
import { exitCodeOf } from "./resource-program.js";

const LSB_RUNNING = 0;
const LSB_STOPPED = 3;

export class ScriptResource implements Resource {
  readonly name: string;

  constructor(
    readonly path: string,
    private readonly timeouts: { start?: number; stop?: number; status?: number } = {},
  ) {
    this.name = `script ${path}`;
  }

  private check(action: "start" | "stop" | "status"): void {
    let executable = false;
    try {
      const st = statSync(this.path);
      executable = st.isFile() && (st.mode & 0o111) !== 0;
    } catch {
      throw new ResourceError("not-found", this.name, action, `${this.path} does not exist`);
    }
    if (!executable)
      throw new ResourceError(
        "config",
        this.name,
        action,
        `${this.path} is not an executable file; chmod +x it`,
      );
  }

  private run(action: "start" | "stop" | "status", ctx: ResourceContext): Promise<number> {
    this.check(action);
    const timeoutMs = this.timeouts[action];
    return exitCodeOf(
      {
        resource: this.name,
        action,
        command: this.path,
        args: [action],
        env: clusterEnv(ctx),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      },
      ctx,
    );
  }

  async start(ctx: ResourceContext): Promise<void> {
    const code = await this.run("start", ctx);
    if (code !== 0) throw new ResourceError("failed", this.name, "start", `exited with status ${code}`);
  }

  async stop(ctx: ResourceContext): Promise<void> {
    const code = await this.run("stop", ctx);
    if (code !== 0) throw new ResourceError("failed", this.name, "stop", `exited with status ${code}`);
  }

  async status(ctx: ResourceContext): Promise<ResourceState> {
    const code = await this.run("status", ctx);
    if (code === LSB_RUNNING) return "running";
    if (code === LSB_STOPPED) return "stopped";
    throw new ResourceError(
      "failed",
      this.name,
      "status",
      `exited with status ${code}, which is neither 0 (running) nor 3 (stopped)`,
    );
  }
}
