// A quorum "partition" that is a file on tmpfs proves nothing: tmpfs takes O_DIRECT without any
// alignment check and forgets everything at reboot, so an -I or -t there succeeds whatever the
// code does. Only regular files are looked at: a device's data lives on the device, and /dev
// itself is a devtmpfs, which statfs reports with the same magic.
import { statfsSync, statSync } from "node:fs";

/** statfs f_type of tmpfs (and devtmpfs), from linux/magic.h. */
export const TMPFS_MAGIC = 0x01021994;

export function isFileOnTmpfs(path: string): boolean {
  try {
    return statSync(path).isFile() && statfsSync(path).type === TMPFS_MAGIC;
  } catch {
    // A path that cannot be looked at is reported by the command itself.
    return false;
  }
}

export function tmpfsWarning(path: string): string {
  return `${path} is a file on tmpfs, which accepts direct I/O without checking its alignment and keeps nothing across a reboot, so this run proves nothing about a shared disk; use the shared disk's partitions (or files on ext4 to try it out)`;
}
