// The service manager's decisions for one member: pure, like the member core. It is told what
// the service blocks on the disk say, which members are eligible and which lives are fenced, and
// how each start, stop and check ended; it answers with actions.
//
// - A service changes hands only under the disk lock: the member re-reads its block there and
//   takes it only if its owner is gone (no owner, or a fenced life). Two members can never both
//   take it (invariant 1).
// - Every transition is written to the block before the resources are touched ("starting",
//   "stopping") and after ("running", "stopped"), so whoever takes over knows where it stopped.
//   The daemon runs an action's `after` only once its write reached both copies.
// - A failed stop leaves the service "failed" and owned here: nobody else may start it until this
//   life is fenced or an administrator clears it.
import { NO_OWNER, type ServiceRecord, ServiceState } from "../disk/service-block.js";
import {
  choosePlacement,
  type Fenced,
  isActive,
  type MemberInfo,
  needsHome,
  type ServiceSpec,
  wantsFailback,
} from "./placement.js";

export type ServiceObservation =
  | { kind: "tick"; nowMs: number; members: readonly MemberInfo[]; healthy: boolean; isFenced: Fenced }
  /** The service blocks as read from the disk; `epoch` is `ServiceCore.epoch` when the read began. */
  | { kind: "records"; records: readonly ServiceRecord[]; epoch: number }
  /** Under the disk lock this member asked for with `claim`: the block as it is now. */
  | { kind: "claim-read"; service: number; record: ServiceRecord }
  | { kind: "claim-failed"; service: number }
  /** `cleanedUp`: after a failed start, what had started was stopped again. */
  | { kind: "started"; service: number; ok: boolean; cleanedUp: boolean; detail: string; nowMs: number }
  | { kind: "stopped"; service: number; ok: boolean; detail: string; nowMs: number }
  | { kind: "checked"; service: number; ok: boolean; detail: string; nowMs: number }
  /** A transition's write settled: `ok` when both copies took it (and its `after` was done). */
  | { kind: "written"; service: number; ok: boolean; detail: string; record?: ServiceRecord }
  /** The member is leaving: stop everything it runs and take nothing new. */
  | { kind: "leave" };

export type ServiceAction =
  | { kind: "claim"; service: number }
  /** Write `record` to both copies; only then do `after`. */
  | { kind: "transition"; record: ServiceRecord; after: "start" | "stop" | "none" }
  | { kind: "check-service"; service: number }
  | { kind: "service-report"; service: number; message: string }
  /** The disk says another life owns a service this life runs: something broke a rule, and this
   * member must stop everything at once rather than run it twice. */
  | { kind: "conflict"; service: number; message: string };

/** Failback waits until the service has passed this many checks where it runs now. */
export const FAILBACK_STABLE_CHECKS = 5;
/** After a failed start here, this member waits before trying that service again: doubling. */
export const RETRY_BASE_MS = 2_000;
export const RETRY_MAX_MS = 60_000;

type StopReason =
  | "disable"
  | "failback"
  | "leave"
  | "restart"
  | "too-many-restarts"
  | "earlier-life"
  | "recover";

interface Local {
  op?: "claiming" | "starting" | "stopping" | "checking";
  stopReason?: StopReason;
  nextCheckMs: number;
  /** When its check failed, for the restart window. */
  failures: number[];
  /** Transitions written here and not yet on the disk: until they are, the disk's older copy
   * must not overwrite what this member knows it did. */
  pending: number;
  /** The record before the transition in flight, restored if its write fails. */
  before?: ServiceRecord;
  /** `epoch` when this service's last write settled: a read begun before then may predate it. */
  settledEpoch: number;
  /** When it last became running here, for failback's patience. */
  runningSinceMs: number;
  /** Failed starts here in a row, and when this member may try again. */
  failedStarts: number;
  retryAfterMs: number;
}

export interface ServiceCoreConfig {
  me: number;
  incarnation: number;
  services: readonly ServiceSpec[];
}

export class ServiceCore {
  private readonly records = new Map<number, ServiceRecord>();
  private readonly local = new Map<number, Local>();
  private members: readonly MemberInfo[] = [];
  private healthy = false;
  private isFenced: Fenced = () => false;
  private leaving = false;
  private nowMs = 0;
  private writesSettled = 0;

  constructor(private readonly config: ServiceCoreConfig) {
    for (const s of config.services)
      this.local.set(s.id, {
        nextCheckMs: 0,
        failures: [],
        pending: 0,
        settledEpoch: 0,
        runningSinceMs: 0,
        failedStarts: 0,
        retryAfterMs: 0,
      });
  }

  /** Grows each time a write settles: stamp each read with it when the read begins. */
  get epoch(): number {
    return this.writesSettled;
  }

  /** Nothing under way, and everything of this life stopped but services that failed to stop. */
  get idleButFailed(): boolean {
    for (const [id, l] of this.local) {
      if (l.op !== undefined || l.pending > 0) return false;
      const r = this.records.get(id);
      if (r !== undefined && this.mine(r) && isActive(r.state)) return false;
    }
    return true;
  }

  /** This life's services that failed to stop: a leaving member cannot hand them on cleanly. */
  get failedHere(): string[] {
    return this.config.services
      .filter((s) => {
        const r = this.records.get(s.id);
        return r !== undefined && this.mine(r) && r.state === ServiceState.Failed;
      })
      .map((s) => s.name);
  }

  /** Nothing of this member's is running or under way: a leaving member may mark itself DOWN. */
  get idle(): boolean {
    for (const [id, l] of this.local) {
      if (l.op !== undefined || l.pending > 0) return false;
      const r = this.records.get(id);
      if (
        r !== undefined &&
        this.mine(r) &&
        r.state !== ServiceState.Stopped &&
        r.state !== ServiceState.Disabled
      )
        return false;
    }
    return true;
  }

  record(service: number): ServiceRecord | undefined {
    return this.records.get(service);
  }

  step(o: ServiceObservation): ServiceAction[] {
    switch (o.kind) {
      case "tick":
        this.nowMs = o.nowMs;
        this.members = o.members;
        this.healthy = o.healthy;
        this.isFenced = o.isFenced;
        return this.tick();
      case "records": {
        const out: ServiceAction[] = [];
        for (const r of o.records) {
          // Our own transitions win over a read that may predate them: one still in flight, or
          // one that settled after this read began.
          const l = this.local.get(r.index);
          if (l === undefined || l.pending > 0 || (l.op !== undefined && l.op !== "claiming")) continue;
          if (l.settledEpoch > o.epoch) continue;
          const known = this.records.get(r.index);
          if (
            known !== undefined &&
            this.mine(known) &&
            known.state !== ServiceState.Stopped &&
            known.state !== ServiceState.Disabled &&
            !this.mine(r)
          ) {
            out.push({
              kind: "conflict",
              service: r.index,
              message: `the disk says ${r.owner === NO_OWNER ? "nobody" : `member ${r.owner} (incarnation ${r.ownerIncarnation})`} owns ${known.name}, which this member runs`,
            });
          }
          this.records.set(r.index, r);
        }
        return out;
      }
      case "claim-read":
        return this.claimRead(o.service, o.record);
      case "claim-failed":
        this.at(o.service).op = undefined;
        return [];
      case "started":
        this.nowMs = o.nowMs;
        return this.started(o.service, o.ok, o.cleanedUp, o.detail);
      case "stopped":
        this.nowMs = o.nowMs;
        return this.stopped(o.service, o.ok, o.detail);
      case "checked":
        this.nowMs = o.nowMs;
        return this.checked(o.service, o.ok, o.detail);
      case "written": {
        const l = this.at(o.service);
        if (l.pending === 0)
          throw new Error(`a write settled for service ${o.service} that was never asked for`);
        l.pending--;
        this.writesSettled++;
        l.settledEpoch = this.writesSettled;
        if (o.ok) {
          // As written, with the wall-clock time the daemon stamped for people.
          if (o.record !== undefined && l.pending === 0) this.records.set(o.service, o.record);
          return [];
        }
        // Its `after` was not done: nothing was started or stopped. What this member knew before
        // stands; if the write landed on one copy only, the next read shows it and the service is
        // recovered (stopped and released) from there. A member that cannot write stops anyway.
        if (l.before !== undefined) this.records.set(o.service, l.before);
        l.op = undefined;
        l.stopReason = undefined;
        return [
          {
            kind: "service-report",
            service: o.service,
            message: `${this.spec(o.service).name}: could not record a transition (${o.detail}); nothing was done`,
          },
        ];
      }
      case "leave":
        this.leaving = true;
        return this.tick();
    }
  }

  private at(service: number): Local {
    const l = this.local.get(service);
    if (l === undefined) throw new Error(`service ${service} is not configured`);
    return l;
  }

  private spec(service: number): ServiceSpec {
    const s = this.config.services.find((x) => x.id === service);
    if (s === undefined) throw new Error(`service ${service} is not configured`);
    return s;
  }

  /** Owned by this life of this member. */
  private mine(r: ServiceRecord): boolean {
    return r.owner === this.config.me && r.ownerIncarnation === this.config.incarnation;
  }

  private tick(): ServiceAction[] {
    const out: ServiceAction[] = [];
    for (const spec of this.config.services) {
      const l = this.at(spec.id);
      const r = this.records.get(spec.id);
      if (r === undefined || l.op !== undefined || l.pending > 0) continue;
      if (this.mine(r)) {
        if (r.state === ServiceState.Starting || r.state === ServiceState.Stopping) {
          // Half done with nothing under way: a transition whose write failed part way. Stop
          // whatever may have started, and release it.
          out.push(...this.beginStop(spec.id, "recover"));
          continue;
        }
        if (r.state !== ServiceState.Running) continue;
        const settled = this.nowMs - l.runningSinceMs >= FAILBACK_STABLE_CHECKS * spec.checkIntervalMs;
        if (this.leaving) out.push(...this.beginStop(spec.id, "leave"));
        else if (spec.disabled) out.push(...this.beginStop(spec.id, "disable"));
        else if (spec.preferred !== this.config.me && settled && wantsFailback(spec, r, this.members))
          out.push(...this.beginStop(spec.id, "failback"));
        else if (this.nowMs >= l.nextCheckMs) {
          l.op = "checking";
          out.push({ kind: "check-service", service: spec.id });
        }
        continue;
      }
      if (!this.healthy) continue;
      const earlierLife = r.owner === this.config.me;
      // Even a leaving member cleans up after its earlier life: nobody else can.
      if (this.leaving && !earlierLife) continue;
      if (needsSettling(spec, r)) {
        // A block never written (a new service) or whose enabled/disabled setting changed in the
        // configuration: whoever gets the lock first records it.
        l.op = "claiming";
        out.push({ kind: "claim", service: spec.id });
      } else if (earlierLife) {
        // An earlier life of this member left it. Its resources may still run on this machine,
        // so they are stopped here (under the lock: peers may have fenced that life and want it).
        l.op = "claiming";
        out.push({ kind: "claim", service: spec.id });
      } else if (needsHome(spec, r, this.isFenced) && this.nowMs >= l.retryAfterMs) {
        const target = choosePlacement(spec, r, this.members, [...this.records.values()], this.isFenced);
        if (target === this.config.me) {
          l.op = "claiming";
          out.push({ kind: "claim", service: spec.id });
        }
      }
    }
    return out;
  }

  private transition(
    record: ServiceRecord,
    state: ServiceState,
    after: "start" | "stop" | "none",
    changes: Partial<ServiceRecord> = {},
  ): ServiceAction {
    const next: ServiceRecord = { ...record, ...changes, state, transitionWallMs: 0 };
    const l = this.at(next.index);
    l.before = this.records.get(next.index);
    this.records.set(next.index, next);
    l.pending++;
    return { kind: "transition", record: next, after };
  }

  private claimRead(service: number, fresh: ServiceRecord): ServiceAction[] {
    const l = this.at(service);
    if (l.op !== "claiming")
      throw new Error(`claim-read for service ${service}, which was not being claimed`);
    l.op = undefined;
    this.records.set(service, fresh);
    const spec = this.spec(service);
    const ours = { owner: this.config.me, ownerIncarnation: this.config.incarnation };
    if (fresh.owner === this.config.me && fresh.ownerIncarnation !== this.config.incarnation) {
      l.op = "stopping";
      l.stopReason = "earlier-life";
      return [this.transition(fresh, ServiceState.Stopping, "stop", ours)];
    }
    if (needsSettling(spec, fresh)) {
      const state = spec.disabled ? ServiceState.Disabled : ServiceState.Stopped;
      return [
        this.transition(fresh, state, "none", { name: spec.name, owner: NO_OWNER, ownerIncarnation: 0 }),
      ];
    }
    if (!this.healthy || this.leaving || !needsHome(spec, fresh, this.isFenced)) return [];
    if (this.nowMs < l.retryAfterMs) return [];
    // Placement again, on the block as it is now: a claim made to settle a block, or on a view
    // that has since changed, must not take a service meant for another member.
    if (
      choosePlacement(spec, fresh, this.members, [...this.records.values()], this.isFenced) !== this.config.me
    )
      return [];
    l.op = "starting";
    const lastOwner = fresh.owner !== NO_OWNER ? fresh.owner : fresh.lastOwner;
    return [this.transition(fresh, ServiceState.Starting, "start", { ...ours, lastOwner, name: spec.name })];
  }

  private beginStop(service: number, reason: StopReason): ServiceAction[] {
    const l = this.at(service);
    const r = this.records.get(service);
    if (r === undefined) throw new Error(`service ${service} has no record`);
    l.op = "stopping";
    l.stopReason = reason;
    return [this.transition(r, ServiceState.Stopping, "stop")];
  }

  private started(service: number, ok: boolean, cleanedUp: boolean, detail: string): ServiceAction[] {
    const l = this.at(service);
    if (l.op !== "starting") throw new Error(`a start result for service ${service}, which was not starting`);
    l.op = undefined;
    const r = this.records.get(service) as ServiceRecord;
    const name = this.spec(service).name;
    if (ok) {
      l.nextCheckMs = this.nowMs + this.spec(service).checkIntervalMs;
      l.runningSinceMs = this.nowMs;
      l.failedStarts = 0;
      return [this.transition(r, ServiceState.Running, "none")];
    }
    l.failedStarts++;
    l.retryAfterMs = this.nowMs + Math.min(RETRY_BASE_MS * 2 ** (l.failedStarts - 1), RETRY_MAX_MS);
    if (cleanedUp) {
      // Another member may manage where this one could not.
      return [
        this.transition(r, ServiceState.Stopped, "none", {
          owner: NO_OWNER,
          ownerIncarnation: 0,
          lastOwner: this.config.me,
        }),
        {
          kind: "service-report",
          service,
          message: `${name} failed to start here (${detail}); another member may take it`,
        },
      ];
    }
    return this.failedStop(
      service,
      r,
      `${name} failed to start and what had started could not be stopped (${detail})`,
    );
  }

  private stopped(service: number, ok: boolean, detail: string): ServiceAction[] {
    const l = this.at(service);
    if (l.op !== "stopping") throw new Error(`a stop result for service ${service}, which was not stopping`);
    const reason = l.stopReason;
    l.op = undefined;
    l.stopReason = undefined;
    const r = this.records.get(service) as ServiceRecord;
    const name = this.spec(service).name;
    if (!ok) return this.failedStop(service, r, `${name} failed to stop (${detail})`);
    if (reason === "restart" && !this.leaving) {
      l.op = "starting";
      return [this.transition(r, ServiceState.Starting, "start", { restarts: r.restarts + 1 })];
    }
    const released = { owner: NO_OWNER, ownerIncarnation: 0, lastOwner: this.config.me };
    const out: ServiceAction[] = [
      this.transition(
        r,
        reason === "disable" ? ServiceState.Disabled : ServiceState.Stopped,
        "none",
        released,
      ),
    ];
    if (reason === "too-many-restarts")
      out.push({
        kind: "service-report",
        service,
        message: `${name} kept failing its check here; it moves to another member`,
      });
    return out;
  }

  private failedStop(service: number, r: ServiceRecord, message: string): ServiceAction[] {
    return [
      this.transition(r, ServiceState.Failed, "none"),
      {
        kind: "service-report",
        service,
        message: `${message}; it stays here, marked failed, and is not started elsewhere until this member is fenced or an administrator clears it`,
      },
    ];
  }

  private checked(service: number, ok: boolean, detail: string): ServiceAction[] {
    const l = this.at(service);
    if (l.op !== "checking")
      throw new Error(`a check result for service ${service}, which was not being checked`);
    l.op = undefined;
    const spec = this.spec(service);
    if (ok) {
      l.nextCheckMs = this.nowMs + spec.checkIntervalMs;
      return [];
    }
    l.failures = l.failures.filter((t) => this.nowMs - t <= spec.restartWindowMs);
    const report: ServiceAction = {
      kind: "service-report",
      service,
      message: `${spec.name} failed its check (${detail})`,
    };
    if (l.failures.length >= spec.maxRestarts) {
      l.failures = [];
      return [report, ...this.beginStop(service, "too-many-restarts")];
    }
    l.failures.push(this.nowMs);
    return [report, ...this.beginStop(service, "restart")];
  }
}

/**
 * The block disagrees with the configuration in a way any member may settle: it was never
 * written, or the service is enabled or disabled in the configuration while nobody runs it.
 */
function needsSettling(spec: ServiceSpec, r: ServiceRecord): boolean {
  if (r.state === ServiceState.Unused) return true;
  if (r.owner !== NO_OWNER) return false;
  return spec.disabled ? r.state === ServiceState.Stopped : r.state === ServiceState.Disabled;
}
