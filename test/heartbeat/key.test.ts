import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KeyFileError, loadClusterKey, MAX_KEY_BYTES } from "../../src/heartbeat/key.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-key-");
afterAll(() => dir.remove());

function keyFile(name: string, bytes: Buffer, mode: number): string {
  const path = join(dir.path, name);
  writeFileSync(path, bytes);
  chmodSync(path, mode);
  return path;
}

describe("cluster key file", () => {
  const secret = Buffer.from("s3cret-s3cret-s3cret-s3cret-32by");

  it("loads a private key exactly as written", () => {
    expect(loadClusterKey(keyFile("good", secret, 0o600))).toEqual(secret);
    expect(loadClusterKey(keyFile("readonly", secret, 0o400))).toEqual(secret);
  });

  it("refuses a key others can read, naming the file and the fix, never the key", () => {
    const path = keyFile("shared", secret, 0o644);
    expect(() => loadClusterKey(path)).toThrow(KeyFileError);
    try {
      loadClusterKey(path);
    } catch (e) {
      const message = (e as Error).message;
      expect(message).toBe(
        `the cluster key ${path} has mode 644, so others can read it; run chmod 600 ${path}`,
      );
      expect(message).not.toContain("s3cret");
    }
  });

  it("refuses a missing file, a directory, and keys too short or too long", () => {
    const missing = join(dir.path, "missing");
    expect(() => loadClusterKey(missing)).toThrow(
      new RegExp(
        `cannot open the cluster key ${missing} \\(ENOENT\\); create one with: head -c 32 /dev/urandom > ${missing}`,
      ),
    );
    const sub = join(dir.path, "adir");
    mkdirSync(sub, { mode: 0o700 });
    expect(() => loadClusterKey(sub)).toThrow(/is not a regular file/);
    expect(() => loadClusterKey(keyFile("short", Buffer.from("tiny"), 0o600))).toThrow(
      /is 4 bytes, outside 16 to 4096/,
    );
    expect(() => loadClusterKey(keyFile("long", Buffer.alloc(MAX_KEY_BYTES + 1), 0o600))).toThrow(
      /is 4097 bytes/,
    );
  });
});
