// The envelope every block carries: magic, format version, type, its own slot number, generation,
// cluster UUID, and a CRC32 trailer over everything before it. Decoding never throws: damage is an
// answer.
import { crc32 } from "node:zlib";
import { isAllZero, readU64, writeU64 } from "./fields.js";
import {
  BLOCK_MAGIC,
  BLOCK_TYPE_NAMES,
  type BlockType,
  CRC_TRAILER_SIZE,
  ENVELOPE,
  ENVELOPE_SIZE,
  FORMAT_VERSION,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  UPGRADABLE_FORMAT_VERSION,
  UUID_BYTES,
} from "./format.js";

/** A decoded block. `clusterUuid` and `payload` may be views into the buffer that was decoded. */
export interface Block {
  /** The format version it was written in: FORMAT_VERSION unless the decoder accepted others. */
  version: number;
  type: BlockType;
  slot: number;
  generation: number;
  clusterUuid: Buffer;
  payload: Buffer;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface BlockExpectation {
  type?: BlockType;
  slot?: number;
  clusterUuid?: Buffer;
  /** The format versions accepted: only this program's unless the upgrade reads the old one. */
  versions?: readonly number[];
}

export function isValidBlockSize(size: number): boolean {
  return (
    Number.isInteger(size) && size >= MIN_BLOCK_SIZE && size <= MAX_BLOCK_SIZE && (size & (size - 1)) === 0
  );
}

export function payloadCapacity(blockSize: number): number {
  return blockSize - ENVELOPE_SIZE - CRC_TRAILER_SIZE;
}

/** The CRC32 that belongs in a block's trailer: over every byte before it. */
export function blockCrc(buf: Buffer): number {
  return crc32(buf.subarray(0, buf.length - CRC_TRAILER_SIZE));
}

export function crcOffset(blockSize: number): number {
  return blockSize - CRC_TRAILER_SIZE;
}

/** A block to encode: in this program's format unless an older version is named. */
export type BlockToEncode = Omit<Block, "version"> & { version?: number };

export function encodeBlock(block: BlockToEncode, blockSize: number): Buffer {
  if (!isValidBlockSize(blockSize)) throw new RangeError(`block size ${blockSize} is not supported`);
  if (block.payload.length > payloadCapacity(blockSize)) {
    throw new RangeError(
      `a ${BLOCK_TYPE_NAMES[block.type]} payload of ${block.payload.length} bytes does not fit a ${blockSize}-byte block`,
    );
  }
  if (block.clusterUuid.length !== UUID_BYTES) throw new RangeError("the cluster UUID must be 16 bytes");
  const buf = Buffer.alloc(blockSize);
  buf.writeUInt32LE(BLOCK_MAGIC, ENVELOPE.magic);
  buf.writeUInt16LE(block.version ?? FORMAT_VERSION, ENVELOPE.version);
  buf.writeUInt16LE(block.type, ENVELOPE.type);
  buf.writeUInt32LE(block.slot, ENVELOPE.slot);
  buf.writeUInt32LE(block.payload.length, ENVELOPE.payloadLength);
  writeU64(buf, ENVELOPE.generation, block.generation);
  block.clusterUuid.copy(buf, ENVELOPE.clusterUuid);
  block.payload.copy(buf, ENVELOPE_SIZE);
  buf.writeUInt32LE(blockCrc(buf), crcOffset(blockSize));
  return buf;
}

/** Why a block of another format version is not read, and what to do. */
export function formatVersionProblem(version: number): string {
  if (version === UPGRADABLE_FORMAT_VERSION)
    return `format version ${version}, written by an earlier clumanager; this one reads version ${FORMAT_VERSION}: stop clumanager on every member and run cludiskutil --upgrade`;
  if (version < FORMAT_VERSION)
    return `format version ${version}, written by an earlier clumanager; this one reads version ${FORMAT_VERSION}: stop the cluster, keep cluster.conf, and initialise the partitions again (cludiskutil -I --force)`;
  return `format version ${version}, but this program reads version ${FORMAT_VERSION}`;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

function typeName(type: number): string {
  return BLOCK_TYPE_NAMES[type as BlockType] ?? `unknown type ${type}`;
}

/** Decodes a block without copying: the result's buffers are views into `buf`. */
export function decodeBlock(buf: Buffer, expect: BlockExpectation = {}): Decoded<Block> {
  if (!isValidBlockSize(buf.length))
    return { ok: false, problem: `block of ${buf.length} bytes has no valid size` };
  const magic = buf.readUInt32LE(ENVELOPE.magic);
  if (magic !== BLOCK_MAGIC) {
    if (isAllZero(buf)) return { ok: false, problem: "never written (all zero)" };
    return { ok: false, problem: `no clumanager block here (magic ${hex(magic)})` };
  }
  const stored = buf.readUInt32LE(crcOffset(buf.length));
  const computed = blockCrc(buf);
  if (stored !== computed) {
    return { ok: false, problem: `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})` };
  }
  const version = buf.readUInt16LE(ENVELOPE.version);
  if (!(expect.versions ?? [FORMAT_VERSION]).includes(version)) {
    return { ok: false, problem: formatVersionProblem(version) };
  }
  const type = buf.readUInt16LE(ENVELOPE.type);
  if (!(type in BLOCK_TYPE_NAMES)) return { ok: false, problem: `unknown block type ${type}` };
  if (expect.type !== undefined && type !== expect.type) {
    return {
      ok: false,
      problem: `holds a ${typeName(type)} block where a ${typeName(expect.type)} block belongs`,
    };
  }
  const slot = buf.readUInt32LE(ENVELOPE.slot);
  if (expect.slot !== undefined && slot !== expect.slot) {
    return {
      ok: false,
      problem: `holds block ${slot}, written to the wrong place (expected ${expect.slot})`,
    };
  }
  const payloadLength = buf.readUInt32LE(ENVELOPE.payloadLength);
  if (payloadLength > payloadCapacity(buf.length)) {
    return { ok: false, problem: `payload length ${payloadLength} exceeds the block` };
  }
  const generation = readU64(buf, ENVELOPE.generation);
  if (generation === undefined) return { ok: false, problem: "generation out of range" };
  const flags = buf.readUInt32LE(ENVELOPE.flags);
  if (flags !== 0) return { ok: false, problem: `unknown flags ${hex(flags)}` };
  if (buf.readUInt32LE(ENVELOPE.reserved) !== 0)
    return { ok: false, problem: "reserved envelope bytes are not zero" };
  const clusterUuid = buf.subarray(ENVELOPE.clusterUuid, ENVELOPE.clusterUuid + UUID_BYTES);
  if (expect.clusterUuid !== undefined && !clusterUuid.equals(expect.clusterUuid)) {
    return { ok: false, problem: "belongs to another cluster (UUID differs from the header's)" };
  }
  const payload = buf.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + payloadLength);
  return { ok: true, value: { version, type: type as BlockType, slot, generation, clusterUuid, payload } };
}
