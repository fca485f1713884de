// The simulated quorum partitions: two copies (primary, backup) of every status, lock and
// service block, chosen between by the real rules (src/disk/copy-choice.ts and generations.ts).
//
// Each copy holds a version: the generation its writer chose, the value, and `truth`, the real
// order of writes (a sequence number taken as each write is issued), which only the checks see:
// (i) no process acts on a version of a block older in truth than one it acted on before;
// (iii) no repair overwrites a copy with a version older in truth than the one it replaces.
//
// The faults of the copies themselves: a write that loses one copy (the world decides when); a
// rollback, which puts back a copy as a snapshot taken earlier in the run held it (an array
// resynced from old data, a restored image); a bad sector on one copy of a service block. None
// ever loses a write from both copies: a copy is rolled back only while the other holds the
// newest write of every block, since no rule of generations can bring back a write no copy holds.
// Now and then `cludiskutil --repair` mends what judgeCopies proves stale or bad.

import type { DiskStatus } from "../../src/core/liveness.js";
import { judgeCopies, staleCopy, trustedCopy, type Verdict } from "../../src/disk/copy-choice.js";
import { NewestSeen, nextGeneration } from "../../src/disk/generations.js";
import type { LockSlot } from "../../src/disk/lock-block.js";
import type { ServiceRecord } from "../../src/disk/service-block.js";
import type { Random } from "./random.js";

/** 0 is the primary, 1 the backup. */
export type CopyIndex = 0 | 1;
const COPY_NAMES = ["primary", "backup"] as const;

export interface Version<V> {
  readonly generation: number;
  readonly value: V;
  /** The real order of writes, hidden from the members. */
  readonly truth: number;
}
/** A block as read: its primary and backup; undefined is a copy that fails its checks (never
 * written, or rolled back to before its first write). */
export type Copies<V> = readonly [Version<V> | undefined, Version<V> | undefined];

/** One member process (or tool) as a reader and writer of the disk. */
export class ProcessDisk {
  /** The generation of this process's last write of each block ("region/key"). */
  readonly written = new Map<string, number>();
  /** The old scheme's one write counter per process, for every service block. */
  rawServiceWrites = 0;
  constructor(readonly who: string) {}
}

const generationOf = (v: Version<unknown> | undefined) => v?.generation;

/**
 * The generation of the next write of a block of one writer (a member's status block, its lock
 * slot), as generations.ts has it: above both copies and anything read of it at the process's
 * first write, then one more than its own last.
 */
export function ownBlockGeneration(
  writer: ProcessDisk,
  key: string,
  copies: Copies<unknown>,
  seen: number | undefined,
): number {
  const mine = writer.written.get(key);
  const known = mine === undefined ? [seen, generationOf(copies[0]), generationOf(copies[1])] : [mine, seen];
  const g = nextGeneration(known);
  // Taken before the write: a write that fails may still reach one copy.
  writer.written.set(key, g);
  return g;
}

/**
 * How writers choose generations of status and service blocks. The correct one is
 * generations.ts: a member's status block starts above both copies when its process first
 * writes it and counts on; a service block is looked up on both copies before every write. A
 * broken variant may put back the old counters.
 */
export interface GenerationScheme {
  status(
    writer: ProcessDisk,
    member: number,
    copies: Copies<unknown>,
    seen: number | undefined,
    heartbeat: number,
  ): number;
  service(writer: ProcessDisk, service: number, copies: Copies<unknown>, seen: number | undefined): number;
}

export const GROWING_GENERATIONS: GenerationScheme = {
  status: (writer, member, copies, seen) => ownBlockGeneration(writer, `status/${member}`, copies, seen),
  service(writer, service, copies, seen) {
    const key = `service/${service}`;
    const g = nextGeneration([
      writer.written.get(key),
      seen,
      generationOf(copies[0]),
      generationOf(copies[1]),
    ]);
    writer.written.set(key, g);
    return g;
  },
};

export interface DiskStats {
  /** Writes acknowledged that one copy silently did not take. */
  lostWrites: number;
  /** Copies put back to an earlier snapshot. */
  rollbacks: number;
  /** Copies rewritten by `cludiskutil --repair` from the trusted one. */
  repairs: number;
  /** Copies of its own blocks that fail their checks, rewritten by the member that read them. */
  memberRepairs: number;
  /** Reads that believed the backup, or the primary over a stale or bad backup. */
  staleCopiesRead: number;
  /** Reads that found a block they could believe on neither copy. */
  unreadableBlocks: number;
  /** Bad sectors that made one copy of a service block refuse writes for a while. */
  badSectors: number;
}

export function newDiskStats(): DiskStats {
  return {
    lostWrites: 0,
    rollbacks: 0,
    repairs: 0,
    memberRepairs: 0,
    staleCopiesRead: 0,
    unreadableBlocks: 0,
    badSectors: 0,
  };
}

export interface DiskHost {
  readonly rng: Random;
  readonly stats: DiskStats;
  log(line: string): void;
  fail(message: string): never;
}

type Snapshot = Map<number, Version<unknown> | undefined>;

/** One region: its blocks by key (member or service id), each on two copies. */
export class Region<V> {
  private readonly blocks = new Map<number, [Version<V> | undefined, Version<V> | undefined]>();
  /** The truth of the newest write that reached either copy, per block. */
  private readonly newest = new Map<number, number>();
  private readonly seen = new WeakMap<ProcessDisk, NewestSeen<Version<V>>>();
  private readonly fed = new WeakMap<ProcessDisk, Map<number, Version<V>>>();

  constructor(
    readonly name: "status" | "lock" | "service",
    private readonly host: DiskHost,
  ) {}

  /** The blocks ever written, in key order. */
  keys(): number[] {
    return [...this.blocks.keys()].sort((a, b) => a - b);
  }

  /** Both copies as they are now: what a read takes. */
  copies(key: number): Copies<V> {
    const pair = this.blocks.get(key);
    return pair === undefined ? [undefined, undefined] : [pair[0], pair[1]];
  }

  land(key: number, copy: CopyIndex, v: Version<V>): void {
    let pair = this.blocks.get(key);
    if (pair === undefined) {
      pair = [undefined, undefined];
      this.blocks.set(key, pair);
    }
    pair[copy] = v;
    if (v.truth > (this.newest.get(key) ?? 0)) this.newest.set(key, v.truth);
  }

  judge(copies: Copies<V>): { verdict: Verdict; trusted: Version<V> | undefined } {
    const [p, b] = copies;
    const verdict = judgeCopies(p, b, () => sameContents(p as Version<V>, b as Version<V>));
    const t = trustedCopy(verdict);
    return { verdict, trusted: t === undefined ? undefined : t === "primary" ? p : b };
  }

  /** Whether a read of these copies can be believed at all. */
  readable(copies: Copies<V>): boolean {
    return this.judge(copies).trusted !== undefined;
  }

  /** What `reader` takes from a read of `copies`: the trusted copy, never older than what it
   * read before; undefined when neither copy can be believed. */
  read(reader: ProcessDisk, key: number, copies: Copies<V>): Version<V> | undefined {
    const { verdict, trusted } = this.judge(copies);
    if (trusted === undefined) {
      this.host.stats.unreadableBlocks++;
      return undefined;
    }
    if (verdict !== "ok") this.host.stats.staleCopiesRead++;
    let seen = this.seen.get(reader);
    if (seen === undefined) {
      seen = new NewestSeen<Version<V>>();
      this.seen.set(reader, seen);
    }
    return seen.keep(key, trusted);
  }

  /** The reader's newest seen generation of a block (a writer's floor). */
  seenGeneration(reader: ProcessDisk, key: number): number | undefined {
    return this.seen.get(reader)?.generation(key);
  }

  /** Invariant (i): a process acts on a version no older than one it acted on before. */
  feed(reader: ProcessDisk, key: number, v: Version<V>): V {
    let fed = this.fed.get(reader);
    if (fed === undefined) {
      fed = new Map();
      this.fed.set(reader, fed);
    }
    const before = fed.get(key);
    if (before !== undefined && v.truth < before.truth)
      this.host.fail(
        `${reader.who} acted on ${this.name} block ${key} as written by write #${v.truth} (generation ${v.generation}), older than write #${before.truth} (generation ${before.generation}) it acted on before`,
      );
    fed.set(key, v);
    return v.value;
  }

  /** The block as a fresh read finds it now (a tool, or the checks' view of what readers see). */
  current(key: number): V | undefined {
    return this.judge(this.copies(key)).trusted?.value;
  }

  /** The newest write of the block on either copy: the truth, for the checks alone. */
  latest(key: number): V | undefined {
    const [p, b] = this.copies(key);
    if (p === undefined || b === undefined) return (p ?? b)?.value;
    return (p.truth >= b.truth ? p : b).value;
  }

  /** Whether this copy holds the newest write of every block. */
  complete(copy: CopyIndex): boolean {
    for (const [key, pair] of this.blocks) if (pair[copy]?.truth !== this.newest.get(key)) return false;
    return true;
  }

  snapshot(copy: CopyIndex): Snapshot {
    const s: Snapshot = new Map();
    for (const [key, pair] of this.blocks) s.set(key, pair[copy]);
    return s;
  }

  /** Puts the copy back as the snapshot held it; a block written since it was taken is bad. */
  restore(copy: CopyIndex, s: Snapshot): void {
    for (const [key, pair] of this.blocks) pair[copy] = s.get(key) as Version<V> | undefined;
  }

  /** `cludiskutil --repair` on each block: the stale or bad copy rewritten from the trusted one
   * when judgeCopies proves it so; a conflict, or a block bad on both, is left alone. */
  repairAll(): void {
    for (const [key, pair] of this.blocks) {
      const { verdict, trusted } = this.judge(pair);
      const stale = staleCopy(verdict);
      if (stale === undefined || trusted === undefined) continue;
      this.repairCopy("cludiskutil --repair", key, stale === "primary" ? 0 : 1, trusted, verdict);
      this.host.stats.repairs++;
    }
  }

  /** As the pair does for a block its reader owns, after a read of `copies`: a copy that fails
   * its checks is rewritten from the trusted one, unless the reader has read a newer version
   * (then the block's next write mends it). */
  repairOwn(reader: ProcessDisk, key: number, copies: Copies<V>, newest: Version<V>): void {
    const { verdict, trusted } = this.judge(copies);
    const bad = copies[0] === undefined ? 0 : copies[1] === undefined ? 1 : undefined;
    if (bad === undefined || trusted === undefined || trusted !== newest) return;
    this.repairCopy(reader.who, key, bad, trusted, verdict);
    this.host.stats.memberRepairs++;
  }

  /** Invariant (iii): a repair never puts an older write over a newer one. */
  private repairCopy(who: string, key: number, copy: CopyIndex, from: Version<V>, verdict: Verdict): void {
    const pair = this.blocks.get(key);
    if (pair === undefined) return;
    const was = pair[copy];
    if (was !== undefined && was.truth > from.truth)
      this.host.fail(
        `${who} repaired the ${COPY_NAMES[copy]} of ${this.name} block ${key}, write #${was.truth} (generation ${was.generation}), with the older write #${from.truth} (generation ${from.generation}) from the ${COPY_NAMES[1 - copy]} (${verdict})`,
      );
    pair[copy] = from;
  }
}

/** Two copies with the same generation hold the same bytes only if they are the same write (or
 * two writes of the same contents). */
function sameContents<V>(p: Version<V>, b: Version<V>): boolean {
  return p.truth === b.truth || JSON.stringify(p.value) === JSON.stringify(b.value);
}

/** A snapshot of both copies of every region, taken this often while faults last. */
const SNAPSHOT_EVERY_MS = 2_000;
/** The oldest snapshots are dropped past this many: a rollback goes back at most about a minute. */
const MAX_SNAPSHOTS = 30;
/** Per simulated step while faults last: one copy rolled back. */
const ROLLBACK_PER_STEP = 0.004;
/** Per simulated step, all run long: an administrator runs `cludiskutil --repair`. */
const REPAIR_PER_STEP = 0.003;
/** Per simulated step while faults last: one copy of a service block refuses writes for a while
 * (a bad sector, remapped later), whoever writes it; its writer stays healthy otherwise. */
const BAD_SECTOR_PER_STEP = 0.004;
const BAD_SECTOR_MS: [number, number] = [2_000, 20_000];

/** A member's status block, with the configuration view that life runs. */
export type SimStatus = DiskStatus & { configView: number };

export class SimDisk {
  readonly status: Region<SimStatus>;
  readonly lock: Region<LockSlot>;
  readonly service: Region<ServiceRecord>;
  private truth = 0;
  private readonly snapshots: { atMs: number; copies: [Snapshot[], Snapshot[]] }[] = [];
  private lastSnapshotMs = Number.NEGATIVE_INFINITY;
  /** Per service block with a bad sector: the copy, and until when it refuses writes. */
  private readonly badSectors = new Map<number, { copy: CopyIndex; untilMs: number }>();

  constructor(private readonly host: DiskHost) {
    this.status = new Region("status", host);
    this.lock = new Region("lock", host);
    this.service = new Region("service", host);
  }

  private get regions(): Region<unknown>[] {
    return [this.status, this.lock, this.service] as Region<unknown>[];
  }

  /** A write being issued: its place in the real order is taken now. */
  version<V>(generation: number, value: V): Version<V> {
    return Object.freeze({ generation, value, truth: ++this.truth });
  }

  /** Between steps: snapshots, rollbacks while `faulty`, and now and then a repair. */
  step(nowMs: number, faulty: boolean): void {
    const { rng } = this.host;
    if (faulty && nowMs - this.lastSnapshotMs >= SNAPSHOT_EVERY_MS) {
      this.lastSnapshotMs = nowMs;
      const take = (c: CopyIndex) => this.regions.map((r) => r.snapshot(c));
      this.snapshots.push({ atMs: nowMs, copies: [take(0), take(1)] });
      if (this.snapshots.length > MAX_SNAPSHOTS) this.snapshots.shift();
    }
    if (faulty && this.snapshots.length > 0 && rng.chance(ROLLBACK_PER_STEP)) this.rollback(nowMs);
    const services = this.service.keys();
    if (faulty && services.length > 0 && rng.chance(BAD_SECTOR_PER_STEP)) {
      const service = rng.pick(services);
      const copy: CopyIndex = rng.chance(0.5) ? 0 : 1;
      const ms = rng.int(...BAD_SECTOR_MS);
      this.badSectors.set(service, { copy, untilMs: nowMs + ms });
      this.host.stats.badSectors++;
      this.host.log(`fault: the ${COPY_NAMES[copy]} of service block ${service} refuses writes for ${ms} ms`);
    }
    if (rng.chance(REPAIR_PER_STEP)) {
      this.host.log("an administrator runs cludiskutil --repair");
      for (const r of this.regions) r.repairAll();
    }
  }

  /** The copy of a service block that refuses writes now, if one does. */
  badCopy(service: number, nowMs: number): CopyIndex | undefined {
    const bad = this.badSectors.get(service);
    return bad !== undefined && bad.untilMs > nowMs ? bad.copy : undefined;
  }

  /** No fault of the disk's own lasts. */
  quiet(nowMs: number): boolean {
    for (const bad of this.badSectors.values()) if (bad.untilMs > nowMs) return false;
    return true;
  }

  private rollback(nowMs: number): void {
    const { rng } = this.host;
    const first: CopyIndex = rng.chance(0.5) ? 0 : 1;
    const s = rng.pick(this.snapshots);
    // Only while the other copy holds the newest of everything: a write lost on both is gone.
    const otherWhole = (c: CopyIndex) => this.regions.every((r) => r.complete(c === 0 ? 1 : 0));
    const copy = otherWhole(first)
      ? first
      : otherWhole(first === 0 ? 1 : 0)
        ? ((1 - first) as CopyIndex)
        : undefined;
    if (copy === undefined) return;
    this.regions.forEach((r, i) => {
      r.restore(copy, s.copies[copy][i] as Snapshot);
    });
    this.host.stats.rollbacks++;
    this.host.log(
      `fault: the ${COPY_NAMES[copy]} is rolled back to its snapshot of ${nowMs - s.atMs} ms ago`,
    );
  }
}
