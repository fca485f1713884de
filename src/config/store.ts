// /etc/cluster.conf on a member's own disk: rewritten atomically, and changed by one cluadmin at a
// time on this machine (members are kept apart by the disk lock; processes on one member share
// that member's lock slot, so they need a lock of their own).
import {
  closeSync,
  constants,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

export const LOCAL_LOCK_WAIT_MS = 30_000;
const LOCAL_LOCK_POLL_MS = 50;

/** Writes a temporary file beside `path`, fsyncs it, renames it over `path`, fsyncs the directory. */
export function writeFileAtomic(path: string, text: string): void {
  let mode = 0o600;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    // a new file: readable by root only, as it may hold switch passwords
  }
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A lock file beside the configuration holding the owner's pid; a dead owner's lock is taken over. */
export class LocalLock {
  private constructor(readonly path: string) {}

  static async acquire(configPath: string, waitMs = LOCAL_LOCK_WAIT_MS): Promise<LocalLock> {
    const path = `${configPath}.lock`;
    const giveUp = Date.now() + waitMs;
    for (;;) {
      try {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return new LocalLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new LocalLockError(`cannot create the lock file ${path}: ${(err as Error).message}`);
        }
      }
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(path, "utf8").trim());
      } catch {
        continue; // it went away meanwhile
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        try {
          unlinkSync(path);
        } catch {
          // another waiter took it over first
        }
        continue;
      }
      if (Date.now() > giveUp) {
        throw new LocalLockError(
          `another cluadmin (pid ${owner}) is changing ${configPath}; try again when it is done`,
        );
      }
      await new Promise((r) => setTimeout(r, LOCAL_LOCK_POLL_MS));
    }
  }

  release(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
