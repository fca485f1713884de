// Why a daemon that `clumanager start` launched gave up: the clear line it wrote to its log. Before
// its logger exists the daemon writes plain "clumanager: ..." lines (an invalid configuration's
// errors follow on lines of their own); after, JSON lines at syslog levels.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** At most this much of the log's tail is read, and this many lines of it are repeated. */
export const REASON_READ_BYTES = 64 * 1024;
export const REASON_MAX_LINES = 20;
const ERROR_LEVELS = new Set(["err", "crit", "alert", "emerg"]);
const PREFIX = "clumanager: ";

function jsonMessage(line: string): { level: string; msg: string } | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const o = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return typeof o.level === "string" && typeof o.msg === "string"
      ? { level: o.level, msg: o.msg }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The last error among `text`'s lines, with the plain lines that continue it, each as
 * "clumanager: ..." for its first line; empty when the daemon said no error.
 */
export function startFailureReason(text: string): string[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  let at = -1;
  for (let i = lines.length - 1; i >= 0 && at < 0; i--) {
    const line = lines[i]!;
    const json = jsonMessage(line);
    if (json !== undefined) {
      if (ERROR_LEVELS.has(json.level)) at = i;
    } else if (line.startsWith(PREFIX) && !line.startsWith(`${PREFIX}warning: `)) at = i;
  }
  if (at < 0) return [];
  const first = lines[at]!;
  const json = jsonMessage(first);
  const out = [json !== undefined ? `${PREFIX}${json.msg}` : first];
  for (const line of lines.slice(at + 1)) {
    if (out.length >= REASON_MAX_LINES || line.startsWith(PREFIX) || jsonMessage(line) !== undefined) break;
    out.push(line);
  }
  return out;
}

/** What the log holds from `from` on, at most its last REASON_READ_BYTES. */
export function logSince(path: string, from: number): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return "";
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(from, size - REASON_READ_BYTES);
    if (size <= start) return "";
    const buffer = Buffer.alloc(size - start);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, start + length);
      if (n === 0) break;
      length += n;
    }
    // A read that began inside a line drops that line's first part.
    const text = buffer.toString("utf8", 0, length);
    return start > from ? text.slice(text.indexOf("\n") + 1) : text;
  } finally {
    closeSync(fd);
  }
}
