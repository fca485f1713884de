// Where a service should run, and whether a member may take it: pure functions over the service
// blocks as read from the disk and this member's view of its peers.
//
// The one rule that matters most (invariant 1): a service owned by a life that is not confirmed
// dead belongs to that life, whatever else is known. Only an owner with no life left (fenced, or
// no owner at all) frees a service for someone else.
import { NO_OWNER, type ServiceRecord, ServiceState } from "../disk/service-block.js";

export interface ServiceSpec {
  id: number;
  name: string;
  /** Member id of the preferred member, if any. */
  preferred?: number;
  failback: boolean;
  /** The state a new service is recorded in; afterwards the disk says, as cluadmin changes it. */
  disabled: boolean;
  checkIntervalMs: number;
  maxRestarts: number;
  restartWindowMs: number;
}

export interface MemberInfo {
  id: number;
  /** Up and healthy enough to run services (this member: healthy; a peer: its heartbeat moves). */
  eligible: boolean;
  /** The configuration view it runs (from its status block; this member: its own). */
  view: number;
}

export type Fenced = (member: number, incarnation: number) => boolean;

/** Whether nobody can be running this service now: no owner, or an owner whose life is over. */
export function ownerGone(record: ServiceRecord, isFenced: Fenced): boolean {
  return record.owner === NO_OWNER || isFenced(record.owner, record.ownerIncarnation);
}

/** States in which an owner counts the service as its load. */
export function isActive(state: ServiceState): boolean {
  return state === ServiceState.Starting || state === ServiceState.Running || state === ServiceState.Stopping;
}

/**
 * Whether the service is waiting for a member to start it: enabled, and either stopped with no
 * owner, or left behind by an owner that was fenced (whatever state that owner wrote last, a
 * failed stop included: the power cycle ended it).
 */
export function needsHome(record: ServiceRecord, isFenced: Fenced): boolean {
  if (record.state === ServiceState.Disabled || record.state === ServiceState.Unused) return false;
  if (record.owner === NO_OWNER) return record.state === ServiceState.Stopped;
  return isFenced(record.owner, record.ownerIncarnation);
}

/**
 * The member that should start it: the member an administrator relocated it to, when eligible;
 * else the preferred member when eligible; else the eligible member running the fewest services
 * (ties to the lowest id). A member that just gave the service up (lastOwner: after too many
 * restarts, a failed start or a relocation) is chosen only if no other can.
 */
export function choosePlacement(
  spec: ServiceSpec,
  record: ServiceRecord,
  members: readonly MemberInfo[],
  records: readonly ServiceRecord[],
  isFenced: Fenced,
): number | undefined {
  const eligible = members.filter((m) => m.eligible);
  if (eligible.length === 0) return undefined;
  if (record.owner === NO_OWNER && record.adminTarget >= 0) {
    if (eligible.some((m) => m.id === record.adminTarget)) return record.adminTarget;
  }
  if (spec.preferred !== undefined && record.lastOwner !== spec.preferred) {
    if (eligible.some((m) => m.id === spec.preferred)) return spec.preferred;
  }
  const load = new Map<number, number>();
  for (const r of records) {
    if (r.owner !== NO_OWNER && isActive(r.state) && !isFenced(r.owner, r.ownerIncarnation))
      load.set(r.owner, (load.get(r.owner) ?? 0) + 1);
  }
  const others = eligible.filter((m) => m.id !== record.lastOwner);
  const pool = others.length > 0 ? others : eligible;
  let best: MemberInfo | undefined;
  for (const m of pool) {
    if (best === undefined) best = m;
    else {
      const a = load.get(m.id) ?? 0;
      const b = load.get(best.id) ?? 0;
      if (a < b || (a === b && m.id < best.id)) best = m;
    }
  }
  return best?.id;
}

/**
 * Failback: the service runs elsewhere and its preferred member is eligible again, unless an
 * administrator put it where it runs.
 */
export function wantsFailback(
  spec: ServiceSpec,
  record: ServiceRecord,
  members: readonly MemberInfo[],
): boolean {
  return (
    spec.failback &&
    spec.preferred !== undefined &&
    record.state === ServiceState.Running &&
    record.owner !== spec.preferred &&
    record.adminTarget !== record.owner &&
    members.some((m) => m.id === spec.preferred && m.eligible)
  );
}
