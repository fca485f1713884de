// The cluster key that seals every network heartbeat (key_file in cluster.conf).
//
// The same bytes on every member. It is refused when others can read it (anyone who holds it can
// forge heartbeats and so delay a needed fence), when it is too short to be a key, or when it is
// so large it is surely the wrong file. Errors name the file and the fix; they never show a byte
// of the key.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { MIN_KEY_BYTES } from "./packet.js";

/** A key file larger than this is not a key file. */
export const MAX_KEY_BYTES = 4096;

const MAKE_ONE =
  "create one with: head -c 32 /dev/urandom > FILE && chmod 600 FILE, and copy it to every member";

export class KeyFileError extends Error {}

export function loadClusterKey(path: string): Buffer {
  const howTo = MAKE_ONE.replaceAll("FILE", path);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new KeyFileError(`cannot open the cluster key ${path} (${code}); ${howTo}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(`the cluster key ${path} is not a regular file; ${howTo}`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(3, "0");
      throw new KeyFileError(
        `the cluster key ${path} has mode ${mode}, so others can read it; run chmod 600 ${path}`,
      );
    }
    if (st.size < MIN_KEY_BYTES || st.size > MAX_KEY_BYTES) {
      throw new KeyFileError(
        `the cluster key ${path} is ${st.size} bytes, outside ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES}; ${howTo}`,
      );
    }
    const key = Buffer.alloc(st.size);
    let got = 0;
    // Bounded: a regular file of known size is read in at most a few calls.
    for (let calls = 0; got < key.length && calls < 16; calls++) {
      const n = readSync(fd, key, got, key.length - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got !== key.length)
      throw new KeyFileError(`the cluster key ${path} changed while it was read; try again`);
    return key;
  } finally {
    closeSync(fd);
  }
}
