// A hung disk must not hang the member's judgement. To hang a transfer deterministically, every
// libuv thread-pool thread is parked in open(2) on a FIFO that has no writer yet; our transfer
// queues behind them and cannot start until the FIFO is opened for writing.
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DirectDevice, MAX_STUCK_TRANSFERS } from "../../src/disk/device.js";
import { DiskBusyError, DiskTimeoutError } from "../../src/disk/errors.js";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

async function parkThreadPool(): Promise<() => Promise<void>> {
  const fifo = join(dir.path, `park-${Date.now()}`);
  execFileSync("mkfifo", [fifo]);
  const readers = [...Array(POOL_SIZE).keys()].map(() => openFile(fifo, "r"));
  // Give the pool a moment to pick the opens up, so they occupy every thread.
  await new Promise((r) => setTimeout(r, 50));
  return async () => {
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const handles = await Promise.all(readers);
    for (const h of handles) await h.close();
    closeSync(writer);
  };
}

describe("deadlines on transfers", () => {
  it("fails a write that cannot finish in time with ETIMEDOUT, and refuses to pile up more", async () => {
    const file = zeroFile(join(dir.path, "slow.img"), 1 << 16);
    const dev = await DirectDevice.open(file, { write: true, timeoutMs: 100 });
    const release = await parkThreadPool();
    try {
      const started = Date.now();
      const err = await dev.write(0, Buffer.alloc(dev.sectorSize)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DiskTimeoutError);
      expect(err).toMatchObject({ code: "ETIMEDOUT", path: file, operation: "write", timeoutMs: 100 });
      expect(Date.now() - started).toBeLessThan(5000);

      // The write above may still land: a new write to the same bytes must not race it.
      await expect(dev.write(0, Buffer.alloc(dev.sectorSize, 2))).rejects.toMatchObject({
        code: "EBUSY",
        message: expect.stringMatching(/an earlier write to bytes 0-\d+ .* has not returned/),
      });
      const more = [];
      for (let i = 1; i < MAX_STUCK_TRANSFERS; i++)
        more.push(dev.read(0, dev.sectorSize).catch((e: unknown) => e));
      for (const e of await Promise.all(more)) expect(e).toBeInstanceOf(DiskTimeoutError);
      await expect(dev.read(0, dev.sectorSize)).rejects.toBeInstanceOf(DiskBusyError);
    } finally {
      await release();
    }
    // Once the disk comes back, the stuck transfers drain and the device works again.
    for (let i = 0; i < 100; i++) {
      const ok = await dev.read(0, dev.sectorSize).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect(dev.write(0, Buffer.alloc(dev.sectorSize, 1))).resolves.toBeUndefined();
    dev.close();
  });
});
