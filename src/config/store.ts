// /etc/cluster.conf on a member's own disk: rewritten atomically, and changed by one cluadmin at a
// time on this machine (a lock of its own, beside the file; the member's slot of the disk lock is
// another, slot-lock.ts).
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { PidFlock } from "../disk/pid-flock.js";

export const LOCAL_LOCK_WAIT_MS = 30_000;

/** Writes a temporary file beside `path`, fsyncs it, renames it over `path`, fsyncs the directory. */
export function writeFileAtomic(path: string, text: string, forceMode?: number): void {
  let mode = forceMode ?? 0o600;
  if (forceMode === undefined) {
    try {
      mode = statSync(path).mode & 0o7777;
    } catch {
      // a new file: readable by root only, as it may hold switch passwords
    }
  }
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (err) {
    // The temporary file holds the whole configuration, secrets included: never leave it behind.
    rmSync(temporary, { force: true });
    throw err;
  }
  const dir = openSync(dirname(path), constants.O_RDONLY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export class LocalLockError extends Error {
  override name = "LocalLockError";
}

/** An exclusive flock on a file beside the configuration (pid-flock.ts). */
export class LocalLock {
  private constructor(
    readonly path: string,
    private readonly lock: PidFlock,
  ) {}

  static async acquire(configPath: string, waitMs = LOCAL_LOCK_WAIT_MS): Promise<LocalLock> {
    const path = `${configPath}.lock`;
    const lock = await PidFlock.acquire(path, waitMs, {
      open: (detail) => new LocalLockError(`cannot open the lock file ${path}: ${detail}`),
      busy: (holder) =>
        new LocalLockError(
          `another cluadmin${holder ? ` (pid ${holder})` : ""} is changing ${configPath}; try again when it is done`,
        ),
    });
    return new LocalLock(path, lock);
  }

  release(): void {
    this.lock.release();
  }
}
