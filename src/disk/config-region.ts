// The cluster configuration kept on the partitions: one stream (view, length, CRC32, text) cut
// into blocks. Every block of one write carries the view as its generation, so a write that
// stopped halfway shows up as mixed generations, and the other copy (written after) still holds
// the previous complete view.
import { crc32 } from "node:zlib";
import { type Block, type Decoded, decodeBlock, payloadCapacity } from "./block.js";
import { u64In, writeU64 } from "./fields.js";
import { CONFIG_STREAM_HEADER_BYTES, type ConfigRegionName, type Layout } from "./layout.js";

export interface StoredConfig {
  /** Increases with every change of the configuration. 0 = nothing stored yet. */
  view: number;
  text: string;
}

export function configCapacity(layout: Layout): number {
  return layout.configBlocks * payloadCapacity(layout.blockSize) - CONFIG_STREAM_HEADER_BYTES;
}

/** The payloads of the config region's blocks, one per block, for `config`. */
export function encodeConfig(config: StoredConfig, layout: Layout): Buffer[] {
  const text = Buffer.from(config.text, "utf8");
  if (text.length > configCapacity(layout)) {
    throw new RangeError(
      `the configuration is ${text.length} bytes but the partitions hold at most ${configCapacity(layout)}; ` +
        "re-initialise them with a larger configuration area",
    );
  }
  const stream = Buffer.alloc(CONFIG_STREAM_HEADER_BYTES + text.length);
  writeU64(stream, 0, config.view);
  stream.writeUInt32LE(text.length, 8);
  stream.writeUInt32LE(crc32(text), 12);
  text.copy(stream, CONFIG_STREAM_HEADER_BYTES);
  const per = payloadCapacity(layout.blockSize);
  const payloads: Buffer[] = [];
  for (let i = 0; i < layout.configBlocks; i++) {
    payloads.push(stream.subarray(Math.min(i * per, stream.length), Math.min((i + 1) * per, stream.length)));
  }
  return payloads;
}

/** Reassembles the configuration from a copy's config blocks (already envelope-checked). */
export function decodeConfig(blocks: readonly Block[]): Decoded<StoredConfig> {
  const first = blocks[0];
  if (first === undefined) return { ok: false, problem: "the configuration region is empty" };
  const view = first.generation;
  if (blocks.some((b) => b.generation !== view)) {
    return {
      ok: false,
      problem: "the configuration blocks come from different writes (an interrupted update)",
    };
  }
  const stream = Buffer.concat(blocks.map((b) => b.payload));
  if (stream.length < CONFIG_STREAM_HEADER_BYTES) {
    return { ok: false, problem: "the configuration stream is too short" };
  }
  const storedView = u64In(stream, 0, "view");
  if (typeof storedView !== "number")
    return { ok: false, problem: `the configuration's ${storedView.problem}` };
  const length = stream.readUInt32LE(8);
  if (storedView !== view)
    return {
      ok: false,
      problem: `the configuration's field view holds ${storedView} but its blocks carry generation ${view}`,
    };
  if (CONFIG_STREAM_HEADER_BYTES + length !== stream.length) {
    return { ok: false, problem: `the configuration length ${length} does not match the stored bytes` };
  }
  const text = stream.subarray(CONFIG_STREAM_HEADER_BYTES);
  if (crc32(text) !== stream.readUInt32LE(12))
    return { ok: false, problem: "the configuration text fails its checksum" };
  const decoded = text.toString("utf8");
  if (!Buffer.from(decoded, "utf8").equals(text))
    return { ok: false, problem: "the configuration is not valid UTF-8" };
  return { ok: true, value: { view, text: decoded } };
}

/** Each block of one copy's configuration region, envelope-checked, as read from the device. */
export function decodeConfigBlocks(
  bytes: Buffer,
  layout: Layout,
  clusterUuid: Buffer,
  regionName: ConfigRegionName = "config",
): Decoded<Block>[] {
  const region = layout.regions[regionName];
  const blocks: Decoded<Block>[] = [];
  for (let i = 0; i < region.slots; i++) {
    const raw = bytes.subarray(i * layout.slotBytes, i * layout.slotBytes + layout.blockSize);
    blocks.push(decodeBlock(raw, { type: region.type, slot: region.firstSlot + i, clusterUuid }));
  }
  return blocks;
}

/** Decodes one copy's whole configuration region, as read from the device (padding included). */
export function decodeConfigRegion(
  bytes: Buffer,
  layout: Layout,
  clusterUuid: Buffer,
  regionName: ConfigRegionName = "config",
): Decoded<StoredConfig> {
  const blocks: Block[] = [];
  for (const [i, decoded] of decodeConfigBlocks(bytes, layout, clusterUuid, regionName).entries()) {
    if (!decoded.ok) return { ok: false, problem: `config block ${i}: ${decoded.problem}` };
    blocks.push(decoded.value);
  }
  return decodeConfig(blocks);
}

/**
 * The configuration rebuilt block by block from two copies that are each damaged somewhere:
 * every block taken from a copy that holds it good (where both do, they must agree), and the
 * whole accepted only if those blocks make one complete view. `bytes` is the rebuilt region, to
 * be written to both copies.
 */
export function mergeConfigCopies(
  primary: Buffer,
  backup: Buffer,
  layout: Layout,
  clusterUuid: Buffer,
  regionName: ConfigRegionName = "config",
): Decoded<{ config: StoredConfig; bytes: Buffer }> {
  const p = decodeConfigBlocks(primary, layout, clusterUuid, regionName);
  const b = decodeConfigBlocks(backup, layout, clusterUuid, regionName);
  const blocks: Block[] = [];
  const bytes = Buffer.alloc(primary.length);
  for (let i = 0; i < p.length; i++) {
    const [pi, bi] = [p[i]!, b[i]!];
    const at = i * layout.slotBytes;
    const pRaw = primary.subarray(at, at + layout.blockSize);
    const bRaw = backup.subarray(at, at + layout.blockSize);
    if (pi.ok && bi.ok && !pRaw.equals(bRaw))
      return { ok: false, problem: `config block ${i} is good on both copies but differs between them` };
    if (!pi.ok && !bi.ok)
      return { ok: false, problem: `config block ${i} is damaged on both copies (${pi.problem})` };
    const [chosen, raw] = pi.ok ? [pi.value, pRaw] : [(bi as { ok: true; value: Block }).value, bRaw];
    blocks.push(chosen);
    raw.copy(bytes, at);
  }
  const config = decodeConfig(blocks);
  return config.ok ? { ok: true, value: { config: config.value, bytes } } : config;
}

/** The highest view any good block of a copy's configuration region carries (0 if none): a new
 * view must be above it, even when that view's write never completed. */
export function highestConfigGeneration(
  bytes: Buffer,
  layout: Layout,
  clusterUuid: Buffer,
  regionName: ConfigRegionName = "config",
): number {
  let highest = 0;
  for (const d of decodeConfigBlocks(bytes, layout, clusterUuid, regionName))
    if (d.ok && d.value.generation > highest) highest = d.value.generation;
  return highest;
}
