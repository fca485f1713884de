// The primary and backup quorum partitions as one store.
//
// Writes go to the primary, then the backup, so the backup always holds a complete earlier (or
// the same) version of every block. Reads come from the primary in one contiguous transfer per
// region; only a block that fails its checks is read from the backup, and the damaged primary
// copy is rewritten from it. Every repair is returned to the caller, who logs and counts it.
import { type Block, type Decoded, decodeBlock, encodeBlock } from "./block.js";
import { BlockCache } from "./block-cache.js";
import { configCapacity, decodeConfig, encodeConfig, type StoredConfig } from "./config-region.js";
import { DirectDevice } from "./device.js";
import {
  type BadBlock,
  BothCopiesBadError,
  type Copy,
  DiskError,
  DiskWriteError,
  errorMessage,
  PartitionError,
} from "./errors.js";
import type { PartitionHeader } from "./header-block.js";
import { type HeaderRead, readHeader } from "./header-read.js";
import {
  formatBytes,
  type Layout,
  mailboxIndex,
  type Region,
  type RegionName,
  slotOffset,
} from "./layout.js";
import { decodeLock, encodeLock, type LockSlot } from "./lock-block.js";
import { decodeMail, encodeMail, type Mail } from "./mailbox-block.js";
import { decodeService, encodeService, type ServiceRecord } from "./service-block.js";
import { decodeStatus, encodeStatus, type MemberStatus } from "./status-block.js";

/** Larger regions are read in transfers of at most this size. */
export const MAX_READ_CHUNK_BYTES = 1024 * 1024;

export interface Repair {
  region: RegionName;
  index: number;
  slot: number;
  /** The copy that was (or needed to be) rewritten from the other. */
  repaired: Copy;
  /** What was wrong with it. */
  problem: string;
  /** Generation of the good copy written over it. */
  generation: number;
  /** False when the pair is read-only or the rewrite failed (see `error`). */
  done: boolean;
  error?: string;
}

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
      if (options.write && chosen.stale.repairable) {
        try {
          await target.write(0, chosen.raw);
          repair.done = true;
        } catch (err) {
          repair.error = errorMessage(err);
        }
      }
      repairs.push(repair);
    }
    return new QuorumPair(
      primary,
      backup,
      chosen.header,
      chosen.block.clusterUuid,
      chosen.block.generation,
      repairs,
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
    const primaryBytes = await this.primary.read(slotOffset(this.layout, firstSlot), count * slotBytes);
    const records: Block[] = [];
    const bad: { i: number; problem: string }[] = [];
    for (let i = 0; i < count; i++) {
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

    const backupBytes = await this.backup.read(slotOffset(this.layout, firstSlot), count * slotBytes);
    const repairs: Repair[] = [];
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
        await this.rewritePrimary(region, first + i, slot, raw, problem, decoded.value.generation),
      );
    }
    if (unrecoverable.length > 0) throw bothBad(this.primary.path, this.backup.path, unrecoverable);
    return { records, repairs };
  }

  /**
   * Rewrites a damaged primary block from the backup. The block's owner may have rewritten it
   * since we read it, so look once more first: a rewrite from the backup must never replace a
   * newer good block. (The remaining window between this read and the write is a few
   * microseconds; losing that race costs the owner one heartbeat, which tko absorbs.)
   */
  private async rewritePrimary(
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
    if (!this.primary.writable) return repair;
    try {
      const offset = slotOffset(this.layout, slot);
      const again = await this.primary.read(offset, this.layout.blockSize);
      if (this.decodeSlot(again, region, slot).ok) {
        repair.problem = `${problem} (rewritten by its owner meanwhile)`;
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
    return this.decodeAll("status", await this.readBlocks("status"), decodeStatus);
  }

  /** The mailboxes addressed to `to`, one per sender, in one contiguous read. */
  async readMailboxRow(to: number): Promise<ReadResult<Mail>> {
    const first = mailboxIndex(this.layout, to, 0);
    return this.decodeAll(
      "mailbox",
      await this.readBlocks("mailbox", first, this.layout.maxMembers),
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
    // A failed write matters most: it is what makes a member stop (invariant 2).
    if (written.status === "rejected") throw written.reason;
    if (statuses.status === "rejected") throw statuses.reason;
    if (mail.status === "rejected") throw mail.reason;
    return {
      statuses: statuses.value.records,
      mail: mail.value.records,
      repairs: [...statuses.value.repairs, ...mail.value.repairs],
    };
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
   * Reads the stored configuration. Each copy is judged as a whole; a copy whose blocks come from
   * different writes (an update interrupted part way) is damaged, and the other copy repairs it.
   */
  async readConfig(): Promise<{ config: StoredConfig; repairs: Repair[] }> {
    const region = this.region("config");
    const primaryCopy = await this.readConfigCopy(this.primary, region);
    if (primaryCopy.ok) return { config: primaryCopy.value, repairs: [] };
    const backupCopy = await this.readConfigCopy(this.backup, region);
    if (!backupCopy.ok) {
      throw bothBad(this.primary.path, this.backup.path, [
        {
          region: "config",
          index: 0,
          slot: region.firstSlot,
          primaryProblem: primaryCopy.problem,
          backupProblem: backupCopy.problem,
        },
      ]);
    }
    const repair: Repair = {
      region: "config",
      index: 0,
      slot: region.firstSlot,
      repaired: "primary",
      problem: primaryCopy.problem,
      generation: backupCopy.value.view,
      done: false,
    };
    if (this.primary.writable) {
      try {
        const offset = slotOffset(this.layout, region.firstSlot);
        await this.primary.write(offset, this.encodeConfigRegion(backupCopy.value));
        repair.done = true;
      } catch (err) {
        repair.error = errorMessage(err);
      }
    }
    return { config: backupCopy.value, repairs: [repair] };
  }

  /** Stores a configuration: one transfer to the primary, then one to the backup. */
  async writeConfig(config: StoredConfig): Promise<void> {
    const region = this.region("config");
    await this.writeBoth(
      slotOffset(this.layout, region.firstSlot),
      this.encodeConfigRegion(config),
      "the configuration",
    );
  }

  encodeConfigRegion(config: StoredConfig): Buffer {
    const region = this.region("config");
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

  private async readConfigCopy(device: DirectDevice, region: Region): Promise<Decoded<StoredConfig>> {
    const { slotBytes, blockSize } = this.layout;
    const bytes = await device.read(slotOffset(this.layout, region.firstSlot), region.slots * slotBytes);
    const blocks: Block[] = [];
    for (let i = 0; i < region.slots; i++) {
      const decoded = this.decodeSlot(
        bytes.subarray(i * slotBytes, i * slotBytes + blockSize),
        region,
        region.firstSlot + i,
      );
      if (!decoded.ok) return { ok: false, problem: `config block ${i}: ${decoded.problem}` };
      blocks.push(decoded.value);
    }
    return decodeConfig(blocks);
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

/** Opens both devices and makes sure they are two different devices. */
export async function openBoth(
  primaryPath: string,
  backupPath: string,
  options: { write: boolean; timeoutMs?: number },
): Promise<{ primary: DirectDevice; backup: DirectDevice }> {
  const open = {
    write: options.write,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
  const primary = await DirectDevice.open(primaryPath, open);
  let backup: DirectDevice;
  try {
    backup = await DirectDevice.open(backupPath, open);
  } catch (err) {
    primary.close();
    throw err;
  }
  if (primary.geometry.identity === backup.geometry.identity) {
    primary.close();
    backup.close();
    throw new PartitionError(
      `the primary ${primaryPath} and the backup ${backupPath} are the same device; ` +
        "the two quorum partitions must be separate partitions",
      "same-device",
    );
  }
  if (primary.sectorSize !== backup.sectorSize) {
    primary.close();
    backup.close();
    throw new PartitionError(
      `the primary ${primaryPath} has ${primary.sectorSize}-byte sectors but the backup ${backupPath} has ` +
        `${backup.sectorSize}-byte sectors; both quorum partitions must be on devices with one sector size`,
      "mismatch",
    );
  }
  return { primary, backup };
}

interface ChosenHeader {
  header: PartitionHeader;
  block: Block;
  raw: Buffer;
  stale?: { copy: Copy; problem: string; repairable: boolean };
}

function describeFault(path: string, read: Extract<HeaderRead, { ok: false }>): string {
  switch (read.fault) {
    case "empty":
      return `${path} is not initialised (block 0 is all zero)`;
    case "foreign":
      return `${path} does not hold a clumanager quorum partition (${read.problem})`;
    case "damaged":
      return `${path} has a damaged header (${read.problem})`;
    case "sector-size":
      return `${path} ${read.problem}`;
  }
}

function chooseHeader(
  primaryPath: string,
  p: HeaderRead,
  backupPath: string,
  b: HeaderRead,
  tolerateOneBad: boolean,
): ChosenHeader {
  for (const [path, read] of [
    [primaryPath, p],
    [backupPath, b],
  ] as const) {
    if (!read.ok && read.fault === "sector-size") {
      throw new PartitionError(
        `${describeFault(path, read)}; a partition cannot change sector size: move it back or re-initialise it`,
        "sector-size-changed",
      );
    }
  }
  if (p.ok && b.ok) {
    if (!p.block.clusterUuid.equals(b.block.clusterUuid)) {
      throw new PartitionError(
        `the primary ${primaryPath} belongs to cluster "${p.header.clusterName}" but the backup ${backupPath} ` +
          `belongs to another cluster ("${b.header.clusterName}"); check the device names`,
        "mismatch",
      );
    }
    if (p.block.generation === b.block.generation) {
      if (!p.raw.equals(b.raw)) {
        throw new PartitionError(
          `the headers of ${primaryPath} and ${backupPath} have the same generation but differ; ` +
            "run cludiskutil --verify and re-initialise if they cannot be reconciled",
          "mismatch",
        );
      }
      return { header: p.header, block: p.block, raw: p.raw };
    }
    const [newer, older]: [Copy, Copy] =
      p.block.generation > b.block.generation ? ["primary", "backup"] : ["backup", "primary"];
    const good = newer === "primary" ? p : b;
    return {
      header: good.header,
      block: good.block,
      raw: good.raw,
      stale: { copy: older, problem: "older header generation", repairable: true },
    };
  }
  if (!p.ok && !b.ok) {
    const reason = p.fault === "empty" && b.fault === "empty" ? "not-initialised" : "foreign";
    throw new PartitionError(
      `neither partition holds a usable header: ${describeFault(primaryPath, p)}; ${describeFault(backupPath, b)}; ` +
        "initialise them with cludiskutil -I",
      reason,
    );
  }
  const [goodRead, badRead, badCopy, badPath] = p.ok
    ? ([p, b, "backup", backupPath] as const)
    : ([b, p, "primary", primaryPath] as const);
  if (!goodRead.ok || badRead.ok) throw new Error("unreachable: exactly one header is good here");
  // A damaged header of ours is repaired from the other copy; an empty or foreign block 0 could
  // mean the wrong device was named, so only an explicit --repair may write over it.
  const repairable = badRead.fault === "damaged";
  if (!repairable && !tolerateOneBad) {
    throw new PartitionError(
      `${describeFault(badPath, badRead)}, while the other partition belongs to cluster "${goodRead.header.clusterName}"; ` +
        `if ${badPath} is the right device, run cludiskutil --repair to copy the good partition onto it`,
      badRead.fault === "empty" ? "not-initialised" : "foreign",
    );
  }
  return {
    header: goodRead.header,
    block: goodRead.block,
    raw: goodRead.raw,
    stale: { copy: badCopy, problem: badRead.problem, repairable },
  };
}
