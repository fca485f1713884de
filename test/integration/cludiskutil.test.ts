// cludiskutil as an administrator uses it: exit codes, messages and output, on files on ext4.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/cludiskutil-main.js";
import { encodeBlock } from "../../src/disk/block.js";
import { BlockType } from "../../src/disk/format.js";
import { encodeScratch } from "../../src/disk/scratch-block.js";
import { TMPFS_MAGIC } from "../../src/disk/tmpfs.js";
import { needsTools, toolPath } from "../helpers/needs.js";
import { ddRead, ddWrite, scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
let n = 0;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

function files(bytes = 2 << 20): { p: string; b: string; args: string[] } {
  n++;
  const p = zeroFile(join(dir.path, `p${n}.img`), bytes);
  const b = zeroFile(join(dir.path, `b${n}.img`), bytes);
  return { p, b, args: ["--primary", p, "--backup", b] };
}

async function initialised(): Promise<ReturnType<typeof files>> {
  const f = files();
  const r = await run("-I", "--name", "octane", "--members", "4", ...f.args);
  expect(r.code).toBe(0);
  return f;
}

/** 512 random bytes that cannot pass for a clumanager block or a known signature (byte 0 is not the
 * start of a magic, bytes 510-511 never the boot-sector mark), so a test on them never flakes. */
function garbage(): Buffer {
  const b = randomBytes(512);
  b[0] = 0xff;
  b[510] = 0;
  return b;
}

describe("cludiskutil", () => {
  it("-I initialises both partitions and says what it laid out", async () => {
    const f = files();
    const r = await run("-I", "--name", "octane", ...f.args);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Initialised the quorum partitions of cluster "octane" \(UUID [0-9a-f-]{36}\)/);
    expect(r.out).toMatch(/16 members, 64 services/);
  });

  it("-I and -t on files on tmpfs warn that they prove nothing, and not on ext4", async () => {
    // tmpfs is the subject here, not the medium: nothing about direct I/O is being tested on it.
    expect(statfsSync("/dev/shm").type, "/dev/shm is not a tmpfs here").toBe(TMPFS_MAGIC);
    const shm = mkdtempSync("/dev/shm/clumanager-tmpfs-");
    try {
      const p = zeroFile(join(shm, "p.img"), 2 << 20);
      const b = zeroFile(join(shm, "b.img"), 2 << 20);
      const warning = (path: string) =>
        `cludiskutil: warning: ${path} is a file on tmpfs, which accepts direct I/O without checking its alignment and keeps nothing across a reboot, so this run proves nothing about a shared disk; use the shared disk's partitions (or files on ext4 to try it out)\n`;
      for (const mode of [["-I", "--name", "octane"], ["-t"]]) {
        const r = await run(...mode, "--primary", p, "--backup", b);
        expect(r.code).toBe(0);
        expect(r.err).toBe(`${warning(p)}${warning(b)}`);
      }
      const f = files();
      expect((await run("-I", "--name", "octane", ...f.args)).err).toBe("");
      expect((await run("-t", ...f.args)).err).toBe("");
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });

  it("-p prints the header and the blocks in use, and --json the same for scripts", async () => {
    const f = await initialised();
    const text = await run("-p", ...f.args);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^Cluster\s+"octane"$/m);
    expect(text.out).toMatch(/^header\s+0\s+0\s+1\/1\s+agree\s+cluster "octane"$/m);
    const json = await run("-p", "--json", ...f.args);
    const report = JSON.parse(json.out);
    expect(report.header.clusterName).toBe("octane");
    expect(report.layout.maxMembers).toBe(4);
    expect(report.rows[0]).toMatchObject({ region: "header", verdict: "ok" });
  });

  it("-t proves both partitions are readable and writable and prints the latency", async () => {
    const f = await initialised();
    const r = await run("-t", ...f.args);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^primary\s+\S+\s+\d+\.\d\d ms\s+\d+\.\d\d ms\s+\d+\.\d\d ms\s+ok$/m);
    expect(r.out).toMatch(/Both quorum partitions can be read and written with direct I\/O/);
    // The test block is written identically to both copies, so verify still finds them equal.
    expect((await run("--verify", ...f.args)).code).toBe(0);
    const json = JSON.parse((await run("-t", "--json", ...f.args)).out);
    expect(json.ok).toBe(true);
    expect(json.copies).toHaveLength(2);
  });

  it("-t refuses, with exit 65, partitions never initialised, one device twice, or two clusters", async () => {
    const twice = await initialised();
    const same = await run("-t", "--primary", twice.p, "--backup", twice.p);
    expect(same).toMatchObject({ code: 65, err: expect.stringMatching(/same device .*nothing was written/) });
    const other = await initialised();
    const mixed = await run("-t", "--primary", twice.p, "--backup", other.b);
    expect(mixed).toMatchObject({
      code: 65,
      err: expect.stringMatching(/belong to different clusters; nothing was written/),
    });
    const f = files();
    const r = await run("-t", ...f.args);
    expect(r.code).toBe(65);
    expect(r.out).toMatch(/FAILED: .*has no usable quorum partition header .*cludiskutil -I/);
  });

  it("--verify exits 0 when clean, 1 when repairable, 2 when a block is bad on both copies; --repair mends", async () => {
    const f = await initialised();
    expect((await run("--verify", ...f.args)).code).toBe(0);
    ddWrite(f.p, 2 * 512 + 70, Buffer.from("rot")); // status block 0 of the primary
    const damaged = await run("--verify", ...f.args);
    expect(damaged.code).toBe(1);
    expect(damaged.out).toMatch(
      /status block 0 \(block 2 of the partition\): primary-bad; primary: checksum mismatch/,
    );
    expect(damaged.out).toMatch(/all repairable: run cludiskutil --repair/);
    const repaired = await run("--repair", ...f.args);
    expect(repaired.code).toBe(0);
    expect(repaired.out).toMatch(/Repaired status block 0 \(block 2\) from the backup/);
    expect((await run("--verify", ...f.args)).code).toBe(0);

    ddWrite(f.p, 3 * 512 + 70, Buffer.from("rot"));
    ddWrite(f.b, 3 * 512 + 70, Buffer.from("rot"));
    const lost = await run("--verify", "--json", ...f.args);
    expect(lost.code).toBe(2);
    expect(JSON.parse(lost.out)).toMatchObject({
      unrepairable: 1,
      damage: [{ region: "status", index: 1, verdict: "both-bad" }],
    });
    expect((await run("--repair", ...f.args)).code).toBe(2);
  });

  it("--repair rebuilds a backup that was replaced by an empty disk", async () => {
    const f = await initialised();
    zeroFile(f.b, 2 << 20);
    const verify = await run("--verify", ...f.args);
    expect(verify.code).toBe(1);
    expect((await run("--repair", ...f.args)).code).toBe(0);
    expect((await run("--verify", ...f.args)).code).toBe(0);
  });

  needsTools(["mkfs.ext4", "dumpe2fs"])("with an ext4 filesystem on a partition", () => {
    it("--repair will not write over a filesystem on the backup unless forced", async () => {
      const f = await initialised();
      execFileSync(toolPath("mkfs.ext4"), ["-q", "-F", f.b]);
      const verify = await run("--verify", ...f.args);
      expect(verify.code).toBe(1);
      const refused = await run("--repair", ...f.args);
      expect(refused.code).toBe(65);
      expect(refused.err).toMatch(
        new RegExp(`the backup ${f.b} does not hold a clumanager quorum partition .*unless you add --force`),
      );
      expect(
        execFileSync(toolPath("dumpe2fs"), ["-h", f.b], { stdio: ["ignore", "pipe", "ignore"] }).toString(),
      ).toMatch(/Filesystem magic number/);
      const forced = await run("--repair", "--force", ...f.args);
      expect(forced.code).toBe(0);
      expect((await run("--verify", ...f.args)).code).toBe(0);
    });
  });

  it("a backup whose block 0 is random bytes has a damaged header: --repair mends it without --force", async () => {
    const f = await initialised();
    ddWrite(f.b, 0, garbage());
    const verify = await run("--verify", ...f.args);
    expect(verify.code).toBe(1);
    expect(verify.out).toMatch(
      /header block 0 \(block 0 of the partition\): backup-bad; .*repairable from the primary/,
    );
    const repaired = await run("--repair", ...f.args);
    expect(repaired).toMatchObject({ code: 0, err: "" });
    expect(repaired.out).toBe(
      "Repaired header block 0 (block 0) from the primary.\nBoth copies are now valid and equal.\n",
    );
    expect((await run("--verify", ...f.args)).code).toBe(0);
    expect(ddRead(f.b, 0, 512).equals(ddRead(f.p, 0, 512))).toBe(true);
  });

  it("--repair names a damaged header it rewrote whose magic was intact", async () => {
    const f = await initialised();
    ddWrite(f.b, 60, Buffer.from("xx"));
    const repaired = await run("--repair", "--json", ...f.args);
    expect(repaired.code).toBe(0);
    const report = JSON.parse(repaired.out);
    expect(report.repaired).toEqual([
      expect.objectContaining({ region: "header", index: 0, verdict: "backup-bad", source: "primary" }),
    ]);
    expect(report.before.damage).toHaveLength(1);
    ddWrite(f.p, 60, Buffer.from("xx"));
    expect((await run("--repair", ...f.args)).out).toMatch(
      /^Repaired header block 0 \(block 0\) from the backup\./,
    );
  });

  it("another cluster's partition, or other data, behind a damaged block 0 is still refused without --force", async () => {
    const f = await initialised();
    const other = files();
    expect((await run("-I", "--name", "other", "--members", "4", ...other.args)).code).toBe(0);
    execFileSync("cp", [other.b, f.b]);
    ddWrite(f.b, 0, garbage());
    const refused = await run("--repair", ...f.args);
    expect(refused.code).toBe(65);
    expect(refused.err).toMatch(
      new RegExp(
        `the backup ${f.b} does not hold a clumanager quorum partition \\(it holds blocks of another clumanager cluster \\(block 1\\)\\); --repair will not write over it unless you add --force`,
      ),
    );
    // Ours, but with someone else's data in it beyond block 0: not shown to be only damage.
    const g = await initialised();
    ddWrite(g.b, 0, garbage());
    ddWrite(g.b, 40 * 512, garbage());
    const mixed = await run("--repair", ...g.args);
    expect(mixed.code).toBe(65);
    expect(mixed.err).toMatch(
      /holds data that is not clumanager's in block 40\); --repair will not write over it/,
    );
    expect((await run("--repair", "--force", ...g.args)).code).toBe(0);
  });

  it("exits 2 and says so when the header is damaged on both copies", async () => {
    const f = await initialised();
    ddWrite(f.p, 30, Buffer.from("xx"));
    ddWrite(f.b, 30, Buffer.from("yy"));
    const r = await run("--verify", ...f.args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the header \(block 0\) is damaged on both copies/);
  });

  it("prints a stored time that is not a valid date instead of failing", async () => {
    const f = await initialised();
    // A scratch block whose CRC is valid but whose wall-clock field is far beyond any date.
    const raw = encodeBlock(
      {
        type: BlockType.Scratch,
        slot: 1,
        generation: 7,
        clusterUuid: ddRead(f.p, 24, 16),
        payload: encodeScratch({
          host: "h",
          wallClockMs: Number.MAX_SAFE_INTEGER,
          pattern: Buffer.alloc(32),
        }),
      },
      512,
    );
    ddWrite(f.p, 512, raw);
    ddWrite(f.b, 512, raw);
    const r = await run("-p", ...f.args);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/access test by h at \(invalid time 9007199254740991\)/);
  });

  it("-t exits 66 when a partition path does not exist", async () => {
    const f = await initialised();
    const r = await run("-t", "--primary", f.p, "--backup", join(dir.path, "gone.img"));
    expect(r.code).toBe(66);
    expect(r.out).toMatch(/FAILED: .*gone\.img.*ENOENT/);
  });

  needsTools(["mkfs.ext4"])("with an ext4 filesystem on a partition", () => {
    it("-I refuses a partition holding a real ext4 filesystem, and --force overwrites it", async () => {
      const f = files(4 << 20);
      execFileSync(toolPath("mkfs.ext4"), ["-q", "-F", f.b]);
      const refused = await run("-I", "--name", "octane", ...f.args);
      expect(refused.code).toBe(73);
      expect(refused.err).toMatch(
        new RegExp(
          `${f.b} holds an ext2/ext3/ext4 filesystem; cludiskutil -I will not overwrite it \\(use --force`,
        ),
      );
      const forced = await run("-I", "--name", "octane", "--force", ...f.args);
      expect(forced.code).toBe(0);
      expect(forced.out).toMatch(/Erased: .* holds an ext2\/ext3\/ext4 filesystem/);
    });
  });

  it("-I refuses stray data and another cluster's partition, but re-initialises its own unused one", async () => {
    const stray = files();
    ddWrite(stray.p, 9000, Buffer.from([1]));
    const r1 = await run("-I", "--name", "octane", ...stray.args);
    expect(r1.code).toBe(73);
    expect(r1.err).toMatch(/holds data \(a non-zero byte at offset 9000, in block 17\)/);

    const other = await initialised();
    const r2 = await run("-I", "--name", "another", ...other.args);
    expect(r2.code).toBe(73);
    expect(r2.err).toMatch(/holds the quorum partition of cluster "octane"/);
    // An access test writes only the scratch block, which holds no cluster state.
    expect((await run("-t", ...other.args)).code).toBe(0);
    expect((await run("-I", "--name", "octane", ...other.args)).code).toBe(0);
  });

  it("-I refuses partitions that are too small and says how big they must be", async () => {
    const f = files(64 * 1024);
    const r = await run("-I", "--name", "octane", ...f.args);
    expect(r.code).toBe(65);
    expect(r.err).toMatch(
      /is 64\.0 KiB but the quorum partition layout needs at least .* \(\d+ bytes for 16 members/,
    );
  });

  it.each([
    ["shorter than one block", 100, "337820 bytes (660 blocks)"],
    ["shorter than its layout", 100_000, "237920 bytes (465 blocks)"],
  ])(
    "a partition %s: --verify, -p and --repair say by how much and what to do, exit 65",
    async (_what, size, short) => {
      const f = await initialised();
      execFileSync("truncate", ["-s", String(size), f.b]);
      for (const mode of ["--verify", "-p", "--repair"]) {
        const r = await run(mode, ...f.args);
        expect(r.code).toBe(65);
        expect(r.err.trim()).toBe(
          `cludiskutil: ${f.b} is ${size} bytes, ${short} short of the 337920-byte layout (660 blocks) recorded ` +
            "in the header: it was shrunk or is the wrong device; grow it to at least 337920 bytes, name the right " +
            "device, or re-initialise both partitions with cludiskutil -I --force for a layout that fits",
        );
      }
      // With the primary gone too, the copy that still has a header gives the layout to grow to.
      execFileSync("truncate", ["-s", "0", f.p]);
      const both = await run("--verify", ...f.args);
      expect(both.code).toBe(65);
      expect(both.err).toMatch(
        size < 512
          ? `${f.p} is 0 bytes, smaller than one 512-byte block, so it holds no quorum partition, and ${f.b} is ${size} bytes, smaller than one 512-byte block; name the right devices`
          : `${f.p} is 0 bytes, 337920 bytes (660 blocks) short of the 337920-byte layout`,
      );
    },
  );

  it("names a missing path and why, with exit 66", async () => {
    const f = await initialised();
    const missing = join(dir.path, "nope.img");
    const r = await run("--verify", "--primary", missing, "--backup", f.b);
    expect(r.code).toBe(66);
    expect(r.err).toContain(missing);
    expect(r.err).toMatch(/No such file or directory \(ENOENT\)/);
  });

  it.each([
    [[], /choose what to do/],
    [["-p", "-t"], /choose one of -p, -t/],
    [["-p", "--primary", "x"], /--primary PATH and --backup PATH/],
    [["-I", "--primary", "x", "--backup", "y"], /needs the cluster name/],
    [
      ["-I", "--name", "c", "--members", "many", "--primary", "x", "--backup", "y"],
      /--members needs a whole number/,
    ],
    [["-p", "--name", "c", "--primary", "x", "--backup", "y"], /--name only goes with -I/],
    [["--frobnicate"], /unknown option '--frobnicate'/],
    [["-p", "--timeout", "0", "--primary", "x", "--backup", "y"], /--timeout needs a number of seconds/],
    [["-p", "--timeout", "0.0001", "--primary", "x", "--backup", "y"], /from 0.001 to 600/],
    [
      ["-p", "--force", "--primary", "x", "--backup", "y"],
      /--force only goes with -I, --repair or --upgrade/,
    ],
  ])("usage error %j exits 64 with one line of help", async (argv, message) => {
    const r = await run(...(argv as string[]));
    expect(r.code).toBe(64);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/usage: cludiskutil/);
  });

  it("refuses an out-of-range member count as a usage error naming the range", async () => {
    const f = files();
    const r = await run("-I", "--name", "octane", "--members", "500", ...f.args);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/from 2 to 128, not 500/);
  });

  it("takes the partitions and the cluster name from cluster.conf with -c", async () => {
    const f = files();
    const conf = join(dir.path, `c${n}.conf`);
    writeFileSync(
      conf,
      readFileSync("conf/cluster.conf", "utf8").replace("/dev/sdb1", f.p).replace("/dev/sdb2", f.b),
    );
    const init = await run("-I", "-c", conf);
    expect(init.code).toBe(0);
    expect(init.out).toMatch(/cluster "octane"/);
    expect((await run("--verify", "-c", conf)).code).toBe(0);
    expect(await run("-p", "-c", conf, "--primary", f.p)).toMatchObject({
      code: 64,
      err: expect.stringMatching(/-c FILE or --primary and --backup, not both/),
    });
  });

  it("the installed command behaves the same as a separate process", () => {
    const bin = join(process.cwd(), "dist/cli/cludiskutil.js");
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run "npm install" (it compiles the commands)`);
    const f = files();
    const init = spawnSync(process.execPath, [bin, "-I", "--name", "octane", ...f.args], {
      encoding: "utf8",
    });
    expect(init.status).toBe(0);
    const verify = spawnSync(process.execPath, [bin, "--verify", ...f.args], { encoding: "utf8" });
    expect(verify.status).toBe(0);
    expect(verify.stdout).toMatch(/Both copies are valid and equal/);
    const usage = spawnSync(process.execPath, [bin], { encoding: "utf8" });
    expect(usage.status).toBe(64);
  });
});
