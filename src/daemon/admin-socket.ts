// The admin socket: a Unix domain socket in the run directory, mode 0600 so only root talks to
// the daemon. One JSON request per line, one JSON answer per line, one request at a time per
// connection. No client can take the daemon down or keep an administrator out: a handler's
// failure answers that request, a connection that sends no request or takes no answer is dropped,
// and a new connection at the limit pushes out the oldest one that is not being served.
import { chmodSync, rmSync } from "node:fs";
import net from "node:net";
import type { AdminOp } from "../core/services.js";
import { MAX_CONFIG_BYTES } from "../disk/format.js";
import { ADMIN_OPS } from "./service-requests.js";

/** Connections held at once; the next one replaces the oldest that no handler is working for. */
export const MAX_ADMIN_CLIENTS = 16;
/** A configuration change carries two configurations, each at most MAX_CONFIG_BYTES, as JSON
 * strings (escaping adds a byte per newline or quote). Counted per request line. */
export const MAX_REQUEST_BYTES = 3 * MAX_CONFIG_BYTES;
/** How long a connection has to send a whole request line, from its start or its last answer.
 * cluadmin writes its request the moment it connects, so this is generous. */
export const ADMIN_REQUEST_MS = 10_000;
/** How long an answer may wait for the client to read it before the connection is dropped. */
export const ADMIN_WRITE_MS = 10_000;

export type AdminRequest =
  | { command: "status" }
  /** An administrator's service request, by names; `target` only for relocate. */
  | { command: "service"; op: AdminOp; service: string; target?: string }
  /** cluadmin's change, made on view `baseView` (whose text is `baseText`): the daemon writes it
   * under its own use of the member's slot, only if that view is still the one stored. */
  | { command: "config-change"; baseView: number; baseText: string; text: string }
  /** cluadmin's "cluster backup" of view `view`, whose text is `text`. */
  | { command: "config-backup"; view: number; text: string };
export type AdminAnswer = { ok: true; status: unknown } | { ok: false; error: string };

export type AdminHandler = (request: AdminRequest) => Promise<AdminAnswer> | AdminAnswer;

export interface AdminServerOptions {
  maxClients?: number;
  requestMs?: number;
  writeMs?: number;
  maxRequestBytes?: number;
  /** Told of every handler failure (the daemon logs it); the request is answered with an error. */
  onHandlerError?: (command: string, err: unknown) => void;
}

const NOT_AN_OBJECT = "a request must be a JSON object with a command field";

function parseRequest(line: string): AdminRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "the request is not JSON";
  }
  if (value === null || typeof value !== "object" || Array.isArray(value) || !("command" in value))
    return NOT_AN_OBJECT;
  const v = value as { command?: unknown; op?: unknown; service?: unknown; target?: unknown };
  if (v.command === "status") return { command: v.command };
  if (v.command === "service") {
    const op = ADMIN_OPS.find((o) => o === v.op);
    if (op === undefined) return `a service request needs op, one of ${ADMIN_OPS.join(", ")}`;
    if (typeof v.service !== "string") return "a service request needs the service's name";
    if (v.target !== undefined && typeof v.target !== "string") return "target must be a member's name";
    return {
      command: "service",
      op,
      service: v.service,
      ...(v.target !== undefined ? { target: v.target } : {}),
    };
  }
  const c = value as { baseView?: unknown; baseText?: unknown; text?: unknown; view?: unknown };
  if (v.command === "config-change") {
    if (!Number.isSafeInteger(c.baseView) || typeof c.baseText !== "string" || typeof c.text !== "string")
      return "a configuration change needs baseView, baseText and text";
    return { command: v.command, baseView: c.baseView as number, baseText: c.baseText, text: c.text };
  }
  if (v.command === "config-backup") {
    if (!Number.isSafeInteger(c.view) || typeof c.text !== "string") return "a backup needs view and text";
    return { command: v.command, view: c.view as number, text: c.text };
  }
  return `unknown command ${JSON.stringify(v.command)}; the daemon answers "status", "service", "config-change" and "config-backup"`;
}

function line(answer: AdminAnswer): string {
  return `${JSON.stringify(answer)}\n`;
}

function failure(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** The answer line for one request line; never throws, whatever the handler does. */
async function answerLine(
  text: string,
  handler: AdminHandler,
  onError: (command: string, err: unknown) => void,
): Promise<string> {
  const request = parseRequest(text);
  if (typeof request === "string") return line({ ok: false, error: request });
  try {
    // Inside the try: a handler that throws at once is caught like one that rejects.
    return line(await handler(request));
  } catch (err) {
    onError(request.command, err);
    return line({
      ok: false,
      error: `the daemon failed to answer this ${request.command} request (${failure(err)}); it goes on running, and its log has the details`,
    });
  }
}

const NEWLINE = 0x0a;

/** One client: the bytes of its unfinished request line, and whether a handler works for it. */
class Connection {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly queued: string[] = [];
  /** A handler is working on this connection's request: it is not pushed out for a newcomer. */
  serving = false;
  /** The client has sent all it will: answer what it asked, then close. */
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: net.Socket,
    private readonly handler: AdminHandler,
    private readonly o: Required<AdminServerOptions>,
  ) {
    socket.on("error", () => socket.destroy());
    socket.on("close", () => clearTimeout(this.timer));
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("end", () => {
      this.ended = true;
      if (!this.serving && this.queued.length === 0) socket.end();
    });
    this.waitForRequest();
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.socket.destroy(), ms);
  }

  private waitForRequest(): void {
    this.arm(this.o.requestMs);
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      if (this.partialBytes + (nl - start) > this.o.maxRequestBytes) {
        this.refuseLong();
        return;
      }
      this.partial.push(chunk.subarray(start, nl));
      this.queued.push(Buffer.concat(this.partial).toString("utf8"));
      this.partial = [];
      this.partialBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.partialBytes += chunk.length - start;
      if (this.partialBytes > this.o.maxRequestBytes) {
        this.refuseLong();
        return;
      }
      this.partial.push(chunk.subarray(start));
    }
    if (this.queued.length > 0 && !this.serving) void this.serveQueued();
  }

  private refuseLong(): void {
    this.partial = [];
    this.queued.length = 0;
    this.socket.removeAllListeners("data");
    this.socket.pause();
    void this.reply(line({ ok: false, error: `a request is at most ${this.o.maxRequestBytes} bytes` }), true);
  }

  /** Answers the queued lines in order; reading waits meanwhile, so a client can queue only
   * what one read brought. */
  private async serveQueued(): Promise<void> {
    this.socket.pause();
    clearTimeout(this.timer);
    for (let text = this.queued.shift(); text !== undefined; text = this.queued.shift()) {
      this.serving = true;
      const answer = await answerLine(text, this.handler, this.o.onHandlerError);
      this.serving = false;
      if (this.socket.destroyed) return;
      if (!(await this.reply(answer, false))) return;
    }
    if (this.ended) {
      this.socket.end();
      return;
    }
    this.waitForRequest();
    this.socket.resume();
  }

  /** Writes one answer; true once the client has taken it, false if it was dropped instead. */
  private reply(text: string, last: boolean): Promise<boolean> {
    this.arm(this.o.writeMs);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (taken: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(this.timer);
        // One listener per answer, removed with it: a long queue must not pile them up.
        this.socket.off("close", dropped);
        resolve(taken);
      };
      const dropped = () => settle(false);
      this.socket.once("close", dropped);
      const written = (err?: Error | null) => {
        if (last || err) this.socket.destroy();
        settle(!err && !last);
      };
      if (last) this.socket.end(text, written);
      else this.socket.write(text, written);
    });
  }
}

export class AdminServer {
  private readonly connections = new Set<Connection>();

  private constructor(
    private readonly server: net.Server,
    readonly path: string,
  ) {}

  static async listen(
    path: string,
    handler: AdminHandler,
    options: AdminServerOptions = {},
  ): Promise<AdminServer> {
    const o: Required<AdminServerOptions> = {
      maxClients: MAX_ADMIN_CLIENTS,
      requestMs: ADMIN_REQUEST_MS,
      writeMs: ADMIN_WRITE_MS,
      maxRequestBytes: MAX_REQUEST_BYTES,
      onHandlerError: () => {},
      ...options,
    };
    // The pid file already proved no other daemon uses this run directory: a socket left here
    // is a dead daemon's.
    rmSync(path, { force: true });
    // Half-open: a client that sends its request and then shuts its side still gets the answer.
    const server = net.createServer({ allowHalfOpen: true });
    const admin = new AdminServer(server, path);
    server.on("connection", (socket) => admin.accept(socket, handler, o));
    // Created with no permission for group and others, so there is no moment it is open to them.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    return admin;
  }

  private accept(socket: net.Socket, handler: AdminHandler, o: Required<AdminServerOptions>): void {
    if (this.connections.size >= o.maxClients) {
      // Oldest first (a Set keeps insertion order): one that sends nothing or reads nothing.
      const idle = [...this.connections].find((c) => !c.serving);
      if (idle === undefined) {
        const give = setTimeout(() => socket.destroy(), o.writeMs);
        socket.on("error", () => socket.destroy());
        socket.on("close", () => clearTimeout(give));
        const refusal = `the daemon is working on ${o.maxClients} requests already; ask again in a moment`;
        socket.end(line({ ok: false, error: refusal }), () => socket.destroy());
        return;
      }
      idle.socket.destroy();
      this.connections.delete(idle);
    }
    const connection = new Connection(socket, handler, o);
    this.connections.add(connection);
    socket.on("close", () => this.connections.delete(connection));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // A monitor left open must not keep a stopping daemon alive.
      for (const c of this.connections) c.socket.destroy();
      rmSync(this.path, { force: true });
    });
  }
}
