// A daemon that closes the admin socket without answering (it crashed on the request, or was
// stopped meanwhile): cluadmin, as a real process, says so in one sentence and exits with a
// documented status, instead of ending silently with Node's 13 for a promise never settled.
import { spawn } from "node:child_process";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_EXIT } from "../../src/admin/commands.js";
import { SOCKET_FILE } from "../../src/daemon/paths.js";
import { exampleCluster } from "../helpers/example-cluster.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-hangup-");
const socketPath = join(dir.path, SOCKET_FILE);
const sentence = `the daemon closed the admin socket at ${socketPath} without answering; see its log`;
let rude: net.Server;

function cluadmin(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(process.cwd(), "dist/cli/cluadmin.js"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("a daemon that hangs up on cluadmin", () => {
  beforeAll(async () => {
    // Reads the request, then closes: what a daemon that died on it looks like from outside.
    rude = net.createServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((r) => rude.listen(socketPath, r));
  });
  afterAll(async () => {
    await new Promise((r) => rude.close(r));
    dir.remove();
  });

  it("service restart: the sentence, and exit 69", async () => {
    const r = await cluadmin("--run-dir", dir.path, "--", "service", "restart", "web");
    expect(r.err).toBe(`cluadmin: service restart web: ${sentence}\n`);
    expect(r.code).toBe(ADMIN_EXIT.unavailable);
  });

  it("cluster status: the sentence, before why the partitions could not be read either", async () => {
    const r = await cluadmin(
      "-c",
      join(dir.path, "none.conf"),
      "--run-dir",
      dir.path,
      "--",
      "cluster",
      "status",
    );
    expect(r.err).toContain(`cluadmin: ${sentence}, and the configuration cannot be read either`);
    // A configuration file that cannot be read is 78 for every command.
    expect(r.code).toBe(ADMIN_EXIT.config);
  });

  it("cluster status: read from the partitions instead, with the sentence as its note", async () => {
    const c = await exampleCluster(dir.path, "hangup");
    const r = await cluadmin(
      "-c",
      c.conf,
      "-m",
      "clu1",
      "--run-dir",
      dir.path,
      "--json",
      "--",
      "cluster",
      "status",
    );
    expect(r.code).toBe(ADMIN_EXIT.ok);
    expect(JSON.parse(r.out)).toMatchObject({ source: "partitions", note: sentence });
  });
});
