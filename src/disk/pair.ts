// The primary and backup quorum partitions as one store.
//
// Writes go to the primary, then the backup, each at the block's next generation (generations.ts),
// which only grows. Reads read both copies, one contiguous transfer each per region, and take the
// newer copy of every block (copy-choice.ts): a write that reached one copy only, or a copy rolled
// back to an old image, cannot make a reader see an older block than the newer copy holds, nor
// an older one than this pair has already read. Two copies that cannot be ordered count as a
// block damaged on both. Every damaged copy found is returned to the caller, who logs and counts it.
//
// Who rewrites a damaged copy: every block has one writer (a member's status and lock blocks are
// written by that member, a mailbox by its sender). Only that writer may rewrite it, because
// anyone else could land an old copy over a new write the writer is making at that very moment.
// So a member repairs its own blocks, and serves the good copy of anyone else's until their owner
// rewrites them. A copy that is good but older is not rewritten by a read: that is what a write in
// flight looks like, and the block's next write mends it. A pair opened without a member (the
// tools) repairs every damaged copy.
import { type Block, type Decoded, encodeBlock } from "./block.js";
import { BlockCache } from "./block-cache.js";
import {
  configCapacity,
  decodeConfigRegion,
  encodeConfig,
  highestConfigGeneration,
  mergeConfigCopies,
  type StoredConfig,
} from "./config-region.js";
import { type CopyBytes, readCopyBytes } from "./copy-bytes.js";
import { CONFLICT_PROBLEM, judgeCopies, trustedCopy } from "./copy-choice.js";
import { copyEvidence } from "./copy-evidence.js";
import type { DirectDevice } from "./device.js";
import {
  type BadBlock,
  BothCopiesBadError,
  type Copy,
  DiskError,
  DiskWriteError,
  errorMessage,
  PartitionError,
  type Repair,
} from "./errors.js";
import { NewestSeen, nextGeneration } from "./generations.js";
import type { PartitionHeader } from "./header-block.js";
import { type ChosenHeader, chooseHeader } from "./header-choice.js";
import { readHeader } from "./header-read.js";
import {
  type ConfigRegionName,
  checkMember,
  type Layout,
  mailboxIndex,
  ownerOf,
  type Region,
  type RegionName,
  slotOffset,
} from "./layout.js";
import { decodeLock, encodeLock, type LockSlot } from "./lock-block.js";
import { decodeMail, encodeMail, type Mail } from "./mailbox-block.js";
import { openBoth } from "./open-pair.js";
import { decodeRegionBlock } from "./region-payload.js";
import { decodeService, encodeService, type ServiceRecord } from "./service-block.js";
import { decodeStatus, encodeStatus, type MemberStatus } from "./status-block.js";
import { tooSmallError } from "./too-small.js";

export { openBoth } from "./open-pair.js";

/** Larger regions are read in transfers of at most this size. */
export const MAX_READ_CHUNK_BYTES = 1024 * 1024;

export type { Repair } from "./errors.js";

/** One copy of one block: decoded, or why not; `raw` is empty when the copy could not be read. */
type CopyBlock = ({ ok: true; value: Block } | { ok: false; problem: string }) & { raw: Buffer };

export interface ReadResult<T> {
  records: T[];
  repairs: Repair[];
}

/** What one heartbeat read: every member's status, and my incoming mail. */
export interface Heartbeat {
  statuses: MemberStatus[];
  mail: Mail[];
  repairs: Repair[];
}

export interface PairOptions {
  write: boolean;
  /** Deadline for each transfer. */
  timeoutMs?: number;
  /** Open even if one copy has no usable header (for verify and repair, which report and fix it). */
  tolerateOneBadHeader?: boolean;
  /** The member this pair is opened for: it rewrites damaged copies of its own blocks only. */
  member?: number;
}

export class QuorumPair {
  /** Decoded blocks of the heartbeat reads, and the typed records made from them. */
  private readonly hot = new BlockCache();
  private readonly hotBackup = new BlockCache();
  private readonly records = new WeakMap<Block, unknown>();
  /** The newest version of each block this pair has read: no read goes back from it. */
  private readonly seen = new NewestSeen<Block>();
  /** The generation of this pair's last write of each block. */
  private readonly written = new Map<number, number>();

  private constructor(
    readonly primary: DirectDevice,
    readonly backup: DirectDevice,
    readonly header: PartitionHeader,
    readonly clusterUuid: Buffer,
    readonly headerGeneration: number,
    /** Problems found with the headers at open, and whether they were repaired. */
    readonly openRepairs: readonly Repair[],
    /** What the other copy's block 0 holds when it is not this header (verify and repair look). */
    readonly staleHeader: ChosenHeader["stale"],
    readonly member: number | undefined,
  ) {}

  get layout(): Layout {
    return this.header.layout;
  }

  static async open(primaryPath: string, backupPath: string, options: PairOptions): Promise<QuorumPair> {
    const devices = await openBoth(primaryPath, backupPath, options);
    try {
      return await QuorumPair.fromDevices(devices.primary, devices.backup, options);
    } catch (err) {
      devices.primary.close();
      devices.backup.close();
      throw err;
    }
  }

  private static async fromDevices(primary: DirectDevice, backup: DirectDevice, options: PairOptions) {
    const [p, b] = await Promise.all([readHeader(primary), readHeader(backup)]);
    let chosen = chooseHeader(primary.path, p, backup.path, b, true);
    for (const device of [primary, backup]) {
      if (device.geometry.sizeBytes < chosen.header.layout.totalBytes)
        throw tooSmallError(device.path, device.geometry.sizeBytes, chosen.header.layout);
    }
    // A block 0 that is not a header (no magic, or zeroed) while the other copy's is good: look at
    // the rest of the copy before calling it foreign (copy-evidence.ts).
    const stale = chosen.stale;
    if (stale !== undefined && (stale.fault === "foreign" || stale.fault === "empty")) {
      const device = stale.copy === "primary" ? primary : backup;
      const evidence = await copyEvidence(device, chosen.header.layout, chosen.block.clusterUuid);
      if (evidence.ours) {
        chosen = {
          ...chosen,
          stale: {
            ...stale,
            fault: "damaged",
            repairable: true,
            problem: `${stale.problem}, while ${evidence.blocks} other blocks of this copy are this cluster's: a damaged header`,
          },
        };
      } else if (!(options.tolerateOneBadHeader ?? false)) {
        chooseHeader(primary.path, p, backup.path, b, false); // throws: not shown to be ours
        throw new Error("unreachable: an untolerated bad header was refused");
      } else if (evidence.foreign !== undefined)
        chosen = { ...chosen, stale: { ...stale, content: evidence.foreign } };
    }
    const repairs: Repair[] = [];
    if (chosen.stale !== undefined) {
      const target = chosen.stale.copy === "primary" ? primary : backup;
      const repair: Repair = {
        region: "header",
        index: 0,
        slot: 0,
        repaired: chosen.stale.copy,
        problem: chosen.stale.problem,
        generation: chosen.block.generation,
        done: false,
      };
      if (!chosen.stale.repairable)
        repair.deferred = "block 0 holds no clumanager header; cludiskutil --repair rebuilds this copy";
      else if (!options.write) repair.deferred = "opened read-only";
      else {
        try {
          await target.write(0, chosen.raw);
          repair.done = true;
        } catch (err) {
          repair.error = errorMessage(err);
        }
      }
      repairs.push(repair);
    }
    if (options.member !== undefined) checkMember(chosen.header.layout, options.member);
    return new QuorumPair(
      primary,
      backup,
      chosen.header,
      chosen.block.clusterUuid,
      chosen.block.generation,
      repairs,
      chosen.stale,
      options.member,
    );
  }

  get writable(): boolean {
    return this.primary.writable && this.backup.writable;
  }

  region(name: RegionName): Region {
    return this.layout.regions[name];
  }

  /** Refuses to go on if either device's sector size changed since the partition was laid out. */
  checkGeometry(): void {
    for (const device of [this.primary, this.backup]) {
      const now = device.currentGeometry().logicalSectorSize;
      if (now !== this.layout.blockSize) {
        throw new PartitionError(
          `${device.path} now reports ${now}-byte sectors but was initialised with ${this.layout.blockSize}-byte ` +
            "sectors; stop the cluster and check the storage",
          "sector-size-changed",
        );
      }
    }
  }

  /**
   * Reads `count` blocks of a region from `first`, both copies in one transfer each (chunked only
   * for very large regions), and returns the newer copy of each block (copy-choice.ts).
   */
  async readBlocks(regionName: RegionName, first = 0, count?: number): Promise<ReadResult<Block>> {
    return this.readRange(regionName, first, count, false);
  }

  private async readRange(
    regionName: RegionName,
    first: number,
    count: number | undefined,
    cached: boolean,
  ): Promise<ReadResult<Block>> {
    const region = this.region(regionName);
    const n = count ?? region.slots - first;
    if (!Number.isInteger(first) || first < 0 || n < 1 || first + n > region.slots) {
      throw new RangeError(
        `blocks ${first}..${first + n - 1} are outside the ${regionName} region (${region.slots})`,
      );
    }
    const perChunk = Math.max(1, Math.floor(MAX_READ_CHUNK_BYTES / this.layout.slotBytes));
    const records: Block[] = [];
    const repairs: Repair[] = [];
    for (let at = first; at < first + n; at += perChunk) {
      const chunk = await this.readChunk(region, at, Math.min(perChunk, first + n - at), cached);
      records.push(...chunk.records);
      repairs.push(...chunk.repairs);
    }
    return { records, repairs };
  }

  /** One copy's bytes for a range, or why they could not be read (then every block is bad there). */
  private readCopy(copy: Copy, offset: number, length: number): Promise<CopyBytes> {
    const device = copy === "primary" ? this.primary : this.backup;
    return readCopyBytes(device, offset, length, (code) => `the ${copy} could not be read: ${code}`);
  }

  /** One copy of one block, decoded (through the heartbeat cache when `cached`). */
  private decodeCopy(
    copy: Copy,
    read: CopyBytes,
    i: number,
    slot: number,
    region: Region,
    cached: boolean,
  ): CopyBlock {
    if (!read.ok) return { ok: false, problem: read.problem, raw: Buffer.alloc(0) };
    const { slotBytes, blockSize } = this.layout;
    const raw = read.bytes.subarray(i * slotBytes, i * slotBytes + blockSize);
    const cache = copy === "primary" ? this.hot : this.hotBackup;
    const known = cached ? cache.lookup(slot, raw) : undefined;
    if (known !== undefined) return { ok: true, value: known, raw };
    const decoded = this.decodeSlot(raw, region, slot);
    if (!decoded.ok) return { ok: false, problem: decoded.problem, raw };
    if (cached) cache.remember(slot, raw, decoded.value);
    return { ok: true, value: decoded.value, raw };
  }

  private async readChunk(
    region: Region,
    first: number,
    count: number,
    cached: boolean,
  ): Promise<ReadResult<Block>> {
    const firstSlot = region.firstSlot + first;
    const offset = slotOffset(this.layout, firstSlot);
    const length = count * this.layout.slotBytes;
    const [pRead, bRead] = await Promise.allSettled([
      this.readCopy("primary", offset, length),
      this.readCopy("backup", offset, length),
    ]);
    if (pRead.status === "rejected") throw pRead.reason;
    if (bRead.status === "rejected") throw bRead.reason;
    const records: Block[] = [];
    const repairs: Repair[] = [];
    const unrecoverable: BadBlock[] = [];
    for (let i = 0; i < count; i++) {
      const slot = firstSlot + i;
      const p = this.decodeCopy("primary", pRead.value, i, slot, region, cached);
      const b = this.decodeCopy("backup", bRead.value, i, slot, region, cached);
      const verdict = judgeCopies(p.ok ? p.value : undefined, b.ok ? b.value : undefined, () =>
        p.raw.equals(b.raw),
      );
      const trusted = trustedCopy(verdict);
      if (trusted === undefined) {
        unrecoverable.push({
          region: region.name,
          index: first + i,
          slot,
          primaryProblem: p.ok ? CONFLICT_PROBLEM : p.problem,
          backupProblem: b.ok ? CONFLICT_PROBLEM : b.problem,
        });
        continue;
      }
      const good = trusted === "primary" ? p : b;
      if (!good.ok) throw new Error("unreachable: the trusted copy is good");
      const newest = this.seen.keep(slot, good.value);
      records[i] = newest;
      // A stale copy is what a write in flight (or one that reached one copy only) leaves: the
      // block's next write mends it. A copy that fails its checks is repaired, by its writer, and
      // never from a version older than one already read (the damaged copy may have held it).
      const bad = trusted === "primary" ? b : p;
      if (!bad.ok && newest !== good.value) {
        repairs.push({
          region: region.name,
          index: first + i,
          slot,
          repaired: trusted === "primary" ? "backup" : "primary",
          problem: bad.problem,
          generation: newest.generation,
          done: false,
          deferred: `the good copy holds generation ${good.value.generation}, older than generation ${newest.generation} read before; the block's next write mends it`,
        });
      } else if (!bad.ok) {
        const target: Copy = trusted === "primary" ? "backup" : "primary";
        repairs.push(
          await this.repairCopy(
            region,
            first + i,
            slot,
            target,
            Buffer.from(good.raw),
            bad.problem,
            good.value,
          ),
        );
      }
    }
    if (unrecoverable.length > 0) {
      const err = bothBad(this.primary.path, this.backup.path, unrecoverable);
      err.repairs = repairs;
      throw err;
    }
    return { records, repairs };
  }

  /** Rewrites a damaged copy of a block from the other, if this pair may (see the top). */
  private async repairCopy(
    region: Region,
    index: number,
    slot: number,
    target: Copy,
    good: Buffer,
    problem: string,
    goodBlock: Block,
  ): Promise<Repair> {
    const repair: Repair = {
      region: region.name,
      index,
      slot,
      repaired: target,
      problem,
      generation: goodBlock.generation,
      done: false,
    };
    const owner = ownerOf(this.layout, region.name, index);
    if (!this.writable) {
      repair.deferred = "opened read-only";
      return repair;
    }
    if (this.member !== undefined && owner !== this.member) {
      // A block of several writers (a service block) is changed only under the disk lock: a
      // reader's rewrite from the other copy could land over a change made under it a moment ago.
      repair.deferred =
        owner !== undefined
          ? `member ${owner} writes this block and repairs it`
          : "it is rewritten by its next change, made under the disk lock";
      return repair;
    }
    return this.rewriteCopy(repair, good);
  }

  /**
   * Rewrites a damaged copy. It may have been rewritten since we read it (by its owner, when that
   * is this member's other work, or by another tool), so look once more first: a repair must
   * never replace a newer good block.
   */
  private async rewriteCopy(repair: Repair, good: Buffer): Promise<Repair> {
    const device = repair.repaired === "primary" ? this.primary : this.backup;
    try {
      const offset = slotOffset(this.layout, repair.slot);
      const again = await device.read(offset, this.layout.blockSize);
      const region = this.region(repair.region as RegionName);
      if (this.decodeSlot(again, region, repair.slot).ok) {
        repair.problem = `${repair.problem} (rewritten meanwhile, so left alone)`;
        repair.done = true;
        return repair;
      }
      await device.write(offset, good);
      repair.done = true;
    } catch (err) {
      repair.error = errorMessage(err);
    }
    return repair;
  }

  /** A copy of a block: its envelope and its payload, which must both pass (region-payload.ts). */
  private decodeSlot(raw: Buffer, region: Region, slot: number): Decoded<Block> {
    const { block, record } = decodeRegionBlock(raw, this.layout, region, slot, this.clusterUuid);
    if (block.ok && record !== undefined) this.records.set(block.value, record);
    return block;
  }

  /**
   * Writes one block to the primary, then the backup, at the block's next generation. Fails on
   * the first copy that fails.
   */
  async writeBlock(regionName: RegionName, index: number, payload: Buffer): Promise<void> {
    const region = this.region(regionName);
    if (!Number.isInteger(index) || index < 0 || index >= region.slots) {
      throw new RangeError(`block ${index} is outside the ${regionName} region (${region.slots})`);
    }
    const slot = region.firstSlot + index;
    const generation = await this.nextGenerationOf(region, slot);
    const data = encodeBlock(
      { type: region.type, slot, generation, clusterUuid: this.clusterUuid, payload },
      this.layout.blockSize,
    );
    await this.writeBoth(slotOffset(this.layout, slot), data, `${regionName} block ${index}`);
  }

  /**
   * The generation the next write of a block carries (generations.ts): one more than anything
   * known of it. A block of one writer is looked up on both copies before this pair's first
   * write of it and counted on from there; a service block, whose last writer may have been
   * another member, is looked up before every write (made under the disk lock).
   */
  private async nextGenerationOf(region: Region, slot: number): Promise<number> {
    const mine = this.written.get(slot);
    const known = [mine, this.seen.generation(slot)];
    if (mine === undefined || ownerOf(this.layout, region.name, slot - region.firstSlot) === undefined)
      known.push(...(await this.generationsOnDisk(region, slot)));
    const generation = nextGeneration(known);
    // Taken before the write: a write that fails may still have reached one copy.
    this.written.set(slot, generation);
    return generation;
  }

  /** The generation of each copy of a block that passes its checks. */
  private async generationsOnDisk(region: Region, slot: number): Promise<number[]> {
    const offset = slotOffset(this.layout, slot);
    const generations: number[] = [];
    for (const read of await Promise.all([
      this.readCopy("primary", offset, this.layout.blockSize),
      this.readCopy("backup", offset, this.layout.blockSize),
    ])) {
      if (!read.ok) continue;
      const decoded = this.decodeSlot(read.bytes, region, slot);
      if (decoded.ok) generations.push(decoded.value.generation);
    }
    return generations;
  }

  private async writeBoth(offset: number, data: Buffer, what: string): Promise<void> {
    await this.writeCopy("primary", offset, data, what);
    await this.writeCopy("backup", offset, data, what);
  }

  private async writeCopy(copy: Copy, offset: number, data: Buffer, what: string): Promise<void> {
    const device = copy === "primary" ? this.primary : this.backup;
    try {
      await device.write(offset, data);
    } catch (err) {
      const cause = err instanceof DiskError ? err : new DiskError(errorMessage(err));
      const after =
        copy === "primary" ? "; the backup was not written" : "; the primary holds the new version";
      throw new DiskWriteError(
        `writing ${what} to the ${copy} ${device.path} failed: ${cause.message}${after}`,
        copy,
        cause,
      );
    }
  }

  // ---- typed access to the regions ----

  async readStatusRegion(): Promise<ReadResult<MemberStatus>> {
    return this.decodeAll("status", await this.readRange("status", 0, undefined, true), decodeStatus);
  }

  /** The mailboxes addressed to `to`, one per sender, in one contiguous read. */
  async readMailboxRow(to: number): Promise<ReadResult<Mail>> {
    const first = mailboxIndex(this.layout, to, 0);
    return this.decodeAll(
      "mailbox",
      await this.readRange("mailbox", first, this.layout.maxMembers, true),
      decodeMail,
    );
  }

  async readLocks(): Promise<ReadResult<LockSlot>> {
    return this.decodeAll("lock", await this.readBlocks("lock"), decodeLock);
  }

  async readServices(): Promise<ReadResult<ServiceRecord>> {
    return this.decodeAll("service", await this.readBlocks("service"), decodeService);
  }

  /**
   * One heartbeat: write my status block to the primary, then to the backup while reading the
   * status region and my mailbox row from the primary. The reads start only after the primary
   * write, so they never race my own block; overlapping them with the backup write means the
   * thread pool is never left idle between dependent transfers (waking it costs more than the
   * decoding does).
   */
  async heartbeat(status: MemberStatus): Promise<Heartbeat> {
    const region = this.region("status");
    const slot = region.firstSlot + status.member;
    const generation = await this.nextGenerationOf(region, slot);
    const data = encodeBlock(
      { type: region.type, slot, generation, clusterUuid: this.clusterUuid, payload: encodeStatus(status) },
      this.layout.blockSize,
    );
    const offset = slotOffset(this.layout, slot);
    await this.writeCopy("primary", offset, data, `status block ${status.member}`);
    const [written, statuses, mail] = await Promise.allSettled([
      this.writeCopy("backup", offset, data, `status block ${status.member}`),
      this.readStatusRegion(),
      this.readMailboxRow(status.member),
    ]);
    // A failed write matters most: it is what makes a member stop (invariant 2). The reads'
    // repairs travel with whatever error is thrown, so none goes unreported.
    const repairs: Repair[] = [];
    for (const read of [statuses, mail]) {
      if (read.status === "fulfilled") repairs.push(...read.value.repairs);
      else if (read.reason instanceof DiskError) repairs.push(...read.reason.repairs);
    }
    const failure = [written, statuses, mail].find((r) => r.status === "rejected");
    if (failure !== undefined) {
      const reason: unknown = failure.reason;
      if (reason instanceof DiskError) reason.repairs = repairs;
      throw reason;
    }
    if (statuses.status !== "fulfilled" || mail.status !== "fulfilled") throw new Error("unreachable");
    return { statuses: statuses.value.records, mail: mail.value.records, repairs };
  }

  writeStatus(status: MemberStatus): Promise<void> {
    return this.writeBlock("status", status.member, encodeStatus(status));
  }

  writeMail(mail: Mail): Promise<void> {
    return this.writeBlock("mailbox", mailboxIndex(this.layout, mail.to, mail.from), encodeMail(mail));
  }

  writeLock(lock: LockSlot): Promise<void> {
    return this.writeBlock("lock", lock.member, encodeLock(lock));
  }

  writeService(service: ServiceRecord): Promise<void> {
    return this.writeBlock("service", service.index, encodeService(service));
  }

  private decodeAll<T>(
    regionName: RegionName,
    read: ReadResult<Block>,
    decode: (payload: Buffer) => Decoded<T>,
  ): ReadResult<T> {
    const records = read.records.map((block) => {
      // Each Block object maps to one region and so to one decoder: the cast is to that T.
      const known = this.records.get(block) as T | undefined;
      if (known !== undefined) return known;
      // Decoded already when the copy was judged (decodeSlot): a payload that fails is damage
      // there. This is only for a block that reached here some other way.
      const decoded = decode(block.payload);
      if (!decoded.ok) {
        throw new PartitionError(
          `${regionName} block at slot ${block.slot} of ${this.primary.path} has a valid checksum but ` +
            `unreadable contents (${decoded.problem}); it was written by an incompatible version`,
          "bad-header",
        );
      }
      this.records.set(block, decoded.value);
      return decoded.value;
    });
    return { records, repairs: read.repairs };
  }

  // ---- the configuration region ----

  get configCapacity(): number {
    return configCapacity(this.layout);
  }

  /**
   * Reads the stored configuration from both copies and returns the newer complete one. A copy
   * whose blocks come from different writes (an update interrupted part way, or one still in
   * progress on another member) is damaged; where each copy is damaged in a different block, the
   * configuration is put together from the good blocks of both, if they make one view. Nothing is
   * rewritten here: a reader cannot tell an interrupted update from one in flight, so the damaged
   * copy is left to the next configuration write (which writes both) or to cludiskutil --repair,
   * and reported.
   */
  async readConfig(
    regionName: ConfigRegionName = "config",
  ): Promise<{ config: StoredConfig; repairs: Repair[] }> {
    const region = this.region(regionName);
    const [pRead, bRead] = await this.readConfigCopies(regionName);
    const decode = (read: CopyBytes): Decoded<StoredConfig> =>
      read.ok ? decodeConfigRegion(read.bytes, this.layout, this.clusterUuid, regionName) : read;
    const [p, b] = [decode(pRead), decode(bRead)];
    const report = (copy: Copy, problem: string, generation: number): Repair => ({
      region: regionName,
      index: 0,
      slot: region.firstSlot,
      repaired: copy,
      problem,
      generation,
      done: false,
      deferred: "the next configuration write or cludiskutil --repair rewrites it",
    });
    const unreadable = (primaryProblem: string, backupProblem: string) =>
      bothBad(this.primary.path, this.backup.path, [
        { region: regionName, index: 0, slot: region.firstSlot, primaryProblem, backupProblem },
      ]);
    if (p.ok && b.ok) {
      if (p.value.view === b.value.view) {
        if (p.value.text === b.value.text) return { config: p.value, repairs: [] };
        throw unreadable(CONFLICT_PROBLEM, CONFLICT_PROBLEM);
      }
      const [newer, older]: [Copy, Copy] =
        p.value.view > b.value.view ? ["primary", "backup"] : ["backup", "primary"];
      const good = newer === "primary" ? p.value : b.value;
      const stale = newer === "primary" ? b.value : p.value;
      return { config: good, repairs: [report(older, `holds the older view ${stale.view}`, good.view)] };
    }
    if (p.ok && !b.ok) return { config: p.value, repairs: [report("backup", b.problem, p.value.view)] };
    if (b.ok && !p.ok) return { config: b.value, repairs: [report("primary", p.problem, b.value.view)] };
    if (p.ok || b.ok) throw new Error("unreachable: neither copy is whole here");
    if (pRead.ok && bRead.ok) {
      const merged = mergeConfigCopies(pRead.bytes, bRead.bytes, this.layout, this.clusterUuid, regionName);
      if (merged.ok) {
        const { view } = merged.value.config;
        return {
          config: merged.value.config,
          repairs: [report("primary", p.problem, view), report("backup", b.problem, view)],
        };
      }
    }
    throw unreadable(p.problem, b.problem);
  }

  /** The view a new configuration write must carry: above every view on either copy, even one
   * whose write never completed, so no view number is ever used for two texts. */
  async nextConfigView(regionName: ConfigRegionName = "config"): Promise<number> {
    const highest = (await this.readConfigCopies(regionName)).map((read) =>
      read.ok ? highestConfigGeneration(read.bytes, this.layout, this.clusterUuid, regionName) : 0,
    );
    return nextGeneration(highest);
  }

  /** Stores a configuration: one transfer to the primary, then one to the backup. The view must
   * be one no earlier write used (nextConfigView). */
  async writeConfig(config: StoredConfig, regionName: ConfigRegionName = "config"): Promise<void> {
    const region = this.region(regionName);
    const next = await this.nextConfigView(regionName);
    if (config.view < next) {
      throw new PartitionError(
        `view ${config.view} cannot be stored: the partitions already hold view ${next - 1}; nothing was written`,
        "mismatch",
      );
    }
    await this.writeBoth(
      slotOffset(this.layout, region.firstSlot),
      this.encodeConfigRegion(config, regionName),
      regionName === "config" ? "the configuration" : "the saved configuration",
    );
  }

  encodeConfigRegion(config: StoredConfig, regionName: ConfigRegionName = "config"): Buffer {
    const region = this.region(regionName);
    const { slotBytes, blockSize } = this.layout;
    const out = Buffer.alloc(region.slots * slotBytes);
    encodeConfig(config, this.layout).forEach((payload, i) => {
      const slot = region.firstSlot + i;
      encodeBlock(
        { type: region.type, slot, generation: config.view, clusterUuid: this.clusterUuid, payload },
        blockSize,
      ).copy(out, i * slotBytes);
    });
    return out;
  }

  private readConfigCopies(regionName: ConfigRegionName): Promise<[CopyBytes, CopyBytes]> {
    const region = this.region(regionName);
    const offset = slotOffset(this.layout, region.firstSlot);
    const length = region.slots * this.layout.slotBytes;
    return Promise.all([this.readCopy("primary", offset, length), this.readCopy("backup", offset, length)]);
  }

  close(): void {
    this.primary.close();
    this.backup.close();
  }
}

function bothBad(primaryPath: string, backupPath: string, blocks: BadBlock[]): BothCopiesBadError {
  const first = blocks[0]!;
  const more = blocks.length > 1 ? ` (and ${blocks.length - 1} more)` : "";
  return new BothCopiesBadError(
    `${first.region} block ${first.index} (slot ${first.slot}) is damaged on both copies${more}: ` +
      `primary ${primaryPath}: ${first.primaryProblem}; backup ${backupPath}: ${first.backupProblem}; ` +
      "run cludiskutil --verify to list the damage, then restore the partitions or re-initialise them with cludiskutil -I",
    blocks,
  );
}
