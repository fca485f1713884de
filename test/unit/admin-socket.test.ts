// The admin socket: root-only permissions from the moment it exists, one answer per request line,
// and a clear refusal for anything that is not a known request.
import { statSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askDaemon, DaemonUnreachable } from "../../src/admin/daemon-client.js";
import { AdminServer, MAX_REQUEST_BYTES } from "../../src/daemon/admin-socket.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir();
const path = join(dir.path, "clumanager.sock");
let server: AdminServer;

function rawExchange(payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path, () => socket.write(payload));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => {
      got += c;
      if (got.includes("\n")) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.on("error", reject);
  });
}

describe("the admin socket", () => {
  beforeAll(async () => {
    server = await AdminServer.listen(path, (request) =>
      request.command === "status"
        ? { ok: true, status: { members: 3 } }
        : { ok: true, status: { echo: request } },
    );
  });
  afterAll(async () => {
    await server.close();
    dir.remove();
  });

  it("is a socket with mode 0600", () => {
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("answers a status request", async () => {
    expect(await askDaemon(path, { command: "status" })).toEqual({ ok: true, status: { members: 3 } });
  });

  it("refuses what is not JSON, and an unknown command, naming what it answers", async () => {
    expect(JSON.parse(await rawExchange("status\n"))).toEqual({
      ok: false,
      error: "the request is not JSON",
    });
    expect(JSON.parse(await rawExchange('{"command":"shutdown"}\n'))).toEqual({
      ok: false,
      error:
        'unknown command "shutdown"; the daemon answers "status", "service", "config-change" and "config-backup"',
    });
  });

  it("passes on a well-formed service request and refuses a malformed one", async () => {
    const relocate = { command: "service", op: "relocate", service: "nfs", target: "m1" } as const;
    expect(await askDaemon(path, relocate)).toEqual({ ok: true, status: { echo: relocate } });
    expect(JSON.parse(await rawExchange('{"command":"service","op":"reboot","service":"nfs"}\n'))).toEqual({
      ok: false,
      error: "a service request needs op, one of enable, disable, relocate, restart",
    });
    expect(JSON.parse(await rawExchange('{"command":"service","op":"enable"}\n')).error).toBe(
      "a service request needs the service's name",
    );
  });

  it("refuses a request longer than its limit", async () => {
    const answer = JSON.parse(await rawExchange("x".repeat(MAX_REQUEST_BYTES + 10)));
    expect(answer.error).toBe(`a request is at most ${MAX_REQUEST_BYTES} bytes`);
  });

  it("a client with no daemon gets one sentence naming the socket", async () => {
    const missing = join(dir.path, "none.sock");
    const err = await askDaemon(missing, { command: "status" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonUnreachable);
    expect((err as Error).message).toBe(`no daemon answers at ${missing} (ENOENT)`);
  });
});
