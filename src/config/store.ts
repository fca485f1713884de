// /etc/cluster.conf on a member's own disk: rewritten atomically, and changed by one cluadmin at a
// time on this machine (members are kept apart by the disk lock; processes on one member share
// that member's lock slot, so they need a lock of their own).
import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { rawio } from "../disk/rawio.js";

export const LOCAL_LOCK_WAIT_MS = 30_000;
const LOCAL_LOCK_POLL_MS = 50;

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

/**
 * An exclusive flock on a file beside the configuration. The kernel releases it when its holder
 * exits, however it exits, so there is no stale lock to take over (and no race in taking one
 * over). The file itself stays; it only ever holds the last holder's pid, for people.
 */
export class LocalLock {
  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  static async acquire(configPath: string, waitMs = LOCAL_LOCK_WAIT_MS): Promise<LocalLock> {
    const path = `${configPath}.lock`;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    } catch (err) {
      throw new LocalLockError(`cannot open the lock file ${path}: ${(err as Error).message}`);
    }
    const giveUp = Date.now() + waitMs;
    while (!rawio.flock(fd, true)) {
      if (Date.now() > giveUp) {
        closeSync(fd);
        const holder = readFileSync(path, "utf8").trim();
        throw new LocalLockError(
          `another cluadmin${holder ? ` (pid ${holder})` : ""} is changing ${configPath}; try again when it is done`,
        );
      }
      await new Promise((r) => setTimeout(r, LOCAL_LOCK_POLL_MS));
    }
    ftruncateSync(fd);
    writeSync(fd, `${process.pid}\n`, 0);
    return new LocalLock(path, fd);
  }

  release(): void {
    try {
      rawio.flock(this.fd, false);
    } finally {
      closeSync(this.fd);
    }
  }
}
