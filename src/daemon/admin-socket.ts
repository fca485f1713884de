// The admin socket: a Unix domain socket in the run directory, mode 0600 so only root talks to
// the daemon. One JSON request per line, one JSON answer per line.
import { chmodSync, rmSync } from "node:fs";
import net from "node:net";
import type { AdminOp } from "../core/services.js";
import { MAX_CONFIG_BYTES } from "../disk/format.js";
import { ADMIN_OPS } from "./service-requests.js";

export const MAX_ADMIN_CLIENTS = 16;
/** A configuration change carries two configurations, each at most MAX_CONFIG_BYTES, as JSON
 * strings (escaping adds a byte per newline or quote). Only root can connect. */
export const MAX_REQUEST_BYTES = 3 * MAX_CONFIG_BYTES;
/** A client that sends nothing for this long is dropped, so none can hold the daemon open. */
export const ADMIN_IDLE_MS = 60_000;

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

function parseRequest(line: string): AdminRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "the request is not JSON";
  }
  const v = (value ?? {}) as { command?: unknown; op?: unknown; service?: unknown; target?: unknown };
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

export class AdminServer {
  private readonly clients = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly path: string,
  ) {
    server.on("connection", (socket) => {
      this.clients.add(socket);
      socket.on("close", () => this.clients.delete(socket));
    });
  }

  static async listen(path: string, handler: AdminHandler): Promise<AdminServer> {
    // The pid file already proved no other daemon uses this run directory: a socket left here
    // is a dead daemon's.
    rmSync(path, { force: true });
    const server = net.createServer((socket) => serve(socket, handler));
    server.maxConnections = MAX_ADMIN_CLIENTS;
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
    return new AdminServer(server, path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // A monitor left open must not keep a stopping daemon alive.
      for (const socket of this.clients) socket.destroy();
      rmSync(this.path, { force: true });
    });
  }
}

function serve(socket: net.Socket, handler: AdminHandler): void {
  let buffered = "";
  socket.setEncoding("utf8");
  socket.setTimeout(ADMIN_IDLE_MS, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_REQUEST_BYTES) {
      socket.end(
        `${JSON.stringify({ ok: false, error: `a request is at most ${MAX_REQUEST_BYTES} bytes` })}\n`,
      );
      return;
    }
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const request = parseRequest(line);
      void Promise.resolve(
        typeof request === "string" ? { ok: false as const, error: request } : handler(request),
      )
        .catch((err: unknown) => ({
          ok: false as const,
          error: err instanceof Error ? err.message : String(err),
        }))
        .then((answer) => {
          if (!socket.destroyed) socket.write(`${JSON.stringify(answer)}\n`);
        });
    }
  });
}
