// Reading cluster.conf from its file, bounded: a path that names a device, a FIFO or a file far
// larger than any configuration (/dev/zero, a pipe nobody writes, a log by mistake) is refused at
// once with one sentence, instead of being read forever or blocking the caller.
import { RegularFileError, readRegularFile } from "./regular-file.js";

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
  let bytes: Buffer;
  try {
    // One byte past the limit, to know a file is over it (it may grow while it is read).
    bytes = readRegularFile(path, MAX_CONFIG_FILE_BYTES + 1);
  } catch (err) {
    if (!(err instanceof RegularFileError)) throw err;
    if (err.stage === "not-regular")
      throw new ConfigFileError(
        `${path} is ${err.kind}, not a regular file; give the path of the cluster.conf file itself`,
      );
    throw new ConfigFileError(`cannot read ${path}: ${err.message}`, err.code);
  }
  if (bytes.length > MAX_CONFIG_FILE_BYTES) throw tooLarge(path);
  return bytes.toString("utf8");
}
