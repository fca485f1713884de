// The primary and backup quorum partitions as one store.
//
// Writes go to the primary, then the backup, so the backup always holds a complete earlier (or
// the same) version of every block. Reads come from the primary in one contiguous transfer per
// region; only a block that fails its checks (or a region whose read fails) is read from the
// backup. Every damaged copy found is returned to the caller, who logs and counts it.
//
// Who rewrites a damaged primary block: every block has one writer (a member's status and lock
// blocks are written by that member, a mailbox by its sender). Only that writer may rewrite it,
// because anyone else could land an old copy over a new write the writer is making at that very
// moment, and the primary would then hold the older version with nothing to correct it. So a
// member repairs its own blocks, and serves the backup's copy of anyone else's until their
// owner rewrites them. A pair opened without a member (the tools) repairs everything.
import { type Block, type Decoded, decodeBlock, encodeBlock } from "./block.js";
import { BlockCache } from "./block-cache.js";
import { configCapacity, decodeConfigRegion, encodeConfig, type StoredConfig } from "./config-region.js";
import type { DirectDevice } from "./device.js";
import {
  type BadBlock,
  BothCopiesBadError,
  type Copy,
  DiskError,
  DiskIoError,
  DiskWriteError,
  errorMessage,
  PartitionError,
  type Repair,
} from "./errors.js";
import type { PartitionHeader } from "./header-block.js";
import { type ChosenHeader, chooseHeader } from "./header-choice.js";
import { readHeader } from "./header-read.js";
import {
  type ConfigRegionName,
  checkMember,
  formatBytes,
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
import { decodeService, encodeService, type ServiceRecord } from "./service-block.js";
import { decodeStatus, encodeStatus, type MemberStatus } from "./status-block.js";

export { openBoth } from "./open-pair.js";

/** Larger regions are read in transfers of at most this size. */
export const MAX_READ_CHUNK_BYTES = 1024 * 1024;

export type { Repair } from "./errors.js";

/** A region read that the primary could not serve at all: every block comes from the backup. */
const PRIMARY_READ_FAILED = "the primary could not be read";

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
  private readonly records = new WeakMap<Block, unknown>();

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
    const chosen = chooseHeader(primary.path, p, backup.path, b, options.tolerateOneBadHeader ?? false);
    for (const device of [primary, backup]) {
      if (device.geometry.sizeBytes < chosen.header.layout.totalBytes) {
        throw new PartitionError(
          `${device.path} is ${formatBytes(device.geometry.sizeBytes)} but its header describes a layout of ` +
            `${formatBytes(chosen.header.layout.totalBytes)}; the partition was shrunk or is the wrong device`,
          "too-small",
        );
      }
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
   * Reads `count` blocks of a region from `first`, in one transfer from the primary (chunked only
   * for very large regions), repairing damaged primary blocks from the backup.
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

  private async readChunk(
    region: Region,
    first: number,
    count: number,
    cached: boolean,
  ): Promise<ReadResult<Block>> {
    const { slotBytes, blockSize } = this.layout;
    const firstSlot = region.firstSlot + first;
    const offset = slotOffset(this.layout, firstSlot);
    const records: Block[] = [];
    const bad: { i: number; problem: string }[] = [];
    let primaryBytes: Buffer | undefined;
    try {
      primaryBytes = await this.primary.read(offset, count * slotBytes);
    } catch (err) {
      // A sector that cannot be read is a damaged copy like any other; a hung device
      // (timeout, busy) is not, and more I/O would not help it.
      if (!(err instanceof DiskIoError)) throw err;
      for (let i = 0; i < count; i++) bad.push({ i, problem: `${PRIMARY_READ_FAILED}: ${err.code}` });
    }
    for (let i = 0; primaryBytes !== undefined && i < count; i++) {
      const slot = firstSlot + i;
      const raw = primaryBytes.subarray(i * slotBytes, i * slotBytes + blockSize);
      const known = cached ? this.hot.lookup(slot, raw) : undefined;
      if (known !== undefined) {
        records[i] = known;
        continue;
      }
      const decoded = this.decodeSlot(raw, region, slot);
      if (decoded.ok) {
        records[i] = decoded.value;
        if (cached) this.hot.remember(slot, raw, decoded.value);
      } else bad.push({ i, problem: decoded.problem });
    }
    if (bad.length === 0) return { records, repairs: [] };

    const repairs: Repair[] = [];
    let backupBytes: Buffer;
    try {
      backupBytes = await this.backup.read(offset, count * slotBytes);
    } catch (err) {
      if (err instanceof DiskError) err.repairs = repairs;
      throw err;
    }
    const unrecoverable: BadBlock[] = [];
    for (const { i, problem } of bad) {
      const slot = firstSlot + i;
      const raw = Buffer.from(backupBytes.subarray(i * slotBytes, i * slotBytes + blockSize));
      const decoded = this.decodeSlot(raw, region, slot);
      if (!decoded.ok) {
        unrecoverable.push({
          region: region.name,
          index: first + i,
          slot,
          primaryProblem: problem,
          backupProblem: decoded.problem,
        });
        continue;
      }
      records[i] = decoded.value;
      repairs.push(
        await this.repairFromBackup(region, first + i, slot, raw, problem, decoded.value.generation),
      );
    }
    if (unrecoverable.length > 0) {
      const err = bothBad(this.primary.path, this.backup.path, unrecoverable);
      err.repairs = repairs;
      throw err;
    }
    return { records, repairs };
  }

  /** Rewrites the primary copy of a block from the backup, if this pair may (see the top). */
  private async repairFromBackup(
    region: Region,
    index: number,
    slot: number,
    good: Buffer,
    problem: string,
    generation: number,
  ): Promise<Repair> {
    const repair: Repair = {
      region: region.name,
      index,
      slot,
      repaired: "primary",
      problem,
      generation,
      done: false,
    };
    const owner = ownerOf(this.layout, region.name, index);
    if (!this.primary.writable) {
      repair.deferred = "opened read-only";
      return repair;
    }
    if (this.member !== undefined && owner !== this.member) {
      // A block of several writers (a service block) is changed only under the disk lock: a
      // reader's rewrite from the backup could land over a change made under it a moment ago.
      repair.deferred =
        owner !== undefined
          ? `member ${owner} writes this block and repairs it`
          : "it is rewritten by its next change, made under the disk lock";
      return repair;
    }
    return this.rewritePrimary(repair, good);
  }

  /**
   * Rewrites a damaged primary block. It may have been rewritten since we read it (by its owner,
   * when that is this member's other work, or by another tool), so look once more first: a
   * repair must never replace a newer good block.
   */
  private async rewritePrimary(repair: Repair, good: Buffer): Promise<Repair> {
    try {
      const offset = slotOffset(this.layout, repair.slot);
      const again = await this.primary.read(offset, this.layout.blockSize);
      const region = this.region(repair.region as RegionName);
      if (this.decodeSlot(again, region, repair.slot).ok) {
        repair.problem = `${repair.problem} (rewritten meanwhile, so left alone)`;
        repair.done = true;
        return repair;
      }
      await this.primary.write(offset, good);
      repair.done = true;
    } catch (err) {
      repair.error = errorMessage(err);
    }
    return repair;
  }

  private decodeSlot(raw: Buffer, region: Region, slot: number): Decoded<Block> {
    return decodeBlock(raw, { type: region.type, slot, clusterUuid: this.clusterUuid });
  }

  /** Writes one block to the primary, then the backup. Fails on the first copy that fails. */
  async writeBlock(
    regionName: RegionName,
    index: number,
    payload: Buffer,
    generation: number,
  ): Promise<void> {
    const region = this.region(regionName);
    if (!Number.isInteger(index) || index < 0 || index >= region.slots) {
      throw new RangeError(`block ${index} is outside the ${regionName} region (${region.slots})`);
    }
    const slot = region.firstSlot + index;
    const data = encodeBlock(
      { type: region.type, slot, generation, clusterUuid: this.clusterUuid, payload },
      this.layout.blockSize,
    );
    await this.writeBoth(slotOffset(this.layout, slot), data, `${regionName} block ${index}`);
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
  async heartbeat(status: MemberStatus, generation: number): Promise<Heartbeat> {
    const region = this.region("status");
    const slot = region.firstSlot + status.member;
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

  writeStatus(status: MemberStatus, generation: number): Promise<void> {
    return this.writeBlock("status", status.member, encodeStatus(status), generation);
  }

  writeMail(mail: Mail, generation: number): Promise<void> {
    return this.writeBlock(
      "mailbox",
      mailboxIndex(this.layout, mail.to, mail.from),
      encodeMail(mail),
      generation,
    );
  }

  writeLock(lock: LockSlot, generation: number): Promise<void> {
    return this.writeBlock("lock", lock.member, encodeLock(lock), generation);
  }

  writeService(service: ServiceRecord, generation: number): Promise<void> {
    return this.writeBlock("service", service.index, encodeService(service), generation);
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
      const decoded = decode(block.payload);
      if (!decoded.ok) {
        // The checksum passed, so this is not damage on the disk: the writer wrote a payload this
        // program cannot read. Repairing from the other copy would not help.
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
   * progress on another member) is damaged. Nothing is rewritten here: a reader cannot tell an
   * interrupted update from one in flight, so the damaged copy is left to the next configuration
   * write (which writes both) or to cludiskutil --repair, and reported.
   */
  async readConfig(
    regionName: ConfigRegionName = "config",
  ): Promise<{ config: StoredConfig; repairs: Repair[] }> {
    const region = this.region(regionName);
    const [p, b] = await Promise.all([
      this.readConfigCopy(this.primary, regionName),
      this.readConfigCopy(this.backup, regionName),
    ]);
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
    if (p.ok && b.ok) {
      if (p.value.view === b.value.view) {
        if (p.value.text === b.value.text) return { config: p.value, repairs: [] };
        return {
          config: p.value,
          repairs: [report("backup", "differs from the primary at the same view", p.value.view)],
        };
      }
      const [newer, older]: [Copy, Copy] =
        p.value.view > b.value.view ? ["primary", "backup"] : ["backup", "primary"];
      const good = newer === "primary" ? p.value : b.value;
      const stale = newer === "primary" ? b.value : p.value;
      return { config: good, repairs: [report(older, `holds the older view ${stale.view}`, good.view)] };
    }
    if (p.ok && !b.ok) return { config: p.value, repairs: [report("backup", b.problem, p.value.view)] };
    if (b.ok && !p.ok) return { config: b.value, repairs: [report("primary", p.problem, b.value.view)] };
    throw bothBad(this.primary.path, this.backup.path, [
      {
        region: regionName,
        index: 0,
        slot: region.firstSlot,
        primaryProblem: p.ok ? "" : p.problem,
        backupProblem: b.ok ? "" : b.problem,
      },
    ]);
  }

  /** Stores a configuration: one transfer to the primary, then one to the backup. */
  async writeConfig(config: StoredConfig, regionName: ConfigRegionName = "config"): Promise<void> {
    const region = this.region(regionName);
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

  private async readConfigCopy(
    device: DirectDevice,
    regionName: ConfigRegionName,
  ): Promise<Decoded<StoredConfig>> {
    const region = this.region(regionName);
    let bytes: Buffer;
    try {
      bytes = await device.read(
        slotOffset(this.layout, region.firstSlot),
        region.slots * this.layout.slotBytes,
      );
    } catch (err) {
      if (err instanceof DiskIoError) return { ok: false, problem: `could not be read: ${err.code}` };
      throw err;
    }
    return decodeConfigRegion(bytes, this.layout, this.clusterUuid, regionName);
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
