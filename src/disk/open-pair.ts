// Opening the two quorum partitions as a pair of devices: two different, non-overlapping devices
// with one sector size.
import { DirectDevice } from "./device.js";
import { extentOf, overlaps } from "./device-extent.js";
import { PartitionError } from "./errors.js";

export async function openBoth(
  primaryPath: string,
  backupPath: string,
  options: { write: boolean; timeoutMs?: number },
): Promise<{ primary: DirectDevice; backup: DirectDevice }> {
  const open = {
    write: options.write,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
  const primary = await DirectDevice.open(primaryPath, open);
  let backup: DirectDevice;
  try {
    backup = await DirectDevice.open(backupPath, open);
  } catch (err) {
    primary.close();
    throw err;
  }
  const refuse = (message: string, reason: "same-device" | "mismatch") => {
    primary.close();
    backup.close();
    return new PartitionError(message, reason);
  };
  if (overlaps(extentOf(primary.geometry), extentOf(backup.geometry))) {
    throw refuse(
      `the primary ${primaryPath} and the backup ${backupPath} are the same device or overlap on one disk; ` +
        "the two quorum partitions must be separate partitions",
      "same-device",
    );
  }
  if (primary.sectorSize !== backup.sectorSize) {
    throw refuse(
      `the primary ${primaryPath} has ${primary.sectorSize}-byte sectors but the backup ${backupPath} has ` +
        `${backup.sectorSize}-byte sectors; both quorum partitions must be on devices with one sector size`,
      "mismatch",
    );
  }
  return { primary, backup };
}
