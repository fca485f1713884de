// The admin socket: root-only permissions from the moment it exists, one answer per request line,
// and a clear refusal for anything that is not a known request.
import { statSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askDaemon, DaemonUnreachable } from "../../src/admin/daemon-client.js";
import { clusterStatus } from "../../src/admin/status-source.js";
import {
  type AdminHandler,
  AdminServer,
  MAX_ADMIN_CLIENTS,
  MAX_REQUEST_BYTES,
} from "../../src/daemon/admin-socket.js";
import { SOCKET_FILE } from "../../src/daemon/paths.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
const path = join(dir.path, "clumanager.sock");
let server: AdminServer;

/** Sends `payload` in one write and collects `lines` answer lines (or what came before the close). */
function rawExchange(payload: string, lines = 1, at = path): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(at, () => socket.write(payload));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => {
      got += c;
      if (got.split("\n").length > lines) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.on("close", () => resolve(got));
    socket.on("error", reject);
  });
}

function answers(text: string): unknown[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}

/** A connection that is open once this resolves, and tells when the daemon closed it. */
function connect(at: string): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(at, () =>
      resolve({ socket, closed: new Promise((r) => socket.once("close", () => r())) }),
    );
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
  afterAll(() => server.close());

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

  it("refuses a request longer than its limit, and closes", async () => {
    const answer = JSON.parse(await rawExchange("x".repeat(MAX_REQUEST_BYTES + 10)));
    expect(answer.error).toBe(`a request is at most ${MAX_REQUEST_BYTES} bytes`);
  });

  it("counts the limit in bytes of one line, not characters of a read", async () => {
    // Under the limit in characters, over it in bytes: "é" is two bytes of UTF-8.
    const wide = `{"command":"config-backup","view":1,"text":"${"é".repeat(MAX_REQUEST_BYTES / 2 + 10)}"}\n`;
    expect(answers(await rawExchange(wide))).toEqual([
      { ok: false, error: `a request is at most ${MAX_REQUEST_BYTES} bytes` },
    ]);
    // Two lines, each under the limit, together over it: both are answered, in order.
    const long = `${"x".repeat(MAX_REQUEST_BYTES - 100)}\n`;
    const padded = `{"command":"status"}${" ".repeat(100_000)}\n`;
    expect(answers(await rawExchange(long + padded, 2))).toEqual([
      { ok: false, error: "the request is not JSON" },
      { ok: true, status: { members: 3 } },
    ]);
  });

  it("answers a client that shuts its side after the request, then closes", async () => {
    const socket = net.createConnection(path, () => socket.end('{"command":"status"}\n'));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => {
      got += c;
    });
    await new Promise((r) => socket.once("close", r));
    expect(answers(got)).toEqual([{ ok: true, status: { members: 3 } }]);
  });

  it("refuses what is not an object with a command in one sentence", async () => {
    const sentence = { ok: false, error: "a request must be a JSON object with a command field" };
    for (const request of ["{}", "null", "[]", "5", '"status"', '[{"command":"status"}]', '{"op":"enable"}'])
      expect(answers(await rawExchange(`${request}\n`)), request).toEqual([sentence]);
  });

  it("a client with no daemon gets one sentence naming the socket", async () => {
    const missing = join(dir.path, "none.sock");
    const err = await askDaemon(missing, { command: "status" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonUnreachable);
    expect((err as Error).message).toBe(`no daemon answers at ${missing} (ENOENT)`);
  });
});

describe("a handler that fails", () => {
  const sock = join(dir.path, "failing.sock");
  let failing: AdminServer;
  const logged: string[] = [];

  beforeAll(async () => {
    const handler: AdminHandler = (request) => {
      if (request.command === "status") throw new RangeError("Invalid time value");
      if (request.command === "config-backup") return Promise.reject(new Error("the disk went away"));
      if (request.command === "config-change") return { ok: true, status: { view: 10n } };
      return { ok: true, status: { served: request.service } };
    };
    failing = await AdminServer.listen(sock, handler, {
      onHandlerError: (command, err) => logged.push(`${command}: ${(err as Error).message}`),
    });
  });
  afterAll(() => failing.close());

  it("answers that request with an error, logs it, and goes on serving", async () => {
    const thrown = await askDaemon(sock, { command: "status" });
    expect(thrown).toEqual({
      ok: false,
      error:
        "the daemon failed to answer this status request (RangeError: Invalid time value); it goes on running, and its log has the details",
    });
    const rejected = await askDaemon(sock, { command: "config-backup", view: 1, text: "" });
    expect(rejected.ok).toBe(false);
    expect(!rejected.ok && rejected.error).toContain("(Error: the disk went away)");
    // An answer that cannot be written as JSON is the handler's failure too.
    const unwritable = await askDaemon(sock, {
      command: "config-change",
      baseView: 1,
      baseText: "",
      text: "",
    });
    expect(!unwritable.ok && unwritable.error).toContain(
      "(TypeError: Do not know how to serialize a BigInt)",
    );
    expect(logged).toEqual([
      "status: Invalid time value",
      "config-backup: the disk went away",
      "config-change: Do not know how to serialize a BigInt",
    ]);
    expect(await askDaemon(sock, { command: "service", op: "enable", service: "web" })).toEqual({
      ok: true,
      status: { served: "web" },
    });
  });
});

describe("clients that hold connections", () => {
  it(`still serves an administrator past ${MAX_ADMIN_CLIENTS} silent clients and some that never read`, async () => {
    const runDir = scratchDir("clumanager-admin-");
    const sock = join(runDir.path, SOCKET_FILE);
    // Larger than what the socket buffers hold, so a client that does not read leaves it unwritten.
    const status = { members: 3, padding: "p".repeat(600_000) };
    const busy = await AdminServer.listen(sock, () => ({ ok: true, status }));
    try {
      const held = [];
      for (let i = 0; i < MAX_ADMIN_CLIENTS + 4; i++) held.push(await connect(sock));
      for (let i = 0; i < 4; i++) {
        const nonReader = await connect(sock);
        nonReader.socket.pause();
        nonReader.socket.write('{"command":"status"}\n');
        held.push(nonReader);
      }
      // From the daemon's socket: clusterStatus would read this configuration only to fall back.
      const seen = await clusterStatus(join(runDir.path, "no-such.conf"), undefined, runDir.path);
      expect(seen).toEqual(status);
      for (const h of held) h.socket.destroy();
    } finally {
      await busy.close();
      runDir.remove();
    }
  });

  it("drops a client that sends no whole request, and one that never takes its answer", async () => {
    const sock = join(dir.path, "timeouts.sock");
    // Far more than the socket buffers hold: a client that does not read leaves most unwritten.
    const big = "p".repeat(8 << 20);
    const timed = await AdminServer.listen(
      sock,
      (request) => ({ ok: true, status: request.command === "service" ? big : "small" }),
      { requestMs: 200, writeMs: 200 },
    );
    try {
      const silent = await connect(sock);
      const halfway = await connect(sock);
      halfway.socket.write('{"command":');
      const nonReader = await connect(sock);
      nonReader.socket.pause();
      nonReader.socket.write('{"command":"service","op":"enable","service":"web"}\n');
      await Promise.all([silent.closed, halfway.closed]);
      await new Promise((r) => setTimeout(r, 400));
      // Reading now finds the part the kernel held, then the end: the daemon let go of it.
      let got = 0;
      nonReader.socket.on("data", (c: Buffer) => {
        got += c.length;
      });
      nonReader.socket.resume();
      await nonReader.closed;
      expect(got).toBeGreaterThan(0);
      expect(got).toBeLessThan(big.length);
      expect(await askDaemon(sock, { command: "status" })).toEqual({ ok: true, status: "small" });
    } finally {
      await timed.close();
    }
  });

  it("refuses a newcomer in one sentence when every connection is being served", async () => {
    const sock = join(dir.path, "full.sock");
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let serving = 0;
    const full = await AdminServer.listen(
      sock,
      async () => {
        serving++;
        await held;
        return { ok: true, status: "done" };
      },
      { maxClients: 2 },
    );
    try {
      const waiting = [askDaemon(sock, { command: "status" }), askDaemon(sock, { command: "status" })];
      // Both are taken in before the newcomer comes, however long that takes on a loaded machine.
      for (let i = 0; i < 500 && serving < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(serving).toBe(2);
      expect(await askDaemon(sock, { command: "status" })).toEqual({
        ok: false,
        error: "the daemon is working on 2 requests already; ask again in a moment",
      });
      release();
      expect(await Promise.all(waiting)).toEqual([
        { ok: true, status: "done" },
        { ok: true, status: "done" },
      ]);
    } finally {
      await full.close();
    }
  });
});

describe("a daemon that hangs up", () => {
  it("is one sentence naming the socket, not a silent end", async () => {
    const sock = join(dir.path, "hangup.sock");
    const rude = net.createServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((r) => rude.listen(sock, r));
    try {
      const err = await askDaemon(sock, { command: "status" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DaemonUnreachable);
      expect((err as DaemonUnreachable).reason).toBe("closed");
      expect((err as Error).message).toBe(
        `the daemon closed the admin socket at ${sock} without answering; see its log`,
      );
    } finally {
      await new Promise((r) => rude.close(r));
    }
  });
});
