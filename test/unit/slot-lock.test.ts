// Two processes of one member (its daemon, a cluadmin) take turns with that member's slot of the
// disk lock through a flock named by the cluster and the member: not by the path each was given.
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { changeConfig } from "../../src/admin/change.js";
import { setEntry } from "../../src/config/edit.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { SlotLock, SlotLockError, slotLockPath } from "../../src/disk/slot-lock.js";
import { exampleCluster } from "../helpers/example-cluster.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-slot-");
afterAll(() => dir.remove());

describe("SlotLock", () => {
  it("lets one holder per cluster and member at a time, and names the holder to the next", async () => {
    const locks = join(dir.path, "locks");
    const uuid = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const first = await SlotLock.acquire(uuid, 1, 0, locks);
    const busy = await SlotLock.acquire(uuid, 1, 100, locks).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(SlotLockError);
    expect(String(busy)).toBe(
      `SlotLockError: member 1's slot of the disk lock is in use by another process on this machine (pid ${process.pid}), its daemon or another cluadmin; try again when it is done`,
    );
    // Another member, or the same member of another cluster, is another slot.
    (await SlotLock.acquire(uuid, 2, 0, locks)).release();
    (await SlotLock.acquire(Buffer.alloc(16, 7), 1, 0, locks)).release();
    first.release();
    (await SlotLock.acquire(uuid, 1, 0, locks)).release();
    expect(slotLockPath(uuid, 1, locks)).toBe(
      join(locks, "slot-00112233445566778899aabbccddeeff-member1.lock"),
    );
  });

  it("keeps cluadmin out of the slot while it is held, whatever spelling of the file it was given", async () => {
    const { primary, backup, conf } = await exampleCluster(dir.path, "slot");
    const link = join(dir.path, "via-link.conf");
    symlinkSync(conf, link);
    const pair = await QuorumPair.open(primary, backup, { write: false });
    const uuid = pair.clusterUuid;
    pair.close();
    // As the daemon of clu1 (member 0) holds it for a lock use.
    const held = await SlotLock.acquire(uuid, 0, 0);
    let done = false;
    const change = changeConfig({ configPath: link, member: "clu1" }, (doc) =>
      setEntry(doc, ["cluster"], "loglevel", "debug"),
    ).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(done).toBe(false);
    held.release();
    expect((await change).view).toBe(1);
  });
});
