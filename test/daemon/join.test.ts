// Joining with one copy of the header damaged, on real partition files (ext4, direct I/O): 512
// random bytes over block 0 of the backup once made every member that rejoined exit 75, and the
// cluster shrank to one member. A damaged copy of ours is joined past and mended; a copy that is
// another cluster's is still refused.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join as joinPath } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ClusterConfig } from "../../src/config/model.js";
import { validateText } from "../../src/config/validate.js";
import { describeHeaderRepair, join } from "../../src/daemon/join.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { verifyPair } from "../../src/disk/verify.js";
import { ddRead, ddWrite, scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-join-");
afterAll(() => dir.remove());
let n = 0;

/** A two-member cluster on fresh partition files. */
async function cluster(): Promise<{ config: ClusterConfig; primary: string; backup: string }> {
  n++;
  const primary = zeroFile(joinPath(dir.path, `p${n}.img`), 2 << 20);
  const backup = zeroFile(joinPath(dir.path, `b${n}.img`), 2 << 20);
  await initialisePair(primary, backup, { clusterName: "unit", maxMembers: 4, maxServices: 4 });
  const members = [0, 1].map(
    (m) =>
      `start member${m}\n  name = m${m}\n  start chan0\n    type = net\n    address = 127.0.0.1\n    port = ${42000 + m}\n  end chan0\n` +
      `  start power\n    type = wti_nps\n    host = 127.0.0.1\n    port = 9\n    outlet = ${m + 1}\n  end power\nend member${m}\n`,
  );
  const key = joinPath(dir.path, "authkey");
  writeFileSync(key, "a heartbeat key for the join test\n", { mode: 0o600 });
  const text =
    "[cluster]\nname = unit\nheartbeat_interval = 1\ntko = 7\ntko_netup = 12\nio_timeout = 3\n" +
    `key_file = ${key}\n\n[quorum]\nprimary = ${primary}\nbackup = ${backup}\n\n[members]\n${members.join("")}`;
  const checked = validateText(text);
  if (!checked.ok) throw new Error(`the test's configuration is invalid: ${JSON.stringify(checked.errors)}`);
  return { config: checked.config, primary, backup };
}

/** Random bytes that cannot pass for a clumanager block or a known signature. */
function garbage(): Buffer {
  const b = randomBytes(512);
  b[0] = 0xff;
  b[510] = 0;
  return b;
}

describe("join with one copy of the header damaged", () => {
  it("joins on the good copy, says which copy was bad, and mends it", async () => {
    const c = await cluster();
    ddWrite(c.backup, 0, garbage());
    const joined = await join(c.config, c.config.members[0]!, 0, { dir: joinPath(dir.path, "slots") });
    try {
      expect(joined.incarnation).toBe(1);
      expect(joined.headerRepairs).toHaveLength(1);
      const [repair] = joined.headerRepairs;
      expect(repair).toMatchObject({ region: "header", repaired: "backup", done: true });
      expect(describeHeaderRepair(repair!)).toMatch(
        /^joined on the good header; the backup copy's header \(block 0\) was bad: no clumanager block here \(magic 0x[0-9a-f]{8}\), while \d+ other blocks of this copy are this cluster's: a damaged header; rewrote it from the primary$/,
      );
    } finally {
      joined.io.close();
      joined.slot.release();
    }
    expect(ddRead(c.backup, 0, 512).equals(ddRead(c.primary, 0, 512))).toBe(true);
    const pair = await QuorumPair.open(c.primary, c.backup, { write: false });
    try {
      expect((await verifyPair(pair)).damage).toEqual([]);
    } finally {
      pair.close();
    }
  });

  it("the same with the primary's block 0 zeroed", async () => {
    const c = await cluster();
    ddWrite(c.primary, 0, Buffer.alloc(512));
    const joined = await join(c.config, c.config.members[1]!, 0, { dir: joinPath(dir.path, "slots") });
    try {
      expect(joined.headerRepairs).toEqual([expect.objectContaining({ repaired: "primary", done: true })]);
    } finally {
      joined.io.close();
      joined.slot.release();
    }
  });

  it("refuses a backup that holds another cluster's partition behind a damaged block 0", async () => {
    const c = await cluster();
    const other = await cluster();
    execFileSync("cp", [other.backup, c.backup]);
    ddWrite(c.backup, 0, garbage());
    const err = await join(c.config, c.config.members[0]!, 0, { dir: joinPath(dir.path, "slots") }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^${c.backup} does not hold a clumanager quorum partition \\(no clumanager block here \\(magic 0x[0-9a-f]{8}\\)\\), while the other partition belongs to cluster "unit"; if ${c.backup} is the right device, run cludiskutil --repair`,
      ),
    );
  });
});
