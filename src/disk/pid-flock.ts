// An exclusive flock on a small file that names its holder's pid, for people. The kernel releases
// it when its holder exits, however it exits, so there is no stale lock to take over (and no race
// in taking one over). The file itself stays. Used for the locks one machine's processes share:
// the configuration file's, and each member's slot of the disk lock.
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { rawio } from "./rawio.js";

const POLL_MS = 50;

export class PidFlock {
  private constructor(private readonly fd: number) {}

  /**
   * Waits up to `waitMs` for the lock on `path`. `fail` makes the error: for the file that could
   * not be opened (`detail` says why), or for the lock still held (by `holder`, the pid written
   * there, when it can be read).
   */
  static async acquire(
    path: string,
    waitMs: number,
    fail: { open: (detail: string) => Error; busy: (holder: string) => Error },
  ): Promise<PidFlock> {
    let fd: number;
    try {
      // Never through a symlink: the lock files live in directories others may write to.
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw fail.open((err as Error).message);
    }
    const giveUp = Date.now() + waitMs;
    try {
      while (!rawio.flock(fd, true)) {
        if (Date.now() > giveUp) {
          let holder = "";
          try {
            holder = readFileSync(path, "utf8").trim();
          } catch {
            // only for the message
          }
          throw fail.busy(holder);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      ftruncateSync(fd);
      writeSync(fd, `${process.pid}\n`, 0);
    } catch (err) {
      // Closing the descriptor lets go of the flock too, if it was taken.
      closeSync(fd);
      throw err;
    }
    return new PidFlock(fd);
  }

  release(): void {
    try {
      rawio.flock(this.fd, false);
    } finally {
      closeSync(this.fd);
    }
  }
}
