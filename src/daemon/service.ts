// `clumanager start|stop|restart|status|reload|condrestart`: the init-service front of the daemon,
// with the exit codes LSB gives init scripts, so the SysV script and systemd can both call it.
import { spawn } from "node:child_process";
import { closeSync, fstatSync, openSync } from "node:fs";
import { join } from "node:path";
import { askDaemon } from "../admin/daemon-client.js";
import { PID_FILE, SOCKET_FILE } from "./paths.js";
import { readPid, runningPid } from "./pid-file.js";
import { DAEMON_EXIT } from "./run.js";
import { logSince, startFailureReason } from "./start-reason.js";

/** LSB init-script exit codes (status has its own meanings for 1 and 3). */
export const LSB = {
  ok: 0,
  failed: 1,
  invalidArgs: 2,
  /** status: the pid file exists but the process is gone. */
  deadWithPidFile: 1,
  /** status: not running. */
  notRunning: 3,
  /** start: the configuration is missing, unreadable or invalid (the daemon's 78). */
  notConfigured: 6,
  /** reload of a service that is not running. */
  programNotRunning: 7,
} as const;

/** How long start waits for the daemon to join and answer, and stop for it to leave. */
export const START_WAIT_MS = 30_000;
export const STOP_WAIT_MS = 30_000;
const POLL_MS = 100;

export interface ServiceOptions {
  configPath: string;
  memberName?: string;
  runDir: string;
  lab: boolean;
  /** Where a started daemon's log lines go. */
  logFile: string;
  /** The clumanager program to start the daemon with: [node, script]. */
  program: [string, string];
  say: (line: string) => void;
}

export type ServiceState = { running: true; pid: number } | { running: false; stalePid?: number };

export function serviceState(runDir: string): ServiceState {
  const path = join(runDir, PID_FILE);
  const pid = runningPid(path);
  if (pid !== undefined) return { running: true, pid };
  const stale = readPid(path);
  return stale !== undefined ? { running: false, stalePid: stale } : { running: false };
}

export function statusCode(runDir: string, say: (line: string) => void): number {
  const s = serviceState(runDir);
  if (s.running) {
    say(`clumanager is running (pid ${s.pid})`);
    return LSB.ok;
  }
  if (s.stalePid !== undefined) {
    say(`clumanager is not running, but its pid file names pid ${s.stalePid}`);
    return LSB.deadWithPidFile;
  }
  say("clumanager is not running");
  return LSB.notRunning;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function start(o: ServiceOptions): Promise<number> {
  const s = serviceState(o.runDir);
  if (s.running) {
    o.say(`clumanager is already running (pid ${s.pid})`);
    return LSB.ok;
  }
  const args = [o.program[1], "daemon", "--foreground", "-c", o.configPath, "--run-dir", o.runDir];
  if (o.memberName !== undefined) args.push("--member", o.memberName);
  if (o.lab) args.push("--lab");
  let out: number;
  try {
    out = openSync(o.logFile, "a", 0o640);
  } catch (err) {
    o.say(
      `clumanager: cannot open the log file ${o.logFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
    return LSB.failed;
  }
  // What this daemon writes comes after what the log held already.
  const logFrom = fstatSync(out).size;
  const child = spawn(o.program[0], args, { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  /** The daemon's own words for why it stopped, then where to read the rest. */
  const failed = (what: string) => {
    for (const line of startFailureReason(logSince(o.logFile, logFrom))) o.say(line);
    o.say(`clumanager: ${what}; see ${o.logFile}`);
  };
  let exitCode: number | null | undefined;
  child.on("exit", (code, signal) => {
    exitCode = code ?? (signal !== null ? 128 : 1);
  });
  child.unref();
  const socket = join(o.runDir, SOCKET_FILE);
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      failed(`the daemon exited with status ${exitCode} before joining`);
      return exitCode === DAEMON_EXIT.config ? LSB.notConfigured : LSB.failed;
    }
    const answer = await askDaemon(socket, { command: "status" }, 1_000).catch(() => undefined);
    if (answer?.ok) {
      o.say(`clumanager started (pid ${child.pid})`);
      return LSB.ok;
    }
    await sleep(POLL_MS);
  }
  failed(`the daemon (pid ${child.pid}) did not answer within ${START_WAIT_MS} ms`);
  return LSB.failed;
}

/** SIGTERM, which the daemon answers by marking itself DOWN, then waits for it to go. */
export async function stop(runDir: string, say: (line: string) => void): Promise<number> {
  const s = serviceState(runDir);
  if (!s.running) {
    say("clumanager is not running");
    return LSB.ok;
  }
  process.kill(s.pid, "SIGTERM");
  const deadline = Date.now() + STOP_WAIT_MS;
  while (Date.now() < deadline) {
    if (runningPid(join(runDir, PID_FILE)) === undefined) {
      say("clumanager stopped");
      return LSB.ok;
    }
    await sleep(POLL_MS);
  }
  say(`clumanager: pid ${s.pid} is still running ${STOP_WAIT_MS} ms after SIGTERM`);
  return LSB.failed;
}

export async function reload(runDir: string, say: (line: string) => void): Promise<number> {
  const s = serviceState(runDir);
  if (!s.running) {
    say("clumanager is not running");
    return LSB.programNotRunning;
  }
  process.kill(s.pid, "SIGHUP");
  say(`asked clumanager (pid ${s.pid}) to reload its configuration`);
  return LSB.ok;
}
