// Loop devices for tests. Every device made here is detached by detachAll(), which each test
// file calls in afterAll, and on process exit as a last resort.
import { execFileSync } from "node:child_process";

const attached = new Set<string>();

export function attachLoop(file: string, sectorSize = 512): string {
  const device = execFileSync(
    "losetup",
    ["--find", "--show", "--direct-io=on", "--sector-size", String(sectorSize), file],
    { encoding: "utf8" },
  ).trim();
  attached.add(device);
  return device;
}

export function detachLoop(device: string): void {
  if (!attached.has(device)) return;
  try {
    execFileSync("blockdev", ["--setrw", device]);
  } catch {
    // already gone or never read-only
  }
  execFileSync("losetup", ["--detach", device]);
  attached.delete(device);
}

export function detachAll(): void {
  for (const device of [...attached]) {
    try {
      detachLoop(device);
    } catch (err) {
      process.stderr.write(`could not detach ${device}: ${(err as Error).message}\n`);
    }
  }
}

export function setReadOnly(device: string, readOnly: boolean): void {
  execFileSync("blockdev", [readOnly ? "--setro" : "--setrw", device]);
}

process.on("exit", detachAll);
