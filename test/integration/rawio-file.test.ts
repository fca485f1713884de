// The addon on regular files on ext4: direct I/O, alignment checks made by us (not the kernel),
// errors that carry the errno name and the path.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DirectDevice, MAX_STUCK_TRANSFERS } from "../../src/disk/device.js";
import { DiskIoError } from "../../src/disk/errors.js";
import { rawio } from "../../src/disk/rawio.js";
import { ddRead, scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());

describe("rawio on a regular file", () => {
  const file = zeroFile(join(dir.path, "disk.img"), 1 << 20);

  it("reports the file's direct-I/O geometry from statx", async () => {
    const dev = await DirectDevice.open(file, { write: false });
    try {
      expect(dev.geometry.isBlockDevice).toBe(false);
      expect(dev.geometry.sizeBytes).toBe(1 << 20);
      expect([512, 1024, 2048, 4096]).toContain(dev.sectorSize);
      expect(dev.geometry.identity).toMatch(/^file:\d+:\d+:\d+$/);
    } finally {
      dev.close();
    }
  });

  it("writes and reads whole sectors, and the bytes land where asked", async () => {
    const dev = await DirectDevice.open(file, { write: true });
    try {
      const data = Buffer.alloc(dev.sectorSize * 2);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      await dev.write(dev.sectorSize * 3, data);
      expect(await dev.read(dev.sectorSize * 3, data.length)).toEqual(data);
      // Checked through the page cache by another program, not just by ourselves.
      expect(ddRead(file, dev.sectorSize * 3, data.length)).toEqual(data);
    } finally {
      dev.close();
    }
  });

  it("refuses misaligned offsets and lengths itself, naming the path and the sector size", async () => {
    const dev = await DirectDevice.open(file, { write: true });
    try {
      const s = dev.sectorSize;
      await expect(dev.read(100, s)).rejects.toMatchObject({
        code: "ERR_RAWIO_ALIGNMENT",
        message: expect.stringContaining(`not aligned to the device's ${s}-byte sectors`),
      });
      await expect(dev.read(0, 100)).rejects.toThrow(file);
      await expect(dev.write(s, Buffer.alloc(s + 1))).rejects.toMatchObject({ code: "ERR_RAWIO_ALIGNMENT" });
      await expect(dev.read(0, 0)).rejects.toMatchObject({ code: "ERR_RAWIO_ARGS" });
    } finally {
      dev.close();
    }
  });

  it("gets page-aligned buffers from the addon: unaligned Node buffers never reach the kernel", async () => {
    // A Node Buffer sliced at an odd offset is misaligned; the addon must copy it into its own.
    const dev = await DirectDevice.open(file, { write: true });
    try {
      const backing = Buffer.alloc(dev.sectorSize + 1, 0x5a);
      const odd = backing.subarray(1);
      for (let i = 0; i < 50; i++) await dev.write(0, odd);
      expect((await dev.read(0, dev.sectorSize)).every((b) => b === 0x5a)).toBe(true);
    } finally {
      dev.close();
    }
  });

  it("refuses writes on a read-only handle", async () => {
    const dev = await DirectDevice.open(file, { write: false });
    try {
      await expect(dev.write(0, Buffer.alloc(dev.sectorSize))).rejects.toMatchObject({
        code: "ERR_RAWIO_READONLY",
      });
    } finally {
      dev.close();
    }
  });

  it("names the errno and the path when open fails", async () => {
    const missing = join(dir.path, "missing.img");
    const err = await DirectDevice.open(missing, { write: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskIoError);
    expect(err).toMatchObject({ code: "ENOENT", path: missing, operation: "open" });
    expect((err as Error).message).toContain(missing);
  });

  it("refuses something that is neither a block device nor a file", async () => {
    await expect(DirectDevice.open(dir.path, { write: false })).rejects.toMatchObject({
      code: expect.stringMatching(/EISDIR|ENOTBLK|EINVAL/),
    });
  });

  it("fails a read past the end of the device instead of returning short data", async () => {
    const dev = await DirectDevice.open(file, { write: false });
    try {
      await expect(dev.read((1 << 20) - dev.sectorSize, dev.sectorSize * 2)).rejects.toMatchObject({
        code: "ENXIO",
        message: expect.stringContaining("past the end of the device"),
      });
    } finally {
      dev.close();
    }
  });

  it("stops at a short transfer that does not end on a sector boundary instead of continuing unaligned", async () => {
    const odd = join(dir.path, "odd.img");
    writeFileSync(odd, Buffer.alloc(1000, 4)); // the last sector is only partly there
    const dev = await DirectDevice.open(odd, { write: false });
    try {
      await expect(dev.read(0, 1024)).rejects.toMatchObject({
        code: "ENXIO",
        message: expect.stringContaining("past the end of the device"),
      });
      expect((await dev.read(0, 512)).every((b) => b === 4)).toBe(true);
    } finally {
      dev.close();
    }
  });

  it("runs transfers on the thread pool while the event loop keeps going", async () => {
    const dev = await DirectDevice.open(file, { write: true });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const writes = [...Array(MAX_STUCK_TRANSFERS).keys()].map((i) =>
        dev.write(i * dev.sectorSize, Buffer.alloc(dev.sectorSize, i)),
      );
      await Promise.all(writes);
      for (let round = 0; round < 20; round++) await dev.write(0, Buffer.alloc(dev.sectorSize, round));
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(0);
      const back = await dev.read(dev.sectorSize * 5, dev.sectorSize);
      expect(back.every((b) => b === 5)).toBe(true);
    } finally {
      dev.close();
    }
  });

  it("closes only after in-flight transfers finish, and refuses use after close", async () => {
    const handle = await rawio.open(file, true);
    const pending = rawio.pwrite(handle, 0, Buffer.alloc(512, 9));
    rawio.close(handle);
    await expect(pending).resolves.toBeUndefined();
    expect(() => rawio.pread(handle, 0, 512)).toThrow(/closed/);
    rawio.close(handle); // idempotent
    expect(ddRead(file, 0, 1)[0]).toBe(9);
  });

  it("rejects a value that is not a handle", () => {
    expect(() => rawio.geometry({} as never)).toThrow(/handle returned by open/);
  });

  it("opens a file it may only read, when asked to read", async () => {
    const ro = join(dir.path, "readonly.img");
    writeFileSync(ro, Buffer.alloc(4096, 1), { mode: 0o444 });
    const dev = await DirectDevice.open(ro, { write: false });
    try {
      expect((await dev.read(0, dev.sectorSize))[0]).toBe(1);
    } finally {
      dev.close();
    }
  });
});
