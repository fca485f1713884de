// Block 0: who this partition belongs to and how it is laid out.
import type { Decoded } from "./block.js";
import { nameIn, readName, wallClockIn, writeName, writeWallClock } from "./fields.js";
import { NAME_BYTES } from "./format.js";
import { computeLayout, type Layout, REGION_NAMES } from "./layout.js";

export interface PartitionHeader {
  clusterName: string;
  layout: Layout;
  /** Wall-clock time of initialisation, for people only. */
  initialisedAtMs: number;
  initialisedBy: string;
}

const F = {
  clusterName: 0,
  blockSize: 64,
  slotBlocks: 68,
  maxMembers: 72,
  maxServices: 76,
  configBlocks: 80,
  totalSlots: 84,
  initialisedAtMs: 88,
  initialisedBy: 96,
  regionTable: 160, // per region: first slot u32, slots u32
} as const;
export const HEADER_PAYLOAD_BYTES = F.regionTable + REGION_NAMES.length * 8;

export function encodeHeader(h: PartitionHeader): Buffer {
  const buf = Buffer.alloc(HEADER_PAYLOAD_BYTES);
  writeName(buf, F.clusterName, NAME_BYTES, h.clusterName, "the cluster name");
  buf.writeUInt32LE(h.layout.blockSize, F.blockSize);
  buf.writeUInt32LE(h.layout.slotBlocks, F.slotBlocks);
  buf.writeUInt32LE(h.layout.maxMembers, F.maxMembers);
  buf.writeUInt32LE(h.layout.maxServices, F.maxServices);
  buf.writeUInt32LE(h.layout.configBlocks, F.configBlocks);
  buf.writeUInt32LE(h.layout.totalSlots, F.totalSlots);
  writeWallClock(buf, F.initialisedAtMs, h.initialisedAtMs);
  writeName(buf, F.initialisedBy, NAME_BYTES, h.initialisedBy, "the host name");
  REGION_NAMES.forEach((name, i) => {
    buf.writeUInt32LE(h.layout.regions[name].firstSlot, F.regionTable + i * 8);
    buf.writeUInt32LE(h.layout.regions[name].slots, F.regionTable + i * 8 + 4);
  });
  return buf;
}

export function decodeHeader(payload: Buffer): Decoded<PartitionHeader> {
  if (payload.length !== HEADER_PAYLOAD_BYTES) {
    return {
      ok: false,
      problem: `header payload is ${payload.length} bytes, expected ${HEADER_PAYLOAD_BYTES}`,
    };
  }
  const clusterName = readName(payload, F.clusterName, NAME_BYTES);
  if (clusterName === undefined || clusterName === "")
    return { ok: false, problem: "header has no valid cluster name" };
  const initialisedBy = nameIn(payload, F.initialisedBy, NAME_BYTES, "initialisedBy");
  if (typeof initialisedBy !== "string") return initialisedBy;
  const initialisedAtMs = wallClockIn(payload, F.initialisedAtMs, "initialisedAtMs");
  if (typeof initialisedAtMs !== "number") return initialisedAtMs;
  let layout: Layout;
  try {
    layout = computeLayout({
      blockSize: payload.readUInt32LE(F.blockSize),
      slotBlocks: payload.readUInt32LE(F.slotBlocks),
      maxMembers: payload.readUInt32LE(F.maxMembers),
      maxServices: payload.readUInt32LE(F.maxServices),
      configBlocks: payload.readUInt32LE(F.configBlocks),
    });
  } catch (err) {
    return { ok: false, problem: `header describes an impossible layout: ${(err as Error).message}` };
  }
  // The recorded region table must be the one this program computes: a mismatch means a layout
  // this version does not understand, and guessing would write to the wrong blocks.
  if (payload.readUInt32LE(F.totalSlots) !== layout.totalSlots) {
    return { ok: false, problem: "header's total block count does not match its layout" };
  }
  for (const [i, name] of REGION_NAMES.entries()) {
    const region = layout.regions[name];
    if (
      payload.readUInt32LE(F.regionTable + i * 8) !== region.firstSlot ||
      payload.readUInt32LE(F.regionTable + i * 8 + 4) !== region.slots
    ) {
      return { ok: false, problem: `header's ${name} region does not match its layout` };
    }
  }
  return { ok: true, value: { clusterName, layout, initialisedAtMs, initialisedBy } };
}
