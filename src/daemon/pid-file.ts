// The pid file in the run directory: one daemon per run directory, and how `clumanager status`
// and `stop` find it. A pid file whose process is gone is stale and is replaced.
import { closeSync, constants, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { rawio } from "../disk/rawio.js";

export class AlreadyRunning extends Error {
  override name = "AlreadyRunning";
}

/** Whether `pid` runs: not gone, and not a zombie waiting to be reaped. */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else, which still means "running".
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed daemon whose parent has not reaped it yet is a zombie: it answers signals but runs
  // nothing, and must not keep its replacement from starting.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

/** The pid in the file, whether or not that process still runs; undefined when there is no file. */
export function readPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** The daemon's pid when the file names a running process. */
export function runningPid(path: string): number | undefined {
  const pid = readPid(path);
  return pid !== undefined && processRunning(pid) ? pid : undefined;
}

export class PidFile {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
  ) {}

  /**
   * Takes the pid file: an exclusive flock held for the daemon's life, so a second daemon with
   * this run directory is refused even if both start at the same moment. The kernel drops the
   * lock when the daemon dies, however it dies.
   */
  static claim(path: string): PidFile {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    if (!rawio.flock(fd, true)) {
      closeSync(fd);
      const other = readPid(path);
      throw new AlreadyRunning(
        `clumanager is already running${other !== undefined ? ` as pid ${other}` : ""} (${path})`,
      );
    }
    ftruncateSync(fd);
    writeSync(fd, `${process.pid}\n`, 0);
    return new PidFile(path, fd);
  }

  /** Removes the file if it is still ours, and lets go of it. */
  release(): void {
    if (this.fd === undefined) return;
    if (readPid(this.path) === process.pid) rmSync(this.path, { force: true });
    closeSync(this.fd);
    this.fd = undefined;
  }
}
