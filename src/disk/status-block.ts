// One per member, written only by that member every heartbeat interval.
import type { Decoded } from "./block.js";
import { fieldIn, nameIn, u64In, wallClockIn, writeName, writeU64, writeWallClock } from "./fields.js";
import { MAX_MEMBERS_LIMIT, MAX_SERVICES_LIMIT, NAME_BYTES } from "./format.js";

export enum MemberState {
  /** The slot was never used since initialisation. */
  None = 0,
  Up = 1,
  /** Shut down cleanly: peers must not fence it. */
  Down = 2,
}

/** What an administrator asked of a service that another member owns. */
export enum RequestOp {
  Enable = 1,
  Disable = 2,
  Relocate = 3,
  Restart = 4,
}

/**
 * A request carried in the asking member's own status block: the owner reads every status block
 * each heartbeat anyway, so asking costs no extra write and never touches a block another member
 * owns (a mailbox block, say, may hold a fenced notice that must not be overwritten).
 */
export interface ServiceRequest {
  to: number;
  /** The life of `to` it is meant for: a later life ignores it. */
  toIncarnation: number;
  /** Grows with each request this life of the asking member makes, so each is done once. */
  sequence: number;
  op: RequestOp;
  service: number;
  /** Relocate: the member asked for, or -1 for any other. */
  target: number;
}

export interface MemberStatus {
  member: number;
  state: MemberState;
  incarnation: number;
  /** Bumped every heartbeat: liveness is this counter moving, never a clock. */
  heartbeat: number;
  /** Wall-clock time of the write, for people only. */
  wallClockMs: number;
  nodeName: string;
  /** Indexes of the services this member runs. */
  services: number[];
  request?: ServiceRequest;
  /** The last life this member's fence confirmed off: the others learn of it within a heartbeat,
   * and may take over its services without waiting for the fencing lock to tell them. */
  fenced?: { member: number; incarnation: number };
  /** The view of the cluster configuration this life runs (0: the local file, before any change
   * was stored): services are placed only while every live member runs the same one. */
  configView: number;
}

const F = {
  member: 0,
  state: 2,
  incarnation: 8,
  heartbeat: 16,
  wallClockMs: 24,
  nodeName: 32,
  requestTo: 96,
  requestOp: 98,
  requestService: 100,
  requestTarget: 102,
  requestSequence: 104,
  requestIncarnation: 108,
  fencedMember: 116,
  fencedIncarnation: 120,
  configView: 128,
  mapLength: 136,
  map: 138,
};
/** `fencedMember` when this member has fenced nobody. */
const NONE_FENCED = 0xffff;
const MAX_MAP_BYTES = MAX_SERVICES_LIMIT / 8;

export function emptyStatus(member: number): MemberStatus {
  return {
    member,
    state: MemberState.None,
    incarnation: 0,
    heartbeat: 0,
    wallClockMs: 0,
    nodeName: "",
    services: [],
    configView: 0,
  };
}

export function encodeStatus(s: MemberStatus): Buffer {
  const maxService = s.services.reduce((m, i) => Math.max(m, i), -1);
  if (maxService >= MAX_SERVICES_LIMIT) throw new RangeError(`service index ${maxService} is out of range`);
  const mapBytes = Math.ceil((maxService + 1) / 8);
  const buf = Buffer.alloc(F.map + mapBytes);
  buf.writeUInt16LE(s.member, F.member);
  buf.writeUInt8(s.state, F.state);
  writeU64(buf, F.incarnation, s.incarnation);
  writeU64(buf, F.heartbeat, s.heartbeat);
  writeWallClock(buf, F.wallClockMs, s.wallClockMs);
  writeName(buf, F.nodeName, NAME_BYTES, s.nodeName, "the node name");
  buf.writeUInt16LE(s.fenced?.member ?? NONE_FENCED, F.fencedMember);
  writeU64(buf, F.fencedIncarnation, s.fenced?.incarnation ?? 0);
  writeU64(buf, F.configView, s.configView);
  if (s.request !== undefined) {
    const q = s.request;
    buf.writeUInt16LE(q.to, F.requestTo);
    buf.writeUInt8(q.op, F.requestOp);
    buf.writeUInt16LE(q.service, F.requestService);
    buf.writeInt16LE(q.target, F.requestTarget);
    buf.writeUInt32LE(q.sequence, F.requestSequence);
    writeU64(buf, F.requestIncarnation, q.toIncarnation);
  }
  buf.writeUInt16LE(mapBytes, F.mapLength);
  for (const i of s.services) {
    const at = F.map + (i >> 3);
    buf.writeUInt8(buf.readUInt8(at) | (1 << (i & 7)), at);
  }
  return buf;
}

/** Every field is range-checked: a value no writer of this format produces is damage, reported
 * as such, never a number that makes a later step throw. */
export function decodeStatus(payload: Buffer): Decoded<MemberStatus> {
  if (payload.length < F.map) return { ok: false, problem: `status payload is only ${payload.length} bytes` };
  const lastMember = MAX_MEMBERS_LIMIT - 1;
  const member = fieldIn("member", payload.readUInt16LE(F.member), 0, lastMember);
  if (typeof member !== "number") return member;
  const state = payload.readUInt8(F.state);
  if (!(state in MemberState)) return { ok: false, problem: `unknown member state ${state}` };
  const incarnation = u64In(payload, F.incarnation, "incarnation");
  if (typeof incarnation !== "number") return incarnation;
  const heartbeat = u64In(payload, F.heartbeat, "heartbeat");
  if (typeof heartbeat !== "number") return heartbeat;
  const wallClockMs = wallClockIn(payload, F.wallClockMs, "wallClockMs");
  if (typeof wallClockMs !== "number") return wallClockMs;
  const configView = u64In(payload, F.configView, "configView");
  if (typeof configView !== "number") return configView;
  const nodeName = nameIn(payload, F.nodeName, NAME_BYTES, "nodeName");
  if (typeof nodeName !== "string") return nodeName;
  const mapBytes = payload.readUInt16LE(F.mapLength);
  if (mapBytes > MAX_MAP_BYTES || F.map + mapBytes !== payload.length) {
    return { ok: false, problem: `status block's service map length ${mapBytes} is inconsistent` };
  }
  const services: number[] = [];
  for (let byte = 0; byte < mapBytes; byte++) {
    const bits = payload[F.map + byte] ?? 0;
    if (bits === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) services.push(byte * 8 + bit);
  }
  const value: MemberStatus = {
    member,
    state,
    incarnation,
    heartbeat,
    wallClockMs,
    nodeName,
    services,
    configView,
  };
  const fencedMember = payload.readUInt16LE(F.fencedMember);
  if (fencedMember !== NONE_FENCED) {
    const fenced = fieldIn("fencedMember", fencedMember, 0, lastMember);
    if (typeof fenced !== "number") return fenced;
    const incarnation = u64In(payload, F.fencedIncarnation, "fencedIncarnation");
    if (typeof incarnation !== "number") return incarnation;
    value.fenced = { member: fenced, incarnation };
  }
  const op = payload.readUInt8(F.requestOp);
  if (op !== 0) {
    if (!(op in RequestOp)) return { ok: false, problem: `unknown service request ${op}` };
    const to = fieldIn("requestTo", payload.readUInt16LE(F.requestTo), 0, lastMember);
    if (typeof to !== "number") return to;
    const service = fieldIn(
      "requestService",
      payload.readUInt16LE(F.requestService),
      0,
      MAX_SERVICES_LIMIT - 1,
    );
    if (typeof service !== "number") return service;
    const target = fieldIn("requestTarget", payload.readInt16LE(F.requestTarget), -1, lastMember);
    if (typeof target !== "number") return target;
    const toIncarnation = u64In(payload, F.requestIncarnation, "requestIncarnation");
    if (typeof toIncarnation !== "number") return toIncarnation;
    // A sequence number: every value a u32 holds is one.
    value.request = {
      to,
      toIncarnation,
      sequence: payload.readUInt32LE(F.requestSequence),
      op,
      service,
      target,
    };
  }
  return { ok: true, value };
}
