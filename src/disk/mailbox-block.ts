// One per (recipient, sender) pair, written only by the sender: fence notices and admin requests.
import type { Decoded } from "./block.js";
import { fieldIn, u64In, wallClockIn, writeU64, writeWallClock } from "./fields.js";
import { MAX_MEMBERS_LIMIT } from "./format.js";

export enum MailKind {
  Empty = 0,
  /** "You were fenced in incarnation N": a member that reads this about itself stops at once. */
  Fenced = 1,
  AdminRequest = 2,
}

export interface Mail {
  to: number;
  from: number;
  kind: MailKind;
  /** Increases with every message from `from` to `to`, so a reader sees each one once. */
  sequence: number;
  /** The recipient's incarnation the message is about. */
  incarnation: number;
  wallClockMs: number;
  /** Kind-specific bytes, e.g. an encoded admin request. */
  argument: Buffer;
}

export const MAX_MAIL_ARGUMENT_BYTES = 256;
const F = { to: 0, from: 2, kind: 4, sequence: 8, incarnation: 16, wallClockMs: 24, argLength: 32, arg: 34 };

export function emptyMail(to: number, from: number): Mail {
  return {
    to,
    from,
    kind: MailKind.Empty,
    sequence: 0,
    incarnation: 0,
    wallClockMs: 0,
    argument: Buffer.alloc(0),
  };
}

export function encodeMail(m: Mail): Buffer {
  if (m.argument.length > MAX_MAIL_ARGUMENT_BYTES) {
    throw new RangeError(
      `a mailbox argument of ${m.argument.length} bytes exceeds ${MAX_MAIL_ARGUMENT_BYTES}`,
    );
  }
  const buf = Buffer.alloc(F.arg + m.argument.length);
  buf.writeUInt16LE(m.to, F.to);
  buf.writeUInt16LE(m.from, F.from);
  buf.writeUInt8(m.kind, F.kind);
  writeU64(buf, F.sequence, m.sequence);
  writeU64(buf, F.incarnation, m.incarnation);
  writeWallClock(buf, F.wallClockMs, m.wallClockMs);
  buf.writeUInt16LE(m.argument.length, F.argLength);
  m.argument.copy(buf, F.arg);
  return buf;
}

/** Every field is range-checked: a value no writer of this format produces is damage. */
export function decodeMail(payload: Buffer): Decoded<Mail> {
  if (payload.length < F.arg)
    return { ok: false, problem: `mailbox payload is only ${payload.length} bytes` };
  const to = fieldIn("to", payload.readUInt16LE(F.to), 0, MAX_MEMBERS_LIMIT - 1);
  if (typeof to !== "number") return to;
  const from = fieldIn("from", payload.readUInt16LE(F.from), 0, MAX_MEMBERS_LIMIT - 1);
  if (typeof from !== "number") return from;
  const kind = payload.readUInt8(F.kind);
  if (!(kind in MailKind)) return { ok: false, problem: `unknown mailbox message kind ${kind}` };
  const argLength = payload.readUInt16LE(F.argLength);
  if (argLength > MAX_MAIL_ARGUMENT_BYTES || F.arg + argLength !== payload.length) {
    return { ok: false, problem: `mailbox argument length ${argLength} is inconsistent` };
  }
  const sequence = u64In(payload, F.sequence, "sequence");
  if (typeof sequence !== "number") return sequence;
  const incarnation = u64In(payload, F.incarnation, "incarnation");
  if (typeof incarnation !== "number") return incarnation;
  const wallClockMs = wallClockIn(payload, F.wallClockMs, "wallClockMs");
  if (typeof wallClockMs !== "number") return wallClockMs;
  return {
    ok: true,
    value: {
      to,
      from,
      kind,
      sequence,
      incarnation,
      wallClockMs,
      argument: Buffer.from(payload.subarray(F.arg)),
    },
  };
}
