// Asking a running daemon over its admin socket, for cluadmin and `clumanager status`.
import net from "node:net";
import type { AdminAnswer, AdminRequest } from "../daemon/admin-socket.js";

export const ADMIN_TIMEOUT_MS = 5_000;
/** An answer larger than this is not the daemon's. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

export class DaemonUnreachable extends Error {
  override name = "DaemonUnreachable";
}

export function askDaemon(
  socketPath: string,
  request: AdminRequest,
  timeoutMs = ADMIN_TIMEOUT_MS,
): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffered = "";
    const fail = (message: string) => {
      socket.destroy();
      reject(new DaemonUnreachable(message));
    };
    socket.setTimeout(timeoutMs, () =>
      fail(`the daemon at ${socketPath} did not answer within ${timeoutMs} ms`),
    );
    socket.setEncoding("utf8");
    socket.on("error", (err: NodeJS.ErrnoException) =>
      fail(`no daemon answers at ${socketPath} (${err.code ?? err.message})`),
    );
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_ANSWER_BYTES) return fail(`the answer from ${socketPath} is too long`);
      const nl = buffered.indexOf("\n");
      if (nl < 0) return;
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, nl)) as AdminAnswer);
      } catch {
        reject(new DaemonUnreachable(`the answer from ${socketPath} is not JSON`));
      }
    });
  });
}
