// Where every block lives. A layout is computed from a handful of parameters at initialisation and
// recorded in the header, so any tool can read a partition without a configuration file.
//
// The partition is a run of slots. A slot holds one block (one logical sector) followed, on
// devices whose physical sector is larger than the logical one, by padding up to the physical
// sector, so that blocks written by different members never share a physical sector.
import { isValidBlockSize, payloadCapacity } from "./block.js";
import { PartitionError } from "./errors.js";
import {
  BlockType,
  DEFAULT_CONFIG_BYTES,
  DEFAULT_MAX_MEMBERS,
  DEFAULT_MAX_SERVICES,
  MAX_CONFIG_BYTES,
  MAX_MEMBERS_LIMIT,
  MAX_SERVICES_LIMIT,
  MAX_SLOT_BYTES,
} from "./format.js";

export const REGION_NAMES = [
  "header",
  "scratch",
  "status",
  "mailbox",
  "lock",
  "service",
  "config",
  "savedConfig",
] as const;
export type RegionName = (typeof REGION_NAMES)[number];
/** The two regions that hold a configuration: the one in use, and the saved copy. */
export type ConfigRegionName = "config" | "savedConfig";
export const CONFIG_REGIONS: readonly ConfigRegionName[] = ["config", "savedConfig"];

const REGION_TYPES: Readonly<Record<RegionName, BlockType>> = {
  header: BlockType.Header,
  scratch: BlockType.Scratch,
  status: BlockType.Status,
  mailbox: BlockType.Mailbox,
  lock: BlockType.Lock,
  service: BlockType.Service,
  config: BlockType.Config,
  savedConfig: BlockType.SavedConfig,
};

/** Bytes at the start of the configuration stream before the text: view u64, length u32, crc u32. */
export const CONFIG_STREAM_HEADER_BYTES = 16;

export interface LayoutParams {
  blockSize: number;
  slotBlocks: number;
  maxMembers: number;
  maxServices: number;
  configBlocks: number;
}

export interface Region {
  name: RegionName;
  type: BlockType;
  firstSlot: number;
  slots: number;
}

export interface Layout extends LayoutParams {
  slotBytes: number;
  regions: Readonly<Record<RegionName, Region>>;
  totalSlots: number;
  totalBytes: number;
}

export interface LayoutRequest {
  logicalSectorSize: number;
  physicalSectorSize: number;
  maxMembers?: number;
  maxServices?: number;
  configBytes?: number;
}

function regionSlots(name: RegionName, p: LayoutParams): number {
  switch (name) {
    case "header":
    case "scratch":
      return 1;
    case "status":
    case "lock":
      return p.maxMembers;
    case "mailbox":
      return p.maxMembers * p.maxMembers;
    case "service":
      return p.maxServices;
    case "config":
    case "savedConfig":
      return p.configBlocks;
  }
}

function checkRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PartitionError(
      `${what} must be a whole number from ${min} to ${max}, not ${value}`,
      "invalid-option",
    );
  }
}

export function computeLayout(p: LayoutParams): Layout {
  if (!isValidBlockSize(p.blockSize)) {
    throw new PartitionError(
      `a sector size of ${p.blockSize} bytes is not supported (512 to 4096, a power of two)`,
      "invalid-option",
    );
  }
  checkRange("the number of members", p.maxMembers, 2, MAX_MEMBERS_LIMIT);
  checkRange("the number of services", p.maxServices, 1, MAX_SERVICES_LIMIT);
  checkRange("blocks per slot", p.slotBlocks, 1, MAX_SLOT_BYTES / p.blockSize);
  const maxConfigBlocks = Math.ceil(
    (MAX_CONFIG_BYTES + CONFIG_STREAM_HEADER_BYTES) / payloadCapacity(p.blockSize),
  );
  checkRange("configuration blocks", p.configBlocks, 1, maxConfigBlocks);

  const regions = {} as Record<RegionName, Region>;
  let next = 0;
  for (const name of REGION_NAMES) {
    const slots = regionSlots(name, p);
    regions[name] = { name, type: REGION_TYPES[name], firstSlot: next, slots };
    next += slots;
  }
  const slotBytes = p.blockSize * p.slotBlocks;
  return { ...p, slotBytes, regions, totalSlots: next, totalBytes: next * slotBytes };
}

/** The layout `cludiskutil -I` lays down on a device of the given geometry. */
export function layoutFor(req: LayoutRequest): Layout {
  const blockSize = req.logicalSectorSize;
  if (!isValidBlockSize(blockSize)) {
    throw new PartitionError(
      `a sector size of ${blockSize} bytes is not supported (512 to 4096, a power of two)`,
      "invalid-option",
    );
  }
  const physical = Math.min(Math.max(req.physicalSectorSize, blockSize), MAX_SLOT_BYTES);
  const configBytes = req.configBytes ?? DEFAULT_CONFIG_BYTES;
  checkRange("the configuration size", configBytes, 1024, MAX_CONFIG_BYTES);
  return computeLayout({
    blockSize,
    slotBlocks: Math.max(1, Math.floor(physical / blockSize)),
    maxMembers: req.maxMembers ?? DEFAULT_MAX_MEMBERS,
    maxServices: req.maxServices ?? DEFAULT_MAX_SERVICES,
    configBlocks: Math.ceil((configBytes + CONFIG_STREAM_HEADER_BYTES) / payloadCapacity(blockSize)),
  });
}

export function slotOffset(layout: Layout, slot: number): number {
  return slot * layout.slotBytes;
}

/** Which region a slot belongs to, and its index there. */
export function locateSlot(layout: Layout, slot: number): { region: Region; index: number } {
  for (const name of REGION_NAMES) {
    const region = layout.regions[name];
    if (slot >= region.firstSlot && slot < region.firstSlot + region.slots) {
      return { region, index: slot - region.firstSlot };
    }
  }
  throw new RangeError(`slot ${slot} is outside the layout (${layout.totalSlots} slots)`);
}

/** Mailboxes are laid out by recipient, so one member's incoming row is contiguous. */
export function mailboxIndex(layout: Layout, to: number, from: number): number {
  checkMember(layout, to);
  checkMember(layout, from);
  return to * layout.maxMembers + from;
}

/**
 * The member that writes a block, for blocks that have one: a member's status and lock blocks,
 * and the mailboxes it sends to. Header, scratch, service and configuration blocks are shared.
 */
export function ownerOf(layout: Layout, region: RegionName, index: number): number | undefined {
  switch (region) {
    case "status":
    case "lock":
      return index;
    case "mailbox":
      return index % layout.maxMembers;
    default:
      return undefined;
  }
}

export function checkMember(layout: Layout, member: number): void {
  if (!Number.isInteger(member) || member < 0 || member >= layout.maxMembers) {
    throw new RangeError(`member ${member} is outside this layout (0 to ${layout.maxMembers - 1})`);
  }
}

/** Human-readable size, as the error messages and -p output use it. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
