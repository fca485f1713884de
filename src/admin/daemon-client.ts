// Asking a running daemon over its admin socket, for cluadmin and `clumanager status`.
import net from "node:net";
import type { AdminAnswer, AdminRequest } from "../daemon/admin-socket.js";

export const ADMIN_TIMEOUT_MS = 5_000;
/** An answer larger than this is not the daemon's. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** Why no answer came: no connection, the daemon hung up or was too slow, or it said nonsense. */
export type Unreachable = "absent" | "closed" | "timeout" | "garbled";

export class DaemonUnreachable extends Error {
  override name = "DaemonUnreachable";
  constructor(
    message: string,
    readonly reason: Unreachable,
  ) {
    super(message);
  }
}

export function askDaemon(
  socketPath: string,
  request: AdminRequest,
  timeoutMs = ADMIN_TIMEOUT_MS,
): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffered = "";
    let connected = false;
    let settled = false;
    const fail = (message: string, reason: Unreachable) => {
      socket.destroy();
      if (settled) return;
      settled = true;
      reject(new DaemonUnreachable(message, reason));
    };
    socket.setTimeout(timeoutMs, () =>
      fail(`the daemon at ${socketPath} did not answer within ${timeoutMs} ms`, "timeout"),
    );
    socket.setEncoding("utf8");
    socket.on("error", (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      if (!connected) fail(`no daemon answers at ${socketPath} (${code})`, "absent");
      else
        fail(
          `the admin socket at ${socketPath} failed before the daemon answered (${code}); see the daemon's log`,
          "closed",
        );
    });
    // Without this a hang-up would leave the promise pending, and cluadmin would end silently.
    socket.on("close", () =>
      fail(`the daemon closed the admin socket at ${socketPath} without answering; see its log`, "closed"),
    );
    socket.on("connect", () => {
      connected = true;
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_ANSWER_BYTES)
        return fail(`the answer from ${socketPath} is too long`, "garbled");
      const nl = buffered.indexOf("\n");
      if (nl < 0) return;
      settled = true;
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, nl)) as AdminAnswer);
      } catch {
        reject(new DaemonUnreachable(`the answer from ${socketPath} is not JSON`, "garbled"));
      }
    });
  });
}
