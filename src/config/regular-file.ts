// Reading a file an administrator named (cluster.conf, a secret's file), bounded: a path that
// names a device, a FIFO or a huge file by mistake is refused at once, instead of being read
// for ever or blocking the caller. Each caller words its own sentence from the failure.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

export class RegularFileError extends Error {
  override name = "RegularFileError";
  constructor(
    /** Where it failed: opening, finding it is not a regular file, or reading. */
    readonly stage: "open" | "not-regular" | "read",
    /** The errno code when the system refused (ENOENT, EACCES, ...). */
    readonly code: string | undefined,
    /** For not-regular: what it is instead ("a FIFO", "a directory", ...). */
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isDirectory()) return "a directory";
  if (stat.isSocket()) return "a socket";
  return "not a regular file";
}

function systemError(stage: "open" | "read", err: unknown): RegularFileError {
  const code = (err as NodeJS.ErrnoException).code;
  return new RegularFileError(stage, code, "", code ?? (err instanceof Error ? err.message : String(err)));
}

/** The first `maxBytes` bytes (or fewer) of the regular file at `path`. */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, before fstat
    // could tell what it is. It changes nothing for a regular file.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw systemError("open", err);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      const kind = kindOf(stat);
      throw new RegularFileError("not-regular", undefined, kind, `${path} is ${kind}`);
    }
    const buffer = Buffer.allocUnsafe(maxBytes);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
    }
    return buffer.subarray(0, length);
  } catch (err) {
    if (err instanceof RegularFileError) throw err;
    throw systemError("read", err);
  } finally {
    closeSync(fd);
  }
}
