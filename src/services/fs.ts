// A filesystem on a shared device as a resource: checked (fsck -p) before it is mounted, mounted
// with its options, unmounted on stop, and with force_unmount the processes holding it are
// killed first (they belong to the service, which is stopping).
import { mkdirSync, realpathSync } from "node:fs";
import type { Resource as ResourceConfig } from "../config/model.js";
import {
  clusterEnv,
  type Resource,
  type ResourceAction,
  type ResourceContext,
  ResourceError,
  type ResourceState,
} from "./resource.js";
import { exitCodeOf } from "./resource-program.js";
import { runProgram } from "./run-program.js";

/** A filesystem resource as cluster.conf describes it. */
export type FsConfig = Omit<Extract<ResourceConfig, { type: "fs" }>, "type">;

/** fsck exit codes 0 (clean) and 1 (errors corrected) let the mount go ahead. */
const FSCK_OK = new Set([0, 1]);
const FSTYPE = /^[a-z0-9]+$/;

export class FsResource implements Resource {
  readonly name: string;

  constructor(private readonly c: FsConfig) {
    this.name = `fs ${c.device} on ${c.mountPoint}`;
    if (!FSTYPE.test(c.fstype))
      throw new ResourceError("config", this.name, "start", `"${c.fstype}" is not a filesystem type`);
  }

  private run(
    action: ResourceAction,
    ctx: ResourceContext,
    command: string,
    args: string[],
    timeoutMs = 120_000,
  ) {
    return exitCodeOf({ resource: this.name, action, command, args, env: clusterEnv(ctx), timeoutMs }, ctx);
  }

  /** What is mounted at the mount point, as a real path, or undefined. */
  private async mountedSource(): Promise<string | undefined> {
    const lines: string[] = [];
    const r = await runProgram({
      command: "/usr/bin/findmnt",
      args: ["-n", "-o", "SOURCE", "--mountpoint", this.c.mountPoint],
      env: {},
      timeoutMs: 10_000,
      onLine: (l) => lines.push(l.trim()),
    });
    if (r.kind !== "exited" || r.code !== 0 || lines.length === 0) return undefined;
    return real(lines[lines.length - 1] as string);
  }

  async status(): Promise<ResourceState> {
    const source = await this.mountedSource();
    if (source === undefined) return "stopped";
    if (source === real(this.c.device)) return "running";
    throw new ResourceError(
      "failed",
      this.name,
      "status",
      `${this.c.mountPoint} holds ${source}, not ${this.c.device}`,
    );
  }

  async start(ctx: ResourceContext): Promise<void> {
    if ((await this.status()) === "running") return;
    if (this.c.fsck) {
      const code = await this.run(
        "start",
        ctx,
        `/usr/sbin/fsck.${this.c.fstype}`,
        ["-p", this.c.device],
        600_000,
      );
      if (!FSCK_OK.has(code))
        throw new ResourceError(
          "failed",
          this.name,
          "start",
          `fsck.${this.c.fstype} -p exited with ${code}; repair ${this.c.device} by hand`,
        );
    }
    mkdirSync(this.c.mountPoint, { recursive: true });
    const args = [
      "-t",
      this.c.fstype,
      ...(this.c.options ? ["-o", this.c.options] : []),
      this.c.device,
      this.c.mountPoint,
    ];
    const code = await this.run("start", ctx, "/usr/bin/mount", args);
    if (code !== 0) throw new ResourceError("failed", this.name, "start", `mount exited with ${code}`);
  }

  async stop(ctx: ResourceContext): Promise<void> {
    if ((await this.status()) === "stopped") return;
    if (this.c.forceUnmount) {
      // Exit 1 means nobody held it: that is fine.
      await this.run("stop", ctx, "/usr/bin/fuser", ["-k", "-m", this.c.mountPoint], 30_000);
    }
    const code = await this.run("stop", ctx, "/usr/bin/umount", [this.c.mountPoint]);
    if (code !== 0 || (await this.status()) !== "stopped")
      throw new ResourceError(
        "failed",
        this.name,
        "stop",
        `umount exited with ${code}${this.c.forceUnmount ? "" : "; processes may still use it (force_unmount = yes kills them)"}`,
      );
  }
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
