// Little-endian field helpers shared by the block codecs.

/** Writes a u64 from a safe integer. Counters and generations stay below 2^53 for ages. */
export function writeU64(buf: Buffer, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`u64 field at offset ${offset}: ${value} is not a non-negative safe integer`);
  }
  buf.writeBigUInt64LE(BigInt(value), offset);
}

const TWO_TO_32 = 2 ** 32;
/** The high word of the largest safe integer (2^53 - 1). */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

/** Reads a u64, or undefined if it does not fit a safe integer (which only damage produces).
 * Two u32 reads, not BigInt: this runs for every field of every block every heartbeat. */
export function readU64(buf: Buffer, offset: number): number | undefined {
  const low = buf.readUInt32LE(offset);
  const high = buf.readUInt32LE(offset + 4);
  return high <= MAX_SAFE_HIGH_WORD ? high * TWO_TO_32 + low : undefined;
}

/** Writes `text` as NUL-padded UTF-8 into `size` bytes; refuses text that does not fit. */
export function writeName(buf: Buffer, offset: number, size: number, text: string, what: string): void {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > size) {
    throw new RangeError(`${what} "${text}" is ${bytes.length} bytes; at most ${size} fit`);
  }
  if (bytes.includes(0)) throw new RangeError(`${what} must not contain a NUL character`);
  buf.fill(0, offset, offset + size);
  bytes.copy(buf, offset);
}

/** Reads a NUL-padded UTF-8 name, or undefined if the bytes after the first NUL are not all zero
 * or the text is not valid UTF-8. */
export function readName(buf: Buffer, offset: number, size: number): string | undefined {
  const field = buf.subarray(offset, offset + size);
  const end = field.indexOf(0);
  const text = end === -1 ? field : field.subarray(0, end);
  if (end !== -1 && !isAllZero(field.subarray(end))) return undefined;
  let ascii = true;
  for (let i = 0; i < text.length && ascii; i++) ascii = (text[i] ?? 0) < 0x80;
  if (ascii) return text.toString("latin1");
  const decoded = text.toString("utf8");
  return Buffer.from(decoded, "utf8").equals(text) ? decoded : undefined;
}

export function isAllZero(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** The latest time a JavaScript Date can hold (year 275760): a stored wall-clock time beyond it
 * is damage, and would make every later formatting of it throw. */
export const MAX_WALL_CLOCK_MS = 8.64e15;

/** Why a field is not readable: one phrase naming it and its value, for a block's problem. */
export interface BadField {
  ok: false;
  problem: string;
}

/** A whole number from a field, checked to lie in [min, max]; the field is named if it does not. */
export function fieldIn(field: string, value: number, min: number, max: number): number | BadField {
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  return { ok: false, problem: `field ${field} holds ${value}, outside ${min} to ${max}` };
}

/** A u64 field, checked to lie in [0, max] (at most 2^53 - 1, the largest exact number). */
export function u64In(
  buf: Buffer,
  offset: number,
  field: string,
  max: number = Number.MAX_SAFE_INTEGER,
): number | BadField {
  const value = readU64(buf, offset);
  if (value === undefined)
    return {
      ok: false,
      problem: `field ${field} holds ${buf.readBigUInt64LE(offset)}, beyond the largest exact number 2^53 - 1`,
    };
  return fieldIn(field, value, 0, max);
}

/** A wall-clock time field (milliseconds since 1970), checked to be a time a Date can hold. */
export function wallClockIn(buf: Buffer, offset: number, field: string): number | BadField {
  return u64In(buf, offset, field, MAX_WALL_CLOCK_MS);
}

/** A NUL-padded UTF-8 name field, or why not. */
export function nameIn(buf: Buffer, offset: number, size: number, field: string): string | BadField {
  const name = readName(buf, offset, size);
  return name ?? { ok: false, problem: `field ${field} is not NUL-padded UTF-8 text` };
}

/** Writes a wall-clock time; refuses one no Date can hold, which no reader would accept. */
export function writeWallClock(buf: Buffer, offset: number, ms: number): void {
  if (ms > MAX_WALL_CLOCK_MS)
    throw new RangeError(
      `a wall-clock time of ${ms} ms is beyond the latest valid time (${MAX_WALL_CLOCK_MS})`,
    );
  writeU64(buf, offset, ms);
}
