// cluster status with no daemon answering reads the quorum partitions itself (src/admin/disk-status.ts):
// a partition too small for its layout, or a CRC-valid block holding a value out of range, is
// said in one sentence, never an I/O error code or a throw from deep in the formatting.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { main as cludiskutil } from "../../src/cli/cludiskutil-main.js";
import { decodeBlock, encodeBlock } from "../../src/disk/block.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { slotOffset } from "../../src/disk/layout.js";
import { ddRead, ddWrite, scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
let n = 0;

/** A cluster.conf (the example's) on freshly initialised partition files, and their layout. */
async function cluster() {
  n++;
  const p = zeroFile(join(dir.path, `p${n}.img`), 2 << 20);
  const b = zeroFile(join(dir.path, `b${n}.img`), 2 << 20);
  const init = await initialisePair(p, b, { clusterName: "octane", maxMembers: 4, maxServices: 8 });
  const config = join(dir.path, `cluster${n}.conf`);
  writeFileSync(
    config,
    readFileSync("conf/cluster.conf", "utf8")
      .replace("primary = /dev/sdb1", `primary = ${p}`)
      .replace("backup = /dev/sdb2", `backup = ${b}`),
  );
  return { p, b, config, layout: init.header.layout };
}

async function status(config: string): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await cluadmin(
    ["-c", config, "--run-dir", join(dir.path, "no-daemon"), "--", "cluster", "status"],
    {
      out: (t) => (out += t),
      err: (t) => (err += t),
    },
  );
  return { code, out, err };
}

/** Service block 0 of `image` rewritten with transitionWallMs 2^53 - 1, its checksum valid. */
function impossibleTime(image: string, at: number): void {
  const old = decodeBlock(ddRead(image, at, 512));
  if (!old.ok) throw new Error(`service block 0 is unreadable before the test: ${old.problem}`);
  const payload = Buffer.from(old.value.payload);
  payload.writeBigUInt64LE(2n ** 53n - 1n, 16);
  const { version: _, ...block } = old.value;
  ddWrite(image, at, encodeBlock({ ...block, generation: block.generation + 1, payload }, 512));
}

describe("cluster status read from the partitions", () => {
  it("a partition too small for its layout is said to be so, by how much, and what to do", async () => {
    const c = await cluster();
    execFileSync("truncate", ["-s", "100000", c.b]);
    const { totalBytes, totalSlots } = c.layout;
    const r = await status(c.config);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `and the quorum partitions cannot be read either: ${c.b} is 100000 bytes, ${totalBytes - 100_000} bytes ` +
        `(${Math.ceil((totalBytes - 100_000) / 512)} blocks) short of the ${totalBytes}-byte layout (${totalSlots} ` +
        `blocks) recorded in the header: it was shrunk or is the wrong device; grow it to at least ${totalBytes} bytes`,
    );
    execFileSync("truncate", ["-s", "10", c.b]);
    expect((await status(c.config)).err).toContain(
      `${c.b} is 10 bytes, ${totalBytes - 10} bytes (${totalSlots} blocks) short of`,
    );
  });

  it("a CRC-valid service block with an impossible time on both copies is a block bad on both, not a crash", async () => {
    const c = await cluster();
    const at = slotOffset(c.layout, c.layout.regions.service.firstSlot);
    impossibleTime(c.p, at);
    impossibleTime(c.b, at);
    const r = await status(c.config);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /service block 0 \(slot \d+\) is damaged on both copies: primary .*: field transitionWallMs holds 9007199254740991, outside 0 to 8640000000000000; backup /,
    );
    expect(r.err).not.toMatch(/RangeError|Invalid time/);
  });

  it("on one copy, the other copy answers, --verify names the field and --repair mends it", async () => {
    const c = await cluster();
    const at = slotOffset(c.layout, c.layout.regions.service.firstSlot);
    impossibleTime(c.b, at);
    const r = await status(c.config);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/nfs1/);
    const quiet = { out: () => {}, err: () => {} };
    let out = "";
    const args = ["--primary", c.p, "--backup", c.b];
    expect(await cludiskutil(["--verify", ...args], { out: (t) => (out += t), err: () => {} })).toBe(1);
    expect(out).toMatch(
      /service block 0 \(block \d+ of the partition\): backup-bad; primary: generation \d+; backup: field transitionWallMs holds 9007199254740991, outside 0 to 8640000000000000; repairable from the primary/,
    );
    expect(await cludiskutil(["--repair", ...args], quiet)).toBe(0);
    expect(await cludiskutil(["--verify", ...args], quiet)).toBe(0);
  });
});
