// The serial heartbeat line over a real pseudo-terminal pair (socat as the null-modem cable):
// packets as hex lines, noise counted and skipped, and a line that goes away reopened.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { PACKET_BYTES } from "../../src/heartbeat/packet.js";
import { SERIAL_REOPEN_MS, SERIAL_STALE_MS, SerialChannel } from "../../src/heartbeat/serial.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir();
const ends = [join(dir.path, "a"), join(dir.path, "b")] as const;
let cable: ChildProcess | undefined;
const channels: SerialChannel[] = [];

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function plugCable(): Promise<void> {
  cable = spawn("socat", [`pty,raw,echo=0,link=${ends[0]}`, `pty,raw,echo=0,link=${ends[1]}`], {
    stdio: "ignore",
  });
  await until(() => ends.every((e) => existsSync(e)), 5_000, "socat's pseudo-terminals");
}

async function unplugCable(): Promise<void> {
  const c = cable;
  if (c === undefined) return;
  if (c.exitCode === null && c.signalCode === null)
    await new Promise((r) => {
      c.once("exit", r);
      c.kill("SIGTERM");
    });
  // Gone before the next cable is plugged, so nothing of the old one is left to unlink.
  for (const end of ends) rmSync(end, { force: true });
}

needsTools(["socat"])("the serial heartbeat line", () => {
  afterAll(async () => {
    await Promise.all(channels.map((c) => c.close()));
    await unplugCable();
    dir.remove();
  });

  const got: Buffer[] = [];

  it("carries a packet from one end to the other", async () => {
    await plugCable();
    const a = await SerialChannel.open(ends[0], (p) => got.push(p));
    const b = await SerialChannel.open(ends[1], () => {});
    channels.push(a, b);
    const packet = Buffer.alloc(PACKET_BYTES, 0xab);
    await b.send(packet);
    await until(() => got.length === 1, 2_000, "the packet");
    expect(got[0]).toEqual(packet);
  });

  it("counts noise and a line too long as garbled, and keeps reading after them", async () => {
    const [a] = channels as [SerialChannel, SerialChannel];
    // Straight onto the other end, as line noise would arrive.
    const fd = openSync(ends[1], "w");
    writeSync(fd, "not a packet\n");
    writeSync(fd, `${"ff".repeat(PACKET_BYTES)}${"0".repeat(300)}`);
    writeSync(fd, `\n${"cd".repeat(PACKET_BYTES)}\n`);
    closeSync(fd);
    await until(() => got.length === 2, 2_000, "the packet after the noise");
    expect(got[1]).toEqual(Buffer.alloc(PACKET_BYTES, 0xcd));
    expect(a.garbled).toBe(2);
  });

  it("reopens a line that went away once it is back", async () => {
    const [a, b] = channels as [SerialChannel, SerialChannel];
    await unplugCable();
    await b.send(Buffer.alloc(PACKET_BYTES, 1));
    expect(b.errors).toBeGreaterThan(0);
    await plugCable();
    const before = got.length;
    await until(
      () => {
        void b.send(Buffer.alloc(PACKET_BYTES, 2));
        return got.length > before;
      },
      // An end that saw nothing go wrong finds out only when its line has been silent for
      // SERIAL_STALE_MS; then each end retries every SERIAL_REOPEN_MS.
      SERIAL_STALE_MS + SERIAL_REOPEN_MS * 4,
      "the line to come back",
    );
    expect(got.at(-1)).toEqual(Buffer.alloc(PACKET_BYTES, 2));
    expect(a.garbled).toBe(2);
  }, 30_000);
});
