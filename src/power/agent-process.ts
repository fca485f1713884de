// One run of a fence agent as a child process, bounded in time whatever the agent does. The wait
// is on the agent's exit, not on its pipes: a child it left behind (even one that left its session
// with setsid) may hold them open for ever. After the exit the output gets a short grace, then
// the run's process group is killed; when the pipes were still held (or the deadline passed), so
// is every process that carries the run's mark in its environment, the only trace a setsid child
// keeps of where it came from. (The search reads /proc, so a run that ends cleanly skips it.)
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, readdir } from "node:fs/promises";

/** After SIGTERM at the deadline, how long the agent gets before SIGKILL. */
export const AGENT_KILL_GRACE_MS = 2_000;
/** After the agent exits, how long its pipes may still deliver output before they are dropped. */
export const AGENT_EXIT_GRACE_MS = 250;
/** Output kept from one run: the first and the last half of this, for messages. */
export const MAX_AGENT_OUTPUT_BYTES = 64 * 1024;
/** The environment variable that marks every process of one run. */
export const RUN_MARK_VARIABLE = "CLUMANAGER_FENCE_RUN";
/** The leftover search looks at no more than this many processes... */
export const MAX_SCANNED_PROCESSES = 65_536;
/** ...reads no more than this much of each one's environment... */
export const MAX_ENVIRON_BYTES = 256 * 1024;
/** ...and gives up after this long (a read of another process's memory can block). */
export const LEFTOVER_SCAN_BUDGET_MS = 2_000;

export interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** The deadline passed and the agent was killed. */
  timedOut: boolean;
  /** Processes of the run still found after it ended, and killed. */
  leftovers: number;
}

/** Keeps the first and the last part of a stream of bytes, never more than `limit` in all. */
export class BoundedOutput {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const half = Math.floor(this.limit / 2);
    if (this.headBytes < half) {
      const take = chunk.subarray(0, half - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tailBytes > this.limit - half) {
      const first = this.tail[0]!;
      const excess = this.tailBytes - (this.limit - half);
      if (first.length <= excess) {
        this.tail.shift();
        this.tailBytes -= first.length;
        this.dropped += first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailBytes -= excess;
        this.dropped += excess;
      }
    }
  }

  text(): string {
    const head = Buffer.concat(this.head).toString("utf8");
    const tail = Buffer.concat(this.tail).toString("utf8");
    return this.dropped > 0 ? `${head}\n(${this.dropped} bytes left out)\n${tail}` : head + tail;
  }
}

/** Field 22 of /proc/PID/stat, when the process started, in clock ticks since boot. */
export function startTimeOf(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function startTime(pid: number): number | undefined {
  try {
    return startTimeOf(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

async function readBounded(path: string, limit: number): Promise<Buffer | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, "r");
    const buffer = Buffer.alloc(limit);
    const { bytesRead } = await handle.read(buffer, 0, limit, 0);
    return buffer.subarray(0, bytesRead);
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Kills every process that started no earlier than `since` and carries `mark` in its environment.
 * One file at a time, so the search never takes more than one thread of the pool from disk I/O.
 */
export async function killMarked(
  mark: string,
  since: number | undefined,
  signal: NodeJS.Signals,
): Promise<number> {
  const deadline = Date.now() + LEFTOVER_SCAN_BUDGET_MS;
  const needle = Buffer.from(`\0${mark}\0`);
  let killed = 0;
  let entries: string[];
  try {
    entries = (await readdir("/proc")).filter((e) => /^\d+$/.test(e)).slice(0, MAX_SCANNED_PROCESSES);
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (Date.now() > deadline) break;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    // Only processes as young as the run can be of it: most are skipped without reading memory.
    const stat = await readBounded(`/proc/${pid}/stat`, 4096);
    const started = stat !== undefined ? startTimeOf(stat.toString("latin1")) : undefined;
    if (started === undefined || (since !== undefined && started < since)) continue;
    const environ = await readBounded(`/proc/${pid}/environ`, MAX_ENVIRON_BYTES);
    if (environ === undefined) continue;
    if (!Buffer.concat([Buffer.from([0]), environ]).includes(needle)) continue;
    try {
      process.kill(pid, signal);
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** Runs `path` with `input` on its stdin; settles within timeoutMs + the kill and exit graces. */
export function runAgent(path: string, input: string, timeoutMs: number): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const markValue = `${process.pid}-${randomBytes(8).toString("hex")}`;
    const mark = `${RUN_MARK_VARIABLE}=${markValue}`;
    const child = spawn(path, [], {
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, [RUN_MARK_VARIABLE]: markValue },
    });
    const since = child.pid !== undefined ? startTime(child.pid) : undefined;
    const output = new BoundedOutput(MAX_AGENT_OUTPUT_BYTES);
    child.stdout.on("data", (c: Buffer) => output.add(c));
    child.stderr.on("data", (c: Buffer) => output.add(c));
    let timedOut = false;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, f: () => void) => timers.push(setTimeout(f, ms));
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    };
    const finish = (how: "closed" | "held" | "timeout") => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      // Whatever the run left behind goes with it; the pipes are dropped, held or not.
      killGroup("SIGKILL");
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin.destroy();
      child.unref();
      const search = how === "closed" ? Promise.resolve(0) : killMarked(mark, since, "SIGKILL");
      void search.then((leftovers) =>
        resolve({
          code: exited?.code ?? null,
          signal: exited?.signal ?? null,
          output: output.text(),
          timedOut,
          leftovers,
        }),
      );
    };
    later(timeoutMs, () => {
      if (exited !== undefined) return; // it ended in time; only its pipes are still open
      timedOut = true;
      killGroup("SIGTERM");
      void killMarked(mark, since, "SIGTERM");
      later(AGENT_KILL_GRACE_MS, () => {
        killGroup("SIGKILL");
        // An agent that does not die even of SIGKILL (stuck in the kernel) is given up on.
        later(AGENT_EXIT_GRACE_MS, () => finish("timeout"));
      });
    });
    child.on("error", (err) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      reject(new Error(`could not run ${path}: ${err.message}`));
    });
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      later(AGENT_EXIT_GRACE_MS, () => finish(timedOut ? "timeout" : "held"));
    });
    child.on("close", () => finish(timedOut ? "timeout" : "closed"));
    child.stdin.on("error", () => {}); // an agent that exits without reading stdin
    child.stdin.end(input);
  });
}
