// The lock that keeps cluadmin processes on one member apart: a kernel flock, which dies with its
// holder, so there is never a stale lock to take over.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalLock, LocalLockError } from "../../src/config/store.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-lock-");
afterAll(() => dir.remove());

describe("the local configuration lock", () => {
  it("lets one holder in at a time, and the next in when the first releases", async () => {
    const conf = join(dir.path, "a.conf");
    const first = await LocalLock.acquire(conf);
    await expect(LocalLock.acquire(conf, 100)).rejects.toBeInstanceOf(LocalLockError);
    first.release();
    const second = await LocalLock.acquire(conf, 100);
    second.release();
  });

  it("is free again as soon as a holder is killed, with no takeover needed", async () => {
    const conf = join(dir.path, "b.conf");
    const holder = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import("./src/config/store.ts").then(async (m) => { await m.LocalLock.acquire(${JSON.stringify(conf)}); console.log("held"); setInterval(() => {}, 1000); })`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) =>
      holder.stdout?.on("data", (d: Buffer) => d.toString().includes("held") && resolve()),
    );
    await expect(LocalLock.acquire(conf, 100)).rejects.toThrow(/another cluadmin \(pid \d+\) is changing/);
    holder.kill("SIGKILL");
    await new Promise((r) => holder.on("exit", r));
    const mine = await LocalLock.acquire(conf, 1_000);
    mine.release();
  });
});
