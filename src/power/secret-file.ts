// A secret kept in a file of its own (password_file = /etc/clumanager/nps.pass), so cluster.conf,
// and the copy of it on the shared disk, hold only a path. The secret is the file's first line.
import { RegularFileError, readRegularFile } from "../config/regular-file.js";

/** A secret file is read up to this many bytes; a secret is one short line. */
export const MAX_SECRET_FILE_BYTES = 4096;

export class SecretFileError extends Error {
  override name = "SecretFileError";
}

function reason(code: string | undefined, message: string): string {
  if (code === "ENOENT") return "does not exist";
  if (code === "EACCES" || code === "EPERM") return "cannot be read by this user";
  return `cannot be read (${message})`;
}

/**
 * The first line of `path`, without its line break. `what` names the secret in the one sentence
 * a missing, unreadable or empty file gets ("the password file /x does not exist; ...").
 */
export function readSecretFile(path: string, what: string): string {
  const fix = `put the ${what} on its first line, in a file only root can read`;
  let bytes: Buffer;
  try {
    // Non-regular files are refused before any read, so a FIFO named by mistake cannot hang it.
    bytes = readRegularFile(path, MAX_SECRET_FILE_BYTES);
  } catch (err) {
    if (!(err instanceof RegularFileError)) throw err;
    if (err.stage === "not-regular")
      throw new SecretFileError(`the ${what} file ${path} is not a regular file; ${fix}`);
    throw new SecretFileError(`the ${what} file ${path} ${reason(err.code, err.message)}; ${fix}`);
  }
  const text = bytes.toString("utf8");
  const end = text.search(/\r?\n/);
  if (end === -1 && bytes.length === MAX_SECRET_FILE_BYTES)
    throw new SecretFileError(
      `the ${what} file ${path} has no line break in its first ${MAX_SECRET_FILE_BYTES} bytes; ${fix}`,
    );
  const secret = end === -1 ? text : text.slice(0, end);
  if (secret === "") throw new SecretFileError(`the ${what} file ${path} is empty; ${fix}`);
  return secret;
}
