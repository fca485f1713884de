// The bakery keeps members apart; it cannot keep apart two processes of one member (its daemon
// and a cluadmin), which share that member's slot. They take turns through a flock on a file
// named by the cluster's identity and the member's id, in one fixed directory: every spelling of
// the configuration's path (relative, through a symlink, CLUSTER_CONF) finds the same lock.
import { lstatSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PidFlock } from "./pid-flock.js";

/** Where root's slot locks live (cleared at boot, which is right: no process survives one). */
export const ROOT_SLOT_LOCK_DIR = "/run/clumanager";

export class SlotLockError extends Error {
  override name = "SlotLockError";
  constructor(
    message: string,
    /** Held by another process (not: the lock file could not be made or opened). */
    readonly busy = false,
  ) {
    super(message);
  }
}

/** root: /run/clumanager; anyone else (the lab, tests): a directory of their own under /tmp. */
export function slotLockDir(): string {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? ROOT_SLOT_LOCK_DIR : join(tmpdir(), `clumanager-${uid}`);
}

export function slotLockPath(clusterUuid: Buffer, member: number, dir = slotLockDir()): string {
  return join(dir, `slot-${clusterUuid.toString("hex")}-member${member}.lock`);
}

/** Makes the directory, or checks that the one there is a real directory of this user's. */
function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid)
    throw new SlotLockError(
      `${dir} is not a directory owned by uid ${uid}; remove it so that clumanager can make its lock directory there`,
    );
}

export class SlotLock {
  private constructor(private readonly lock: PidFlock) {}

  /** Waits up to `waitMs` for this member's slot on this machine. */
  static async acquire(
    clusterUuid: Buffer,
    member: number,
    waitMs: number,
    dir = slotLockDir(),
  ): Promise<SlotLock> {
    ensureDir(dir);
    const path = slotLockPath(clusterUuid, member, dir);
    const lock = await PidFlock.acquire(path, waitMs, {
      open: (detail) => new SlotLockError(`cannot open the lock file ${path}: ${detail}`),
      busy: (holder) =>
        new SlotLockError(
          `member ${member}'s slot of the disk lock is in use by another process on this machine${holder ? ` (pid ${holder})` : ""}, its daemon or another cluadmin; try again when it is done`,
          true,
        ),
    });
    return new SlotLock(lock);
  }

  release(): void {
    this.lock.release();
  }
}
