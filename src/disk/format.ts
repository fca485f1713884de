// Constants of the on-disk format. Changing any of them changes the format: bump FORMAT_VERSION.

/** "CLUQ" read as a little-endian u32: the first four bytes of every block. */
export const BLOCK_MAGIC = 0x51554c43;
/** 2: service blocks record an administrator's placement; status blocks carry a service request
 * and the last life their member fenced. 3: a lock slot says whether a tool or the member's daemon
 * wrote it. 4: a block's generation only grows, across processes, lives and writers, so the
 * higher of two copies is the newer (generations.ts); the payloads are those of format 3. */
export const FORMAT_VERSION = 4;
/** The earlier format `cludiskutil --upgrade` rewrites in place: the same blocks, whose
 * generations cannot be compared across lives and writers. */
export const UPGRADABLE_FORMAT_VERSION = 3;

/** Every block starts with this many bytes of envelope; the payload follows. */
export const ENVELOPE_SIZE = 48;
export const ENVELOPE = {
  magic: 0, // u32
  version: 4, // u16
  type: 6, // u16
  slot: 8, // u32: the block's own position, so a misdirected write is caught
  payloadLength: 12, // u32
  generation: 16, // u64
  clusterUuid: 24, // 16 bytes
  flags: 40, // u32, zero in format 1
  reserved: 44, // u32, zero in format 1
} as const;
/** The last four bytes of every block: CRC32 of all the bytes before them. A trailer rather than a
 * header field, so one pass over the block checks it (the hot path decodes every status block
 * every heartbeat). */
export const CRC_TRAILER_SIZE = 4;

export const UUID_BYTES = 16;

export enum BlockType {
  Header = 1,
  Scratch = 2,
  Status = 3,
  Mailbox = 4,
  Lock = 5,
  Service = 6,
  Config = 7,
  /** The copy kept by "cluadmin cluster backup". */
  SavedConfig = 8,
}

export const BLOCK_TYPE_NAMES: Readonly<Record<BlockType, string>> = {
  [BlockType.Header]: "header",
  [BlockType.Scratch]: "scratch",
  [BlockType.Status]: "status",
  [BlockType.Mailbox]: "mailbox",
  [BlockType.Lock]: "lock",
  [BlockType.Service]: "service",
  [BlockType.Config]: "config",
  [BlockType.SavedConfig]: "saved config",
};

/** Sector sizes the format supports: 512-byte and 4Kn devices, and anything between. */
export const MIN_BLOCK_SIZE = 512;
export const MAX_BLOCK_SIZE = 4096;

export const DEFAULT_MAX_MEMBERS = 16;
export const MAX_MEMBERS_LIMIT = 128;
export const DEFAULT_MAX_SERVICES = 64;
export const MAX_SERVICES_LIMIT = 1024;
/** Room for cluster.conf on the partitions. */
export const DEFAULT_CONFIG_BYTES = 128 * 1024;
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Blocks that different members write are spaced at least this far apart where the device's
 * physical sector is larger than its logical one, so no member's write is a read-modify-write of
 * another member's block. */
export const MAX_SLOT_BYTES = 4096;

/** Names and hostnames in blocks are NUL-padded UTF-8 of at most this many bytes. */
export const NAME_BYTES = 64;
