// One copy's bytes for a range of the partitions, or why they could not be read. A sector that
// cannot be read is a damaged copy like any other (every block in the range is bad on it); a hung
// device (timeout, busy) is not, and more I/O would not help it, so that is thrown.
import type { DirectDevice } from "./device.js";
import { DiskIoError } from "./errors.js";

export type CopyBytes = { ok: true; bytes: Buffer } | { ok: false; problem: string };

/** `unreadable` words the problem from the error's code. */
export async function readCopyBytes(
  device: DirectDevice,
  offset: number,
  length: number,
  unreadable: (code: string) => string,
): Promise<CopyBytes> {
  try {
    return { ok: true, bytes: await device.read(offset, length) };
  } catch (err) {
    if (err instanceof DiskIoError) return { ok: false, problem: unreadable(err.code) };
    throw err;
  }
}
