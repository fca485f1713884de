// The watchdog, against stand-ins for /dev/watchdog (never the machine's real one): a FIFO, whose
// reader sees exactly what was written and when the writer closed, and a regular file.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StepEvent } from "../../src/power/switch.js";
import { deviceTimeoutSeconds, Watchdog, WatchdogSwitch } from "../../src/power/watchdog.js";
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

  it("arms a real character device (/dev/null stands in: it is one)", () => {
    const wd = new Watchdog("/dev/null");
    wd.open();
    expect(wd.armed).toBe(true);
    wd.kick();
    wd.disarm();
  });

  it("reads the kernel's timeout for a watchdog device from sysfs", () => {
    const sysfs = join(dir.path, "sys");
    mkdirSync(join(sysfs, "class/watchdog/watchdog0"), { recursive: true });
    mkdirSync(join(sysfs, "class/watchdog/watchdog1"), { recursive: true });
    writeFileSync(join(sysfs, "class/watchdog/watchdog0/timeout"), "60\n");
    writeFileSync(join(sysfs, "class/watchdog/watchdog1/timeout"), "15\n");
    expect(deviceTimeoutSeconds("/dev/watchdog", sysfs)).toBe(60);
    expect(deviceTimeoutSeconds("/dev/watchdog1", sysfs)).toBe(15);
    expect(deviceTimeoutSeconds("/var/tmp/stand-in", sysfs)).toBeUndefined();
    expect(readFileSync(join(sysfs, "class/watchdog/watchdog1/timeout"), "utf8")).toBe("15\n");
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

  it("cannot report an outlet state, and says so", async () => {
    await expect(new WatchdogSwitch({ timeoutSeconds: 10 }).status("clu2")).rejects.toMatchObject({
      kind: "unsupported",
    });
    expect(() => new WatchdogSwitch({ timeoutSeconds: 0 })).toThrow(/positive number of seconds/);
  });
});
