import { afterAll, describe, expect, it } from "vitest";
import { QuorumIo } from "../../src/daemon/quorum-io.js";
import { mailboxIndex } from "../../src/disk/layout.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { exampleCluster } from "../helpers/example-cluster.js";
import { ddWrite, scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-notices-");
afterAll(() => dir.remove());

describe("fenced notices", () => {
  it("are read past a mailbox block bad on both copies, which is named", async () => {
    const { primary, backup } = await exampleCluster(dir.path, "notices");
    const pair = await QuorumPair.open(primary, backup, { write: true });
    const io = new QuorumIo(pair, 0, "clu1", 0);
    try {
      await io.writeFencedNotice(2, 5);
      expect(await io.fencedNotices()).toEqual({ notices: [{ member: 2, incarnation: 5 }], unreadable: [] });
      // Member 3's mail from member 1, garbled on both copies.
      const bad = mailboxIndex(pair.layout, 3, 1);
      const at = (pair.layout.regions.mailbox.firstSlot + bad) * pair.layout.slotBytes;
      for (const path of [primary, backup]) ddWrite(path, at, Buffer.alloc(512, 0xee));
      pair.close();
      const again = await QuorumPair.open(primary, backup, { write: true });
      const io2 = new QuorumIo(again, 0, "clu1", 0);
      try {
        await expect(again.readBlocks("mailbox")).rejects.toThrow(/both/i);
        expect(await io2.fencedNotices()).toEqual({
          notices: [{ member: 2, incarnation: 5 }],
          unreadable: [bad],
        });
      } finally {
        again.close();
      }
    } finally {
      pair.close();
    }
  });
});
