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
