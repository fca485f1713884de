// A floating IP address as a resource: added to an interface with `ip addr add`, announced with
// gratuitous ARP so neighbours update their caches at once, removed with `ip addr del`.
import { isIPv4 } from "node:net";
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

const IP = "/usr/sbin/ip";
/** iputils arping, found on PATH (/usr/bin on Debian). */
const ARPING = "arping";
/** Gratuitous ARP replies sent after the address is added. */
export const GARP_COUNT = 3;
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;
const IP_TIMEOUT_MS = 10_000;

export class IpResource implements Resource {
  readonly name: string;
  readonly address: string;
  readonly prefix: number;
  private resolved: string | undefined;

  /** `configured`: the interface; without one, the interface of the route to the address. */
  constructor(cidr: string, configured?: string) {
    this.name = `ip ${cidr}${configured !== undefined ? ` on ${configured}` : ""}`;
    const [address, prefix = "32"] = cidr.split("/");
    const bits = Number(prefix);
    if (address === undefined || !isIPv4(address) || !Number.isInteger(bits) || bits < 0 || bits > 32)
      throw new ResourceError(
        "config",
        this.name,
        "start",
        `"${cidr}" is not an IPv4 address with an optional /prefix`,
      );
    if (configured !== undefined && !IFNAME.test(configured))
      throw new ResourceError("config", this.name, "start", `"${configured}" is not an interface name`);
    this.address = address;
    this.prefix = bits;
    this.resolved = configured;
  }

  private async output(args: string[]): Promise<{ ok: boolean; text: string }> {
    const lines: string[] = [];
    const r = await runProgram({
      command: IP,
      args,
      env: {},
      timeoutMs: IP_TIMEOUT_MS,
      onLine: (l) => lines.push(l),
    });
    return { ok: r.kind === "exited" && r.code === 0, text: lines.join("\n") };
  }

  /** The interface, found once from the routing table when none was configured. */
  private async device(action: ResourceAction): Promise<string> {
    if (this.resolved !== undefined) return this.resolved;
    const { text } = await this.output(["-o", "-4", "route", "get", this.address]);
    const dev = / dev (\S+)/.exec(text)?.[1];
    if (dev === undefined || !IFNAME.test(dev))
      throw new ResourceError(
        "config",
        this.name,
        action,
        `no interface has a route to ${this.address}; set interface = NAME`,
      );
    this.resolved = dev;
    return dev;
  }

  async status(): Promise<ResourceState> {
    const device = await this.device("status");
    const r = await this.output(["-o", "-4", "addr", "show", "dev", device]);
    if (!r.ok)
      throw new ResourceError(
        "failed",
        this.name,
        "status",
        `cannot list the addresses of ${device}: ${r.text || "no answer"}`,
      );
    return r.text.split("\n").some((l) => l.includes(` inet ${this.address}/`)) ? "running" : "stopped";
  }

  async start(ctx: ResourceContext): Promise<void> {
    if ((await this.status()) === "running") return;
    const device = await this.device("start");
    const cidr = `${this.address}/${this.prefix}`;
    const code = await exitCodeOf(
      {
        resource: this.name,
        action: "start",
        command: IP,
        args: ["addr", "add", cidr, "dev", device],
        env: clusterEnv(ctx),
        timeoutMs: IP_TIMEOUT_MS,
      },
      ctx,
    );
    if (code !== 0) throw new ResourceError("failed", this.name, "start", `ip addr add exited with ${code}`);
    // Announced in the background, one reply a second: the next resource need not wait for it.
    // Not fatal: the address works without it; neighbours just learn of the move more slowly.
    void runProgram({
      command: ARPING,
      args: ["-U", "-c", String(GARP_COUNT), "-w", String(GARP_COUNT + 1), "-I", device, this.address],
      env: {},
      timeoutMs: (GARP_COUNT + 3) * 1000,
      onLine: () => {},
    }).then((garp) => {
      if (garp.kind !== "exited")
        ctx.log(
          `${this.name}: no gratuitous ARP sent (${garp.kind === "not-started" ? "arping is not installed" : garp.kind})`,
        );
    });
  }

  async stop(ctx: ResourceContext): Promise<void> {
    if ((await this.status()) === "stopped") return;
    const device = await this.device("stop");
    const code = await exitCodeOf(
      {
        resource: this.name,
        action: "stop",
        command: IP,
        args: ["addr", "del", `${this.address}/${this.prefix}`, "dev", device],
        env: clusterEnv(ctx),
        timeoutMs: IP_TIMEOUT_MS,
      },
      ctx,
    );
    if (code !== 0) throw new ResourceError("failed", this.name, "stop", `ip addr del exited with ${code}`);
  }
}
