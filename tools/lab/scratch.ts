// Scratch files for direct-I/O tests. They must live on a real filesystem: tmpfs accepts O_DIRECT
// without any alignment checks, so a test there would prove nothing about alignment.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const TMPFS_MAGIC = 0x01021994;
/**
 * Set by the test run (test/global-setup.ts) to a folder of its own, which it removes at the end:
 * a test file that is skipped or fails before its afterAll still leaves nothing behind.
 */
export const SCRATCH_ROOT_VARIABLE = "CLUMANAGER_SCRATCH_ROOT";

function scratchParents(): string[] {
  const root = process.env[SCRATCH_ROOT_VARIABLE];
  return [...(root !== undefined && root !== "" ? [root] : []), "/var/tmp", "/tmp", process.cwd()];
}

export function scratchDir(prefix = "clumanager-test-"): { path: string; remove(): void } {
  for (const parent of scratchParents()) {
    try {
      if (statfsSync(parent).type === TMPFS_MAGIC) continue;
      const path = mkdtempSync(join(parent, prefix));
      return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
    } catch {
      // try the next parent
    }
  }
  throw new Error(`no non-tmpfs directory for scratch files among ${scratchParents().join(", ")}`);
}

/** A zero-filled file of `bytes` bytes. */
export function zeroFile(path: string, bytes: number): string {
  writeFileSync(path, Buffer.alloc(0));
  execFileSync("truncate", ["-s", String(bytes), path]);
  return path;
}

/** Overwrites bytes of a file or device with `dd`, as an administrator (or a bad disk) would. */
export function ddWrite(target: string, offset: number, data: Buffer): void {
  execFileSync("dd", [`of=${target}`, "bs=1", `seek=${offset}`, "conv=notrunc", "status=none"], {
    input: data,
  });
}

/** Reads bytes of a file or device with `dd`. */
export function ddRead(target: string, offset: number, length: number): Buffer {
  return execFileSync("dd", [`if=${target}`, "bs=1", `skip=${offset}`, `count=${length}`, "status=none"]);
}
