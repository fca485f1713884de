// The watchdog, against stand-ins for /dev/watchdog (never the machine's real one): a FIFO, whose
// reader sees exactly what was written and when the writer closed, and a regular file.
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StepEvent } from "../../src/power/switch.js";
import { Watchdog, WatchdogSwitch, watchdogFenceWaitMs } from "../../src/power/watchdog.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-watchdog-");
afterAll(() => dir.remove());

/** Opens a FIFO for reading and collects everything written until the writer closes. The read
 * is returned inside an object: an awaited promise of a promise would wait for the writer. */
function fifoReader(path: string): { received: Promise<Buffer> } {
  execFileSync("mkfifo", [path]);
  const reader = open(path, "r");
  const received = reader.then(async (h) => {
    const chunks: Buffer[] = [];
    for (;;) {
      const { bytesRead, buffer } = await h.read(Buffer.alloc(64), 0, 64);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
    }
    await h.close();
    return Buffer.concat(chunks);
  });
  return { received };
}

describe("the member's watchdog", () => {
  it("arms on open, is fed by writes, and is disarmed by 'V' as the last write before close", async () => {
    const path = join(dir.path, "wd-clean");
    const { received } = fifoReader(path);
    const wd = new Watchdog(path, { allowStandIn: true });
    wd.open();
    expect(wd.armed).toBe(true);
    wd.kick();
    wd.kick();
    wd.disarm();
    expect(wd.armed).toBe(false);
    expect([...(await received)]).toEqual([0, 0, "V".charCodeAt(0)]);
  });

  it("leaves the watchdog armed when abandoned: no 'V' before the close", async () => {
    const path = join(dir.path, "wd-crash");
    const { received } = fifoReader(path);
    const wd = new Watchdog(path, { allowStandIn: true });
    wd.open();
    wd.kick();
    wd.abandon();
    expect([...(await received)]).toEqual([0]);
  });

  it("never creates a missing device, and says so", () => {
    const missing = join(dir.path, "watchdog-missing");
    const wd = new Watchdog(missing, { allowStandIn: true });
    expect(() => wd.open()).toThrow(/arming: there is no such device; load a watchdog driver/);
    expect(existsSync(missing)).toBe(false);
    expect(() => wd.kick()).toThrow(/it is not armed/);
  });

  it("refuses a plain file where a watchdog device belongs: it could never reset the machine", () => {
    const file = join(dir.path, "not-a-device");
    writeFileSync(file, "");
    const wd = new Watchdog(file);
    expect(() => wd.open()).toThrow(/it is not a character device, so it cannot reset this machine/);
    expect(wd.armed).toBe(false);
  });

  it("looks at a device without arming it, so a member can be checked before it joins", () => {
    const file = join(dir.path, "looked-at");
    writeFileSync(file, "");
    expect(() => new Watchdog(file).check()).toThrow(/not a character device/);
    new Watchdog(file, { allowStandIn: true }).check();
    expect(() => new Watchdog(join(dir.path, "none")).check()).toThrow(/there is no such device/);
    new Watchdog("/dev/null").check(); // a character device: only arming can tell it is no watchdog
  });

  it("refuses a character device that is no watchdog: it sets and reads the timeout by ioctl", () => {
    // /dev/null is a character device, and the watchdog ioctls answer ENOTTY there. (A real
    // watchdog cannot be tried on this machine: there is none, and softdog cannot be loaded.)
    const wd = new Watchdog("/dev/null", { timeoutSeconds: 10 });
    expect(() => wd.open()).toThrow(
      /it does not answer the watchdog ioctls \(ENOTTY\), so it is no watchdog/,
    );
    expect(wd.armed).toBe(false);
    expect(wd.timeoutSeconds).toBeUndefined();
  });
});

describe("a peer that fences itself through its watchdog", () => {
  it("is taken as off only after twice its watchdog timeout", async () => {
    const steps: StepEvent[] = [];
    const sw = new WatchdogSwitch({ timeoutSeconds: 0.15, observer: (e) => steps.push(e) });
    const started = Date.now();
    await sw.off("clu2");
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(steps.map((s) => s.step)).toEqual(["waiting for its watchdog", "off assumed"]);
  });

  it("waits twice the timeout from a member's last sign of life", () => {
    expect(watchdogFenceWaitMs(60)).toBe(120_000);
    expect(new WatchdogSwitch({ timeoutSeconds: 60 }).fenceWaitMs).toBe(120_000);
  });

  it("cannot report an outlet state, and says so", async () => {
    await expect(new WatchdogSwitch({ timeoutSeconds: 10 }).status("clu2")).rejects.toMatchObject({
      kind: "unsupported",
    });
    expect(() => new WatchdogSwitch({ timeoutSeconds: 0 })).toThrow(/positive number of seconds/);
  });
});
