// The block `cludiskutil -t` writes to prove a partition is writable without touching cluster state.
import { randomBytes } from "node:crypto";
import type { Decoded } from "./block.js";
import { readName, readU64, writeName, writeU64 } from "./fields.js";
import { NAME_BYTES } from "./format.js";

export interface ScratchRecord {
  host: string;
  wallClockMs: number;
  /** Random bytes, read back to prove the write reached the device. */
  pattern: Buffer;
}

const PATTERN_BYTES = 32;
const F = { host: 0, wallClockMs: 64, pattern: 72, end: 72 + PATTERN_BYTES };

export function newScratch(host: string, wallClockMs: number): ScratchRecord {
  return { host, wallClockMs, pattern: randomBytes(PATTERN_BYTES) };
}

export function encodeScratch(s: ScratchRecord): Buffer {
  const buf = Buffer.alloc(F.end);
  writeName(buf, F.host, NAME_BYTES, s.host, "the host name");
  writeU64(buf, F.wallClockMs, s.wallClockMs);
  s.pattern.copy(buf, F.pattern, 0, PATTERN_BYTES);
  return buf;
}

export function decodeScratch(payload: Buffer): Decoded<ScratchRecord> {
  if (payload.length !== F.end) return { ok: false, problem: `scratch payload is ${payload.length} bytes` };
  const host = readName(payload, F.host, NAME_BYTES);
  const wallClockMs = readU64(payload, F.wallClockMs);
  if (host === undefined || wallClockMs === undefined)
    return { ok: false, problem: "scratch block is damaged" };
  return { ok: true, value: { host, wallClockMs, pattern: Buffer.from(payload.subarray(F.pattern, F.end)) } };
}
