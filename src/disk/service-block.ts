// One per service: its state and owner, written before and after every transition, so a member
// taking over knows where the failed owner stopped.
import type { Decoded } from "./block.js";
import { fieldIn, nameIn, u64In, wallClockIn, writeName, writeU64, writeWallClock } from "./fields.js";
import { MAX_MEMBERS_LIMIT, MAX_SERVICES_LIMIT, NAME_BYTES } from "./format.js";

export enum ServiceState {
  /** The slot holds no service. */
  Unused = 0,
  Disabled = 1,
  Stopped = 2,
  Starting = 3,
  Running = 4,
  Stopping = 5,
  Failed = 6,
}

export const NO_OWNER = -1;
/** `adminTarget`: no administrator's placement stands. */
export const NO_TARGET = -1;
/** `adminTarget`: an administrator moved the service away from `lastOwner`, to any other member. */
export const ANY_OTHER = -2;

export interface ServiceRecord {
  index: number;
  name: string;
  state: ServiceState;
  owner: number;
  /** The owner's incarnation when it took the service: its takeover waits for that life to be
   * fenced, and a later life of the same member does not own it. */
  ownerIncarnation: number;
  lastOwner: number;
  restarts: number;
  /**
   * Where an administrator asked the service to run: set by `service relocate` when the owner
   * lets it go (a member id, or ANY_OTHER), then kept as the member that took it, so failback
   * does not undo the move. NO_TARGET otherwise.
   */
  adminTarget: number;
  /** Wall-clock time of the last transition, for people only. */
  transitionWallMs: number;
}

const F = {
  index: 0,
  state: 2,
  owner: 4,
  lastOwner: 6,
  restarts: 8,
  adminTarget: 12,
  transitionWallMs: 16,
  ownerIncarnation: 24,
  name: 32,
};
export const SERVICE_PAYLOAD_BYTES = F.name + NAME_BYTES;

export function emptyService(index: number): ServiceRecord {
  return {
    index,
    name: "",
    state: ServiceState.Unused,
    owner: NO_OWNER,
    ownerIncarnation: 0,
    lastOwner: NO_OWNER,
    restarts: 0,
    adminTarget: NO_TARGET,
    transitionWallMs: 0,
  };
}

export function encodeService(s: ServiceRecord): Buffer {
  const buf = Buffer.alloc(SERVICE_PAYLOAD_BYTES);
  buf.writeUInt16LE(s.index, F.index);
  buf.writeUInt8(s.state, F.state);
  buf.writeInt16LE(s.owner, F.owner);
  buf.writeInt16LE(s.lastOwner, F.lastOwner);
  buf.writeUInt32LE(s.restarts, F.restarts);
  buf.writeInt16LE(s.adminTarget, F.adminTarget);
  writeWallClock(buf, F.transitionWallMs, s.transitionWallMs);
  writeU64(buf, F.ownerIncarnation, s.ownerIncarnation);
  writeName(buf, F.name, NAME_BYTES, s.name, "the service name");
  return buf;
}

/** Every field is range-checked: a value no writer of this format produces is damage, reported
 * as such, never a number that makes a later step throw. */
export function decodeService(payload: Buffer): Decoded<ServiceRecord> {
  if (payload.length !== SERVICE_PAYLOAD_BYTES) {
    return { ok: false, problem: `service payload is ${payload.length} bytes` };
  }
  const index = fieldIn("index", payload.readUInt16LE(F.index), 0, MAX_SERVICES_LIMIT - 1);
  if (typeof index !== "number") return index;
  const state = payload.readUInt8(F.state);
  if (!(state in ServiceState)) return { ok: false, problem: `unknown service state ${state}` };
  const lastMember = MAX_MEMBERS_LIMIT - 1;
  const owner = fieldIn("owner", payload.readInt16LE(F.owner), NO_OWNER, lastMember);
  if (typeof owner !== "number") return owner;
  const lastOwner = fieldIn("lastOwner", payload.readInt16LE(F.lastOwner), NO_OWNER, lastMember);
  if (typeof lastOwner !== "number") return lastOwner;
  const adminTarget = fieldIn("adminTarget", payload.readInt16LE(F.adminTarget), ANY_OTHER, lastMember);
  if (typeof adminTarget !== "number") return adminTarget;
  const transitionWallMs = wallClockIn(payload, F.transitionWallMs, "transitionWallMs");
  if (typeof transitionWallMs !== "number") return transitionWallMs;
  const ownerIncarnation = u64In(payload, F.ownerIncarnation, "ownerIncarnation");
  if (typeof ownerIncarnation !== "number") return ownerIncarnation;
  const name = nameIn(payload, F.name, NAME_BYTES, "name");
  if (typeof name !== "string") return name;
  return {
    ok: true,
    value: {
      index,
      name,
      state,
      owner,
      ownerIncarnation,
      lastOwner,
      // A count: every value a u32 holds is one.
      restarts: payload.readUInt32LE(F.restarts),
      adminTarget,
      transitionWallMs,
    },
  };
}
