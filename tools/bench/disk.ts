// npm run bench:disk: what one heartbeat cycle costs on the quorum partitions, against the bare
// addon I/O it consists of.
//
// A cycle = write my status block to the primary and the backup, read the status region and my
// mailbox row from both copies. Each iteration times three things, in rotating order (whichever runs first after a
// pause pays for waking the thread pool, so a fixed order would bias the ratio):
//   cycle: QuorumPair.heartbeat(), as the daemon runs it (the reads overlap the backup write);
//   seq:   the same steps through QuorumPair one after another;
//   raw:   the same six transfers through the bare addon one after another. Before each iteration, untimed, every
// peer's status block is rewritten with a new heartbeat, as in a live cluster, so every status
// block the cycle reads is new to it. Prints a table (and --json FILE writes the figures).
// Target: the cycle costs at most 1.2x its raw I/O.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { cpus, hostname, release } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { encodeBlock } from "../../src/disk/block.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { mailboxIndex, slotOffset } from "../../src/disk/layout.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { rawio } from "../../src/disk/rawio.js";
import { encodeStatus, MemberState } from "../../src/disk/status-block.js";

const MEMBER_COUNTS = [2, 16, 64] as const;
const TMPFS_MAGIC = 0x01021994;
const PARTITION_BYTES = 32 << 20;

interface Args {
  cycles: number;
  warmup: number;
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { cycles: 1000, warmup: 100 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--cycles" && value !== undefined) args.cycles = Number(value);
    else if (flag === "--warmup" && value !== undefined) args.warmup = Number(value);
    else if (flag === "--json" && value !== undefined) args.json = value;
    else if (flag === "--help") {
      process.stdout.write("usage: npm run bench:disk -- [--cycles N] [--warmup N] [--json FILE]\n");
      process.exit(0);
    } else {
      process.stderr.write(`bench:disk: unknown argument ${flag}; try --help\n`);
      process.exit(64);
    }
    i++;
  }
  if (!Number.isInteger(args.cycles) || args.cycles < 10)
    throw new Error("--cycles must be a whole number >= 10");
  return args;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

interface Stats {
  p50: number;
  p99: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

interface Result {
  target: string;
  members: number;
  cycles: number;
  cycleMs: Stats;
  seqMs: Stats;
  rawMs: Stats;
  ratioP50: number;
  ratioP99: number;
  seqRatioP50: number;
  parts: Record<"writePrimary" | "writeBackup" | "readStatus" | "readMailbox", Stats>;
  repairs: number;
}

async function timed<T>(samples: number[], work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const value = await work();
  samples.push(performance.now() - t);
  return value;
}

async function bench(
  target: string,
  primary: string,
  backup: string,
  members: number,
  args: Args,
): Promise<Result> {
  await initialisePair(primary, backup, { clusterName: "bench", maxMembers: members, force: true });
  const pair = await QuorumPair.open(primary, backup, { write: true });
  const rawP = await rawio.open(primary, true);
  const rawB = await rawio.open(backup, true);
  const me = members - 1;
  const { layout } = pair;
  const statusOffset = slotOffset(layout, layout.regions.status.firstSlot);
  const statusBytes = members * layout.slotBytes;
  const mailboxOffset = slotOffset(layout, layout.regions.mailbox.firstSlot + mailboxIndex(layout, me, 0));
  const myStatusOffset = slotOffset(layout, layout.regions.status.firstSlot + me);

  const cycle: number[] = [];
  const seq: number[] = [];
  const raw: number[] = [];
  const parts = {
    writePrimary: [] as number[],
    writeBackup: [] as number[],
    readStatus: [] as number[],
    readMailbox: [] as number[],
  };
  let repairs = 0;
  let heartbeat = 0;

  // All peers (every member but me, whose block is last) as one contiguous write to the primary.
  const peers = Buffer.alloc((members - 1) * layout.slotBytes);
  const writePeers = (beat: number) => {
    for (let m = 0; m < members - 1; m++) {
      const slot = layout.regions.status.firstSlot + m;
      const payload = encodeStatus({
        member: m,
        state: MemberState.Up,
        incarnation: 1,
        heartbeat: beat,
        wallClockMs: Date.now(),
        nodeName: `member${m}`,
        configView: 0,
        services: [],
      });
      encodeBlock(
        { type: layout.regions.status.type, slot, generation: beat, clusterUuid: pair.clusterUuid, payload },
        layout.blockSize,
      ).copy(peers, m * layout.slotBytes);
    }
    return rawio.pwrite(rawP, statusOffset, peers);
  };

  for (let i = 0; i < args.warmup + args.cycles; i++) {
    const keep = i >= args.warmup;
    heartbeat++;
    await writePeers(heartbeat);
    const mine = {
      member: me,
      state: MemberState.Up,
      incarnation: 1,
      heartbeat,
      wallClockMs: Date.now(),
      nodeName: `member${me}`,
      configView: 0,
      services: [],
    };
    // The raw writes put the very bytes the cycle writes in the very same place, so both measure
    // the same device work and neither disturbs what the other reads.
    const myBlock = encodeBlock(
      {
        type: layout.regions.status.type,
        slot: layout.regions.status.firstSlot + me,
        generation: heartbeat,
        clusterUuid: pair.clusterUuid,
        payload: encodeStatus(mine),
      },
      layout.blockSize,
    );
    const c: number[] = [];
    const runCycle = () =>
      timed(c, async () => {
        const beat = await pair.heartbeat(mine);
        repairs += beat.repairs.length;
        if (beat.statuses[0]?.heartbeat !== heartbeat)
          throw new Error("the cycle did not see the peers' new heartbeat");
      });
    const q: number[] = [];
    const runSeq = () =>
      timed(q, async () => {
        await pair.writeStatus(mine);
        const statuses = await pair.readStatusRegion();
        const mail = await pair.readMailboxRow(me);
        repairs += statuses.repairs.length + mail.repairs.length;
      });
    const r: number[] = [];
    const p: number[][] = [[], [], [], []];
    const runRaw = () =>
      timed(r, async () => {
        await timed(p[0]!, () => rawio.pwrite(rawP, myStatusOffset, myBlock));
        await timed(p[1]!, () => rawio.pwrite(rawB, myStatusOffset, myBlock));
        await timed(p[2]!, async () => {
          await rawio.pread(rawP, statusOffset, statusBytes);
          await rawio.pread(rawB, statusOffset, statusBytes);
        });
        await timed(p[3]!, async () => {
          await rawio.pread(rawP, mailboxOffset, members * layout.slotBytes);
          await rawio.pread(rawB, mailboxOffset, members * layout.slotBytes);
        });
      });
    const order = [runCycle, runSeq, runRaw];
    for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]!();
    if (keep) {
      cycle.push(c[0]!);
      seq.push(q[0]!);
      raw.push(r[0]!);
      parts.writePrimary.push(p[0]![0]!);
      parts.writeBackup.push(p[1]![0]!);
      parts.readStatus.push(p[2]![0]!);
      parts.readMailbox.push(p[3]![0]!);
    }
  }
  rawio.close(rawP);
  rawio.close(rawB);
  pair.close();
  const cycleMs = stats(cycle);
  const seqMs = stats(seq);
  const rawMs = stats(raw);
  return {
    target,
    members,
    cycles: args.cycles,
    cycleMs,
    seqMs,
    rawMs,
    ratioP50: cycleMs.p50 / rawMs.p50,
    ratioP99: cycleMs.p99 / rawMs.p99,
    seqRatioP50: seqMs.p50 / rawMs.p50,
    parts: {
      writePrimary: stats(parts.writePrimary),
      writeBackup: stats(parts.writeBackup),
      readStatus: stats(parts.readStatus),
      readMailbox: stats(parts.readMailbox),
    },
    repairs,
  };
}

function scratchParent(): string {
  for (const dir of ["/var/tmp", "/tmp", process.cwd()]) {
    try {
      if (statfsSync(dir).type !== TMPFS_MAGIC) return dir;
    } catch {
      // next
    }
  }
  throw new Error("no non-tmpfs directory for the benchmark's partition files");
}

function makeFile(path: string): string {
  writeFileSync(path, Buffer.alloc(0));
  execFileSync("truncate", ["-s", String(PARTITION_BYTES), path]);
  return path;
}

function fmt(n: number): string {
  return n.toFixed(3);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(scratchParent(), "clumanager-bench-"));
  const loops: string[] = [];
  const results: Result[] = [];
  try {
    const targets: { name: string; primary: string; backup: string }[] = [
      { name: "file (ext4)", primary: makeFile(join(dir, "p.img")), backup: makeFile(join(dir, "b.img")) },
    ];
    if (process.getuid?.() === 0) {
      const attach = (file: string) => {
        const dev = execFileSync("losetup", ["--find", "--show", "--direct-io=on", file], {
          encoding: "utf8",
        }).trim();
        loops.push(dev);
        return dev;
      };
      targets.push({
        name: "loop (512 B)",
        primary: attach(makeFile(join(dir, "lp.img"))),
        backup: attach(makeFile(join(dir, "lb.img"))),
      });
    } else {
      process.stderr.write("*** not root: the loop device figures are skipped ***\n");
    }
    for (const t of targets) {
      for (const members of MEMBER_COUNTS) {
        results.push(await bench(t.name, t.primary, t.backup, members, args));
      }
    }
  } finally {
    for (const dev of loops) execFileSync("losetup", ["--detach", dev]);
    rmSync(dir, { recursive: true, force: true });
  }

  const cpu = cpus()[0]?.model ?? "unknown CPU";
  process.stdout.write(
    `Heartbeat cycle on the quorum partitions: ${args.cycles} cycles after ${args.warmup} warm-up, ` +
      `${cpus().length} x ${cpu}, Linux ${release()}, host ${hostname()}\n\n`,
  );
  const header = [
    "target",
    "members",
    "cycle p50",
    "cycle p99",
    "raw p50",
    "raw p99",
    "ratio p50",
    "ratio p99",
    "seq p50",
    "seq ratio",
    "wP p50",
    "wB p50",
    "rS p50",
    "rM p50",
  ];
  const rows = results.map((r) => [
    r.target,
    String(r.members),
    fmt(r.cycleMs.p50),
    fmt(r.cycleMs.p99),
    fmt(r.rawMs.p50),
    fmt(r.rawMs.p99),
    r.ratioP50.toFixed(2),
    r.ratioP99.toFixed(2),
    fmt(r.seqMs.p50),
    r.seqRatioP50.toFixed(2),
    fmt(r.parts.writePrimary.p50),
    fmt(r.parts.writeBackup.p50),
    fmt(r.parts.readStatus.p50),
    fmt(r.parts.readMailbox.p50),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) {
    process.stdout.write(`${row.map((c, i) => c.padStart(widths[i]!)).join("  ")}\n`);
  }
  process.stdout.write(
    "\nTimes in ms. cycle = QuorumPair.heartbeat() (reads overlap the backup write); seq = the same steps " +
      "one after another; raw = the same six transfers through the bare addon, one after another: " +
      "wP/wB = write one block to the primary/backup, rS = read the status region, rM = read the mailbox row, each from both copies. " +
      "ratio = cycle / raw. Target: ratio <= 1.20.\n",
  );
  const worst = Math.max(...results.map((r) => r.ratioP50));
  process.stdout.write(
    `Worst p50 ratio: ${worst.toFixed(2)} (${worst <= 1.2 ? "meets" : "MISSES"} the 1.2x target)\n`,
  );
  if (results.some((r) => r.repairs > 0)) process.stdout.write("Note: repairs happened during the run.\n");
  if (args.json !== undefined) {
    writeFileSync(
      args.json,
      `${JSON.stringify({ machine: { cpu, cores: cpus().length, kernel: release() }, results }, null, 2)}\n`,
    );
    process.stdout.write(`Figures written to ${args.json}\n`);
  }
}

await main();
