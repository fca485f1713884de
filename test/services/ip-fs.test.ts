// The ip and fs resources on real kernel objects (root): an address on a veth between two network
// namespaces, reached from the other one over TCP; an ext4 filesystem on a loop device, with
// a process holding it that force_unmount must kill.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FsResource } from "../../src/services/fs.js";
import { IpResource } from "../../src/services/ip.js";
import { attachLoop, detachAll } from "../helpers/loop.js";
import { needs, toolPath } from "../helpers/needs.js";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
const lines: string[] = [];
const ctx = { cluster: "lab", member: "m0", service: "web", index: 0, log: (l: string) => lines.push(l) };
const tag = String(process.pid % 100_000);
const member = `clum${tag}`;
const client = `cluc${tag}`;
const mEnd = `clum${tag}v`;
const cEnd = `cluc${tag}v`;

afterAll(() => {
  spawnSync("ip", ["netns", "del", member]);
  spawnSync("ip", ["netns", "del", client]);
  spawnSync("umount", [join(dir.path, "mnt")]);
  detachAll();
  dir.remove();
});

/**
 * Runs the ip resource inside namespace `member`, as the daemon there would: this machine's own
 * network namespace answers no ARP on new interfaces, so both ends live in namespaces of their own.
 */
function inMember(code: string): { status: number | null; out: string } {
  const module = resolve("dist/services/ip.js");
  const script = `import { IpResource } from "${module}";
const ctx = { cluster: "lab", member: "m0", service: "web", index: 0, log: (l) => console.log(l) };
${code}`;
  const r = spawnSync(
    "ip",
    ["netns", "exec", member, process.execPath, "--input-type=module", "-e", script],
    {
      encoding: "utf8",
      timeout: 20_000,
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** Connects from the client namespace: true when the address answers on `port`. */
function reachableFromClient(address: string, port: number): boolean {
  const script = `const s=require("net").connect(${port},"${address}",()=>process.exit(0));s.on("error",()=>process.exit(1));setTimeout(()=>process.exit(2),2000)`;
  return spawnSync("ip", ["netns", "exec", client, process.execPath, "-e", script]).status === 0;
}

needs({ root: true, tools: ["ip", "arping"] })("the ip resource", () => {
  beforeAll(() => {
    const sh = (...args: string[]) => execFileSync("ip", args);
    sh("netns", "add", member);
    sh("netns", "add", client);
    sh("link", "add", mEnd, "type", "veth", "peer", "name", cEnd);
    sh("link", "set", mEnd, "netns", member);
    sh("link", "set", cEnd, "netns", client);
    sh("-n", member, "addr", "add", "192.0.2.1/24", "dev", mEnd);
    sh("-n", client, "addr", "add", "192.0.2.2/24", "dev", cEnd);
    sh("-n", member, "link", "set", mEnd, "up");
    sh("-n", client, "link", "set", cEnd, "up");
    sh("-n", member, "link", "set", "lo", "up");
  });

  it("adds the address, announces it, answers from the other side, and removes it", async () => {
    const up = inMember(`const r = new IpResource("192.0.2.50/24", "${mEnd}");
console.log("before", await r.status());
await r.start(ctx);
await r.start(ctx);
console.log("after", await r.status());`);
    expect(up).toEqual({ status: 0, out: "before stopped\nafter running" });
    // Something of the service listening on the floating address, in the member's namespace.
    const listener = spawn("ip", [
      "netns",
      "exec",
      member,
      process.execPath,
      "-e",
      `require("net").createServer((s) => s.end()).listen(18084, "192.0.2.50", () => console.log("ready"))`,
    ]);
    await new Promise((r) => listener.stdout?.once("data", r));
    try {
      expect(reachableFromClient("192.0.2.50", 18_084)).toBe(true);
    } finally {
      listener.kill();
    }
    const down = inMember(`const r = new IpResource("192.0.2.50/24", "${mEnd}");
await r.stop(ctx);
await r.stop(ctx);
console.log(await r.status());`);
    expect(down).toEqual({ status: 0, out: "stopped" });
    expect(reachableFromClient("192.0.2.50", 18_084)).toBe(false);
  });

  it("finds the interface from the routing table when none is configured", () => {
    const r = inMember(`const r = new IpResource("192.0.2.51/24");
await r.start(ctx);
console.log(await r.status());
await r.stop(ctx);`);
    expect(r).toEqual({ status: 0, out: "running" });
  });

  it("refuses what is not an address, and an interface name that could not be one", () => {
    expect(() => new IpResource("10.0.0.300/24", "eth0")).toThrow('"10.0.0.300/24" is not an IPv4 address');
    expect(() => new IpResource("10.0.0.3/24", "eth0; reboot")).toThrow(
      '"eth0; reboot" is not an interface name',
    );
  });
});

needs({ root: true, tools: ["losetup", "mkfs.ext4", "mount", "fuser"] })("the fs resource", () => {
  let device = "";
  const mnt = join(dir.path, "mnt");
  beforeAll(() => {
    device = attachLoop(zeroFile(join(dir.path, "fs.img"), 32 << 20));
    execFileSync(toolPath("mkfs.ext4"), ["-q", "-F", device]);
  });

  it("checks, mounts, keeps data across a stop and a start, and force-unmounts a busy mount", async () => {
    const r = new FsResource({ device, mountPoint: mnt, fstype: "ext4", forceUnmount: true, fsck: true });
    expect(await r.status()).toBe("stopped");
    await r.start(ctx);
    expect(await r.status()).toBe("running");
    writeFileSync(join(mnt, "data"), "written before the stop\n");
    // A process of the service still in the mount: force_unmount kills it so the stop succeeds.
    const holder = spawn("sleep", ["600"], { cwd: mnt, stdio: "ignore" });
    await new Promise((r2) => setTimeout(r2, 200));
    await r.stop(ctx);
    expect(await r.status()).toBe("stopped");
    await new Promise((r2) => setTimeout(r2, 100));
    expect(holder.exitCode !== null || holder.signalCode !== null).toBe(true);
    await r.start(ctx);
    expect(readFileSync(join(mnt, "data"), "utf8")).toBe("written before the stop\n");
    await r.stop(ctx);
  });

  it("without force_unmount, a busy mount fails to stop and says how to fix it", async () => {
    const r = new FsResource({ device, mountPoint: mnt, fstype: "ext4", forceUnmount: false, fsck: false });
    await r.start(ctx);
    const holder = spawn("sleep", ["600"], { cwd: mnt, stdio: "ignore" });
    await new Promise((r2) => setTimeout(r2, 200));
    try {
      await expect(r.stop(ctx)).rejects.toThrow(
        /umount exited with 32; processes may still use it \(force_unmount = yes kills them\)/,
      );
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r2) => setTimeout(r2, 200));
    }
    await r.stop(ctx);
    expect(existsSync(join(mnt, "data"))).toBe(false);
  });

  it("refuses to mount what another device holds at that mount point", async () => {
    const other = attachLoop(zeroFile(join(dir.path, "other.img"), 32 << 20));
    execFileSync(toolPath("mkfs.ext4"), ["-q", "-F", other]);
    execFileSync("mount", [other, mnt]);
    try {
      const r = new FsResource({ device, mountPoint: mnt, fstype: "ext4", forceUnmount: false, fsck: false });
      await expect(r.status()).rejects.toThrow(`${mnt} holds ${other}, not ${device}`);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
