// The network heartbeat packet: who sent it, in which incarnation, and its sequence, sealed with
// HMAC-SHA256 under the cluster key.
//
// A heartbeat only ever adds patience before a peer is fenced, so a forged or replayed one could
// delay a needed fence: every packet is authenticated, and a receiver accepts from each sender only
// packets newer than the last it accepted. Incarnations only grow (a member takes the next one at
// every start), so a packet from an older incarnation is a replay too.
import { createHmac, timingSafeEqual } from "node:crypto";
import { MAX_MEMBER_BLOCKS } from "../config/validate.js";

const MAGIC = 0x434c4842; // "CLHB"
/** A plain heartbeat, and one that also asks its receivers to read the quorum partitions now. */
const KIND_HEARTBEAT = 1;
const KIND_NUDGE = 2;
export const PACKET_VERSION = 1;
const MAC_BYTES = 32;
const F = { magic: 0, version: 4, kind: 5, member: 6, incarnation: 8, sequence: 16, mac: 24 };
export const PACKET_BYTES = F.mac + MAC_BYTES;
/** A key shorter than this is refused: HMAC-SHA256 is only as strong as its key. */
export const MIN_KEY_BYTES = 16;
/** Highest member id a packet may name: the highest cluster.conf accepts. */
export const MAX_MEMBER_ID = MAX_MEMBER_BLOCKS - 1;

export interface Heartbeat {
  member: number;
  incarnation: number;
  /** Grows by one with every packet a member sends in an incarnation. */
  sequence: number;
  /**
   * The sender has put news on the disk its peers should read at once (a confirmed fence, a
   * service let go).
   * It decides nothing: a receiver only reads the disk sooner than its next heartbeat would.
   */
  nudge?: boolean;
}

export type DropReason = "malformed" | "unauthenticated" | "replayed";

export type Received = { ok: true; heartbeat: Heartbeat } | { ok: false; reason: DropReason };

function checkKey(key: Buffer): void {
  if (key.length < MIN_KEY_BYTES) {
    throw new RangeError(`the heartbeat key must be at least ${MIN_KEY_BYTES} bytes`);
  }
}

/**
 * The key that seals heartbeats of one cluster on one channel: derived from the cluster key, the
 * cluster's identity (the UUID of its quorum partitions) and the channel's index. A packet sealed
 * for one cluster or channel then fails the seal on any other, so a packet captured on the
 * network cannot be replayed onto the serial line (or to another cluster sharing the key) to
 * stand in for a heartbeat that never came there.
 */
export function channelKey(key: Buffer, clusterId: Buffer, channel: number): Buffer {
  checkKey(key);
  if (!Number.isInteger(channel) || channel < 0 || channel > 0xff)
    throw new RangeError(`channel ${channel} is outside 0..255`);
  return createHmac("sha256", key)
    .update("clumanager heartbeat channel key\0")
    .update(clusterId)
    .update(Buffer.from([channel]))
    .digest();
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac("sha256", key).update(body).digest();
}

export function sealHeartbeat(key: Buffer, hb: Heartbeat): Buffer {
  checkKey(key);
  if (!Number.isInteger(hb.member) || hb.member < 0 || hb.member > MAX_MEMBER_ID) {
    throw new RangeError(`member id ${hb.member} is outside 0..${MAX_MEMBER_ID}`);
  }
  for (const [name, v] of [
    ["incarnation", hb.incarnation],
    ["sequence", hb.sequence],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`${name} ${v} is not a safe non-negative integer`);
  }
  const buf = Buffer.alloc(PACKET_BYTES);
  buf.writeUInt32BE(MAGIC, F.magic);
  buf.writeUInt8(PACKET_VERSION, F.version);
  buf.writeUInt8(hb.nudge === true ? KIND_NUDGE : KIND_HEARTBEAT, F.kind);
  buf.writeUInt16BE(hb.member, F.member);
  buf.writeBigUInt64BE(BigInt(hb.incarnation), F.incarnation);
  buf.writeBigUInt64BE(BigInt(hb.sequence), F.sequence);
  mac(key, buf.subarray(0, F.mac)).copy(buf, F.mac);
  return buf;
}

/** Checks shape and seal; says nothing yet about replay (see ReplayGuard). */
export function openHeartbeat(key: Buffer, packet: Buffer): Received {
  checkKey(key);
  if (packet.length !== PACKET_BYTES) return { ok: false, reason: "malformed" };
  if (packet.readUInt32BE(F.magic) !== MAGIC || packet.readUInt8(F.version) !== PACKET_VERSION) {
    return { ok: false, reason: "malformed" };
  }
  // The seal is checked before any field is believed, in constant time.
  if (!timingSafeEqual(mac(key, packet.subarray(0, F.mac)), packet.subarray(F.mac))) {
    return { ok: false, reason: "unauthenticated" };
  }
  const member = packet.readUInt16BE(F.member);
  const incarnation = packet.readBigUInt64BE(F.incarnation);
  const sequence = packet.readBigUInt64BE(F.sequence);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  const kind = packet.readUInt8(F.kind);
  if (
    (kind !== KIND_HEARTBEAT && kind !== KIND_NUDGE) ||
    member > MAX_MEMBER_ID ||
    incarnation > max ||
    sequence > max
  ) {
    return { ok: false, reason: "malformed" };
  }
  const heartbeat = { member, incarnation: Number(incarnation), sequence: Number(sequence) };
  return { ok: true, heartbeat: kind === KIND_NUDGE ? { ...heartbeat, nudge: true } : heartbeat };
}

/** Per-sender high-water mark: accepts each (incarnation, sequence) at most once and only forward. */
export class ReplayGuard {
  private readonly last = new Map<number, { incarnation: number; sequence: number }>();
  readonly dropped: Record<DropReason, number> = { malformed: 0, unauthenticated: 0, replayed: 0 };
  accepted = 0;

  constructor(private readonly key: Buffer) {
    checkKey(key);
  }

  receive(packet: Buffer): Received {
    const r = openHeartbeat(this.key, packet);
    if (!r.ok) {
      this.dropped[r.reason]++;
      return r;
    }
    const { member, incarnation, sequence } = r.heartbeat;
    const seen = this.last.get(member);
    const newer =
      seen === undefined ||
      incarnation > seen.incarnation ||
      (incarnation === seen.incarnation && sequence > seen.sequence);
    if (!newer) {
      this.dropped.replayed++;
      return { ok: false, reason: "replayed" };
    }
    this.last.set(member, { incarnation, sequence });
    this.accepted++;
    return r;
  }
}
