// One per member: that member's ticket in the disk lock (Lamport's bakery, src/disk/bakery-core.ts)
// that serialises fencing, service claims and configuration changes.
import type { Decoded } from "./block.js";
import { fieldIn, u64In, writeU64 } from "./fields.js";
import { MAX_MEMBERS_LIMIT } from "./format.js";

export interface LockSlot {
  member: number;
  /** The bakery's "choosing" flag: the member is picking a ticket number. */
  choosing: boolean;
  /** 0 = not queued. */
  ticket: number;
  incarnation: number;
  /** What the lock is wanted for (e.g. the member to fence), NO_TARGET when idle. */
  target: number;
  /**
   * Written by a tool (cluadmin) rather than by the member's daemon. A daemon's slot is free once
   * its life is DOWN; a tool's is not, since a tool runs while its member is down: only a newer
   * life of the member, or a fence of the life it names, frees it.
   */
  tool: boolean;
}

export const NO_TARGET = 0xffff;
const F = { member: 0, choosing: 2, ticket: 8, incarnation: 16, target: 24, tool: 26, end: 27 };

export function emptyLock(member: number): LockSlot {
  return { member, choosing: false, ticket: 0, incarnation: 0, target: NO_TARGET, tool: false };
}

export function encodeLock(l: LockSlot): Buffer {
  const buf = Buffer.alloc(F.end);
  buf.writeUInt16LE(l.member, F.member);
  buf.writeUInt8(l.choosing ? 1 : 0, F.choosing);
  writeU64(buf, F.ticket, l.ticket);
  writeU64(buf, F.incarnation, l.incarnation);
  buf.writeUInt16LE(l.target, F.target);
  buf.writeUInt8(l.tool ? 1 : 0, F.tool);
  return buf;
}

/** Every field is range-checked: a value no writer of this format produces is damage. */
export function decodeLock(payload: Buffer): Decoded<LockSlot> {
  if (payload.length !== F.end) return { ok: false, problem: `lock payload is ${payload.length} bytes` };
  const member = fieldIn("member", payload.readUInt16LE(F.member), 0, MAX_MEMBERS_LIMIT - 1);
  if (typeof member !== "number") return member;
  const choosing = payload.readUInt8(F.choosing);
  if (choosing > 1) return { ok: false, problem: `lock choosing flag ${choosing} is not 0 or 1` };
  const tool = payload.readUInt8(F.tool);
  if (tool > 1) return { ok: false, problem: `lock tool flag ${tool} is not 0 or 1` };
  const ticket = u64In(payload, F.ticket, "ticket");
  if (typeof ticket !== "number") return ticket;
  const incarnation = u64In(payload, F.incarnation, "incarnation");
  if (typeof incarnation !== "number") return incarnation;
  const rawTarget = payload.readUInt16LE(F.target);
  const target = rawTarget === NO_TARGET ? rawTarget : fieldIn("target", rawTarget, 0, MAX_MEMBERS_LIMIT - 1);
  if (typeof target !== "number") return target;
  return {
    ok: true,
    value: { member, choosing: choosing === 1, ticket, incarnation, target, tool: tool === 1 },
  };
}
