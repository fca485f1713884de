// Reading cluster.conf from its file, bounded: a path that names a device, a FIFO or a file far
// larger than any configuration (/dev/zero, a pipe nobody writes, a log by mistake) is refused at
// once with one sentence, instead of being read forever or blocking the caller.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

/** A cluster.conf larger than this is refused (documented in cluster.conf(5)). The copy on the
 * quorum partitions is 128 KiB by default; a megabyte is thousands of services. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export class ConfigFileError extends Error {
  override name = "ConfigFileError";
  constructor(
    message: string,
    /** The errno code when the system refused (ENOENT, EACCES, ...). */
    readonly code?: string,
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

function tooLarge(path: string): ConfigFileError {
  return new ConfigFileError(
    `${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes, the most a cluster.conf may be; check that it is the cluster configuration`,
  );
}

/** What every command adds when the configuration it was pointed at (-c FILE, or its default)
 * cannot be opened: the usual cause is a path that is not where this cluster keeps it. */
export const CONFIG_FILE_HINT = "pass the cluster configuration with -c FILE";

/** Exit status of every command whose cluster configuration cannot be read (sysexits EX_CONFIG). */
export const CONFIG_EXIT = 78;

/**
 * readConfigFile for the cluster configuration a command runs with: a file that cannot be opened
 * is the one sentence every command says, "cannot read PATH (ENOENT); pass ... with -c FILE".
 */
export function readClusterConf(path: string): string {
  try {
    return readConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigFileError && err.code !== undefined)
      throw new ConfigFileError(`cannot read ${path} (${err.code}); ${CONFIG_FILE_HINT}`, err.code);
    throw err;
  }
}

/** The text of the cluster configuration at `path`; at most MAX_CONFIG_FILE_BYTES are read. */
export function readConfigFile(path: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, before fstat
    // could tell what it is. It changes nothing for a regular file.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFileError(`cannot read ${path}: ${code ?? (err as Error).message}`, code);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new ConfigFileError(
        `${path} is ${kindOf(stat)}, not a regular file; give the path of the cluster.conf file itself`,
      );
    }
    if (stat.size > MAX_CONFIG_FILE_BYTES) throw tooLarge(path);
    // The file may grow after fstat: read one byte past the limit to know.
    const buffer = Buffer.allocUnsafe(MAX_CONFIG_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
    }
    if (length > MAX_CONFIG_FILE_BYTES) throw tooLarge(path);
    return buffer.toString("utf8", 0, length);
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFileError(`cannot read ${path}: ${code ?? (err as Error).message}`, code);
  } finally {
    closeSync(fd);
  }
}
