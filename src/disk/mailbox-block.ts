// One per (recipient, sender) pair, written only by the sender: fence notices and admin requests.
import type { Decoded } from "./block.js";
import { readU64, writeU64 } from "./fields.js";

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
  writeU64(buf, F.wallClockMs, m.wallClockMs);
  buf.writeUInt16LE(m.argument.length, F.argLength);
  m.argument.copy(buf, F.arg);
  return buf;
}

export function decodeMail(payload: Buffer): Decoded<Mail> {
  if (payload.length < F.arg)
    return { ok: false, problem: `mailbox payload is only ${payload.length} bytes` };
  const kind = payload.readUInt8(F.kind);
  if (!(kind in MailKind)) return { ok: false, problem: `unknown mailbox message kind ${kind}` };
  const argLength = payload.readUInt16LE(F.argLength);
  if (argLength > MAX_MAIL_ARGUMENT_BYTES || F.arg + argLength !== payload.length) {
    return { ok: false, problem: `mailbox argument length ${argLength} is inconsistent` };
  }
  const sequence = readU64(payload, F.sequence);
  const incarnation = readU64(payload, F.incarnation);
  const wallClockMs = readU64(payload, F.wallClockMs);
  if (sequence === undefined || incarnation === undefined || wallClockMs === undefined) {
    return { ok: false, problem: "mailbox block has a damaged field" };
  }
  return {
    ok: true,
    value: {
      to: payload.readUInt16LE(F.to),
      from: payload.readUInt16LE(F.from),
      kind,
      sequence,
      incarnation,
      wallClockMs,
      argument: Buffer.from(payload.subarray(F.arg)),
    },
  };
}
