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
// - An administrator's request (enable, disable, relocate, restart) is carried out by the owner,
//   which alone may touch the resources; a service nobody runs is changed under the disk lock by
//   whichever member was asked.
import { ANY_OTHER, NO_OWNER, NO_TARGET, type ServiceRecord, ServiceState } from "../disk/service-block.js";
import { serviceStateName } from "../services/state-names.js";
import { doublingWait } from "./backoff.js";
import {
  choosePlacement,
  type Fenced,
  isActive,
  type MemberInfo,
  needsHome,
  ownerGone,
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
  /**
   * A transition's write settled: `ok` when both copies took it (and its `after` was done). When
   * it failed, `onDisk` is the block as read back from the disk (what every reader now sees: the
   * write may have reached the primary only); without it, the block could not be read either.
   */
  | {
      kind: "written";
      service: number;
      ok: boolean;
      detail: string;
      record?: ServiceRecord;
      onDisk?: ServiceRecord;
    }
  /** The member is leaving: stop everything it runs and take nothing new. */
  | { kind: "leave" };

export type AdminOp = "enable" | "disable" | "relocate" | "restart";

export interface AdminRequest {
  op: AdminOp;
  service: number;
  /** Relocate: the member asked for; without it, any member but the owner. */
  target?: number;
}

/** What `ask` answers at once; the outcome shows later in the service's block. */
export interface AskAnswer {
  ok: boolean;
  message: string;
  actions: ServiceAction[];
}

export type ServiceAction =
  | { kind: "claim"; service: number }
  /** Write `record` to both copies; only then do `after`. */
  | { kind: "transition"; record: ServiceRecord; after: "start" | "stop" | "none" }
  | { kind: "check-service"; service: number }
  | { kind: "service-report"; service: number; message: string }
  /** The disk says another life owns a service this life runs: something broke a rule, and this
   * member must stop everything at once rather than run it twice. */
  | { kind: "conflict"; service: number; message: string }
  /** The service's owner is another live member: it must carry out the request. */
  | { kind: "forward"; to: number; incarnation: number; request: AdminRequest };

/** Marks the transitions decided on a block read under the disk lock. */
const UNDER_LOCK = true;

/** After a claim that did not get the disk lock, the next waits this long, doubling up to the max. */
export const CLAIM_RETRY_BASE_MS = 250;
export const CLAIM_RETRY_MAX_MS = 8_000;
/** Failback waits until the service has passed this many checks where it runs now. */
export const FAILBACK_STABLE_CHECKS = 5;
/** After a failed start here, this member waits before trying that service again: doubling. */
export const RETRY_BASE_MS = 2_000;
export const RETRY_MAX_MS = 60_000;

type StopReason =
  | "disable"
  | "relocate"
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
  /** A write failed and the block could not be read back: nothing of this service is written
   * outside the lock until a read shows what the disk holds. */
  unknown: boolean;
  /** That write was a claim's Starting, over a record this member did not hold: nothing was
   * started, so a read showing another owner (or none) is no conflict. */
  unknownClaim: boolean;
  /** `epoch` when this service's last write settled: a read begun before then may predate it. */
  settledEpoch: number;
  /** When it last became running here, for failback's patience. */
  runningSinceMs: number;
  /** Failed starts here in a row, and when this member may try again. */
  failedStarts: number;
  retryAfterMs: number;
  /** Claims that did not get the lock in a row (a bad disk, a long fence), and when to ask again. */
  failedClaims: number;
  claimAgainMs: number;
  /** An administrator's request waiting until nothing else is under way for this service. */
  request?: AdminRequest;
  /** Where a relocation under way sends the service (a member id, or ANY_OTHER). */
  relocateTo?: number;
}

export interface ServiceCoreConfig {
  me: number;
  incarnation: number;
  services: readonly ServiceSpec[];
  /** Members' names by id, for the answers administrators read. */
  names?: readonly string[];
  /** The configuration view this member runs. */
  view: number;
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
        // Whatever the member's clock reads, even below zero: nothing is waited for yet.
        nextCheckMs: Number.NEGATIVE_INFINITY,
        failures: [],
        pending: 0,
        unknown: false,
        unknownClaim: false,
        settledEpoch: 0,
        runningSinceMs: 0,
        failedStarts: 0,
        retryAfterMs: Number.NEGATIVE_INFINITY,
        failedClaims: 0,
        claimAgainMs: Number.NEGATIVE_INFINITY,
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

  /**
   * An administrator's request, asked of this member directly (`viaPeer` false) or passed on by
   * the member that was asked (`viaPeer` true: this member was taken to be the owner). The answer
   * says at once whether it was taken on; the outcome shows later in the service's block.
   */
  ask(req: AdminRequest, viaPeer = false): AskAnswer {
    const spec = this.spec(req.service);
    const l = this.at(req.service);
    const r = this.records.get(req.service);
    const answer = (ok: boolean, message: string, actions: ServiceAction[] = []): AskAnswer => ({
      ok,
      message: `${spec.name}: ${message}`,
      actions,
    });
    const who = (id: number) => this.config.names?.[id] ?? `member ${id}`;
    const up = (id: number) => this.members.some((m) => m.id === id && m.eligible);
    if (r === undefined || r.state === ServiceState.Unused)
      return answer(false, "its block has not been read or recorded yet; ask again in a moment");
    if (this.leaving) return answer(false, "this member is stopping; ask another member");
    if (l.request !== undefined)
      return answer(false, `a ${l.request.op} of it is still waiting here; ask again once it is done`);
    const state = serviceStateName(r.state);
    const running = r.state === ServiceState.Running;
    if (req.op === "relocate") {
      if (req.target !== undefined) {
        if (req.target === r.owner && isActive(r.state))
          return answer(true, `already runs on ${who(req.target)}`);
        if (!up(req.target)) return answer(false, `${who(req.target)} is not up to take it`);
      } else if (!this.members.some((m) => m.eligible && m.id !== r.owner))
        return answer(false, "no other member is up to take it");
    }
    if (this.mine(r)) {
      if (req.op === "enable")
        return r.state === ServiceState.Failed
          ? answer(false, "failed to stop here; disable it first, which tries the stop again")
          : answer(true, "already enabled; it runs here");
      if ((req.op === "restart" || req.op === "relocate") && !running && l.op !== "starting")
        return answer(false, `is ${state} here, not running; nothing to ${req.op}`);
      l.request = req;
      return answer(true, `${req.op} under way on this member`);
    }
    if (viaPeer) return answer(false, "does not run on this member (any more); nothing done");
    if (!ownerGone(r, this.isFenced)) {
      if (req.op === "enable") return answer(true, `already enabled; ${who(r.owner)} has it`);
      if (r.owner === this.config.me)
        return answer(
          false,
          "an earlier life of this member left it, and it is being cleaned up here; ask again in a moment",
        );
      if (!up(r.owner))
        return answer(
          false,
          `${who(r.owner)}, which has it, is not up; once it is fenced the service starts elsewhere`,
        );
      if (r.state === ServiceState.Failed && req.op !== "disable")
        return answer(false, `failed to stop on ${who(r.owner)}; disable it first`);
      return answer(true, `asked ${who(r.owner)}, which has it`, [
        { kind: "forward", to: r.owner, incarnation: r.ownerIncarnation, request: req },
      ]);
    }
    // Nobody runs it: this member changes the block under the lock.
    const disabled = r.state === ServiceState.Disabled;
    switch (req.op) {
      case "enable":
        if (!disabled) return answer(true, "already enabled; it starts when a member can take it");
        break;
      case "disable":
        if (disabled) return answer(true, "already disabled");
        break;
      case "restart":
        return answer(false, `is ${state}, not running; nothing to restart`);
      case "relocate":
        if (disabled) return answer(false, "is disabled; enable it first");
        if (req.target === undefined)
          return answer(false, `is ${state}, not running; name a member to start it there`);
        break;
    }
    l.request = req;
    return answer(true, `${req.op} under way`);
  }

  /** A request for a service this life owns, when nothing else is under way for it. */
  private requestHere(spec: ServiceSpec, r: ServiceRecord, l: Local, req: AdminRequest): ServiceAction[] {
    const report = (message: string): ServiceAction[] => [
      { kind: "service-report", service: spec.id, message: `${spec.name}: ${message}` },
    ];
    const running = r.state === ServiceState.Running;
    switch (req.op) {
      case "enable":
        return [];
      case "disable":
        // A service that failed to stop is stopped again: this is how an administrator clears it.
        return running || r.state === ServiceState.Failed
          ? this.beginStop(spec.id, "disable")
          : report(`not disabled: it is ${serviceStateName(r.state)} here`);
      case "restart":
        if (!running) return report("not restarted: it is not running here");
        if (this.viewsDiffer()) return report(`not restarted: ${this.viewsNote()}`);
        return this.beginStop(spec.id, "restart");
      case "relocate":
        if (!running) return report("not relocated: it is not running here");
        if (this.viewsDiffer()) return report(`not relocated: ${this.viewsNote()}`);
        l.relocateTo = req.target ?? ANY_OTHER;
        return this.beginStop(spec.id, "relocate");
    }
  }

  /** A request for a service nobody runs, on its block as read under the lock. */
  private requestOnFree(spec: ServiceSpec, fresh: ServiceRecord, req: AdminRequest): ServiceAction[] {
    if (!ownerGone(fresh, this.isFenced))
      return [
        {
          kind: "service-report",
          service: spec.id,
          message: `${spec.name}: ${this.config.names?.[fresh.owner] ?? `member ${fresh.owner}`} took it while the ${req.op} waited; nothing done, ask again`,
        },
      ];
    const free = {
      owner: NO_OWNER,
      ownerIncarnation: 0,
      lastOwner: fresh.owner !== NO_OWNER ? fresh.owner : fresh.lastOwner,
      adminTarget: NO_TARGET,
    };
    if (req.op === "enable" && fresh.state === ServiceState.Disabled)
      // Placed afresh: whoever disabled it did not give it up for failing.
      return [
        this.transition(fresh, ServiceState.Stopped, "none", { ...free, lastOwner: NO_OWNER }, UNDER_LOCK),
      ];
    if (req.op === "disable" && fresh.state !== ServiceState.Disabled)
      return [this.transition(fresh, ServiceState.Disabled, "none", free, UNDER_LOCK)];
    if (req.op === "relocate" && req.target !== undefined && needsHome(fresh, this.isFenced))
      return [
        this.transition(
          fresh,
          ServiceState.Stopped,
          "none",
          { ...free, adminTarget: req.target },
          UNDER_LOCK,
        ),
      ];
    return [];
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
            !this.mine(r) &&
            !(l.unknown && l.unknownClaim)
          ) {
            out.push({
              kind: "conflict",
              service: r.index,
              message: `the disk says ${r.owner === NO_OWNER ? "nobody" : `member ${r.owner} (incarnation ${r.ownerIncarnation})`} owns ${known.name}, which this member runs`,
            });
          }
          this.records.set(r.index, r);
          l.unknown = false;
          l.unknownClaim = false;
        }
        return out;
      }
      case "claim-read":
        return this.claimRead(o.service, o.record);
      case "claim-failed": {
        // Asked again later, doubling: a lock that cannot be had now seldom can a tick later.
        const l = this.at(o.service);
        l.op = undefined;
        l.failedClaims++;
        l.claimAgainMs = this.nowMs + doublingWait(CLAIM_RETRY_BASE_MS, CLAIM_RETRY_MAX_MS, l.failedClaims);
        return [];
      }
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
          l.unknownClaim = false;
          return [];
        }
        // Its `after` was not done: nothing was started or stopped. But the write may have
        // reached the primary, which every reader sees: what the disk holds now is what counts,
        // never what this member knew before. A release that landed there is a release (another
        // member may claim the service at once), so the block is not written again outside the
        // lock; one that still says this life owns it is recovered from there (stopped and
        // released), which writes both copies again. A member that cannot write stops anyway.
        l.op = undefined;
        l.stopReason = undefined;
        this.failedWrite(o.service, l, o.onDisk);
        return [
          {
            kind: "service-report",
            service: o.service,
            message: `${this.spec(o.service).name}: could not record a transition (${o.detail}); ${
              o.onDisk === undefined
                ? "its block could not be read back either, so it is left alone until a read shows it"
                : `the disk says ${describeOwner(o.onDisk)}`
            }`,
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

  /**
   * Whether a live member runs another configuration view than this one. Then no service is
   * placed, failed back or moved: the two views may put one service in different slots, or name
   * another switch outlet, and only one of them is the cluster's. What runs keeps running.
   */
  viewsDiffer(): boolean {
    return this.members.some((m) => m.eligible && m.view !== this.config.view);
  }

  private viewsNote(): string {
    const others = this.members
      .filter((m) => m.eligible && m.view !== this.config.view)
      .map((m) => `${this.config.names?.[m.id] ?? `member ${m.id}`} runs view ${m.view}`);
    return `members run different configuration views (this one view ${this.config.view}, ${others.join(", ")}); restart clumanager on the members that run an old view`;
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
      if (r === undefined || l.op !== undefined || l.pending > 0 || l.unknown) continue;
      if (this.mine(r)) {
        if (r.state === ServiceState.Starting || r.state === ServiceState.Stopping) {
          // Half done with nothing under way: a transition whose write failed part way. Stop
          // whatever may have started, and release it.
          out.push(...this.beginStop(spec.id, "recover"));
          continue;
        }
        if (l.request !== undefined && !this.leaving) {
          const done = this.requestHere(spec, r, l, l.request);
          l.request = undefined;
          if (done.length > 0) {
            out.push(...done);
            continue;
          }
        }
        if (r.state !== ServiceState.Running) continue;
        const settled = this.nowMs - l.runningSinceMs >= FAILBACK_STABLE_CHECKS * spec.checkIntervalMs;
        if (this.leaving) out.push(...this.beginStop(spec.id, "leave"));
        else if (
          spec.preferred !== this.config.me &&
          settled &&
          !this.viewsDiffer() &&
          wantsFailback(spec, r, this.members)
        )
          out.push(...this.beginStop(spec.id, "failback"));
        else if (this.nowMs >= l.nextCheckMs) {
          l.op = "checking";
          out.push({ kind: "check-service", service: spec.id });
        }
        continue;
      }
      if (!this.healthy || this.nowMs < l.claimAgainMs) continue;
      const earlierLife = r.owner === this.config.me;
      // Even a leaving member cleans up after its earlier life: nobody else can.
      if (this.leaving && !earlierLife) continue;
      if (neverRecorded(r)) {
        // A block never written (a new service): whoever gets the lock first records it.
        l.op = "claiming";
        out.push({ kind: "claim", service: spec.id });
      } else if (l.request !== undefined && !earlierLife && !this.leaving) {
        // An administrator's request for a service nobody runs: decided on the block as it is
        // under the lock.
        l.op = "claiming";
        out.push({ kind: "claim", service: spec.id });
      } else if (earlierLife) {
        // An earlier life of this member left it. Its resources may still run on this machine,
        // so they are stopped here (under the lock: peers may have fenced that life and want it).
        l.op = "claiming";
        out.push({ kind: "claim", service: spec.id });
      } else if (needsHome(r, this.isFenced) && this.nowMs >= l.retryAfterMs && !this.viewsDiffer()) {
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
    underLock = false,
  ): ServiceAction {
    const next: ServiceRecord = { ...record, ...changes, state, transitionWallMs: 0 };
    const l = this.at(next.index);
    const known = this.records.get(next.index);
    // Outside the lock a member writes only a block its own life holds: any other may be another
    // member's claim, made under the lock a moment ago.
    if (!underLock && (l.unknown || known === undefined || !this.mine(known)))
      throw new Error(
        `service ${next.index}: a transition outside the disk lock over a block this life does not hold (${known === undefined ? "never read" : describeOwner(known)})`,
      );
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
    l.unknown = false;
    l.unknownClaim = !this.mine(fresh);
    l.failedClaims = 0;
    const spec = this.spec(service);
    const ours = { owner: this.config.me, ownerIncarnation: this.config.incarnation };
    if (fresh.owner === this.config.me && fresh.ownerIncarnation !== this.config.incarnation) {
      l.op = "stopping";
      l.stopReason = "earlier-life";
      return [this.transition(fresh, ServiceState.Stopping, "stop", ours, UNDER_LOCK)];
    }
    if (neverRecorded(fresh)) {
      const state = spec.disabled ? ServiceState.Disabled : ServiceState.Stopped;
      return [
        this.transition(
          fresh,
          state,
          "none",
          { name: spec.name, owner: NO_OWNER, ownerIncarnation: 0 },
          UNDER_LOCK,
        ),
      ];
    }
    const request = l.request;
    if (request !== undefined) {
      l.request = undefined;
      return this.requestOnFree(spec, fresh, request);
    }
    if (!this.healthy || this.leaving || !needsHome(fresh, this.isFenced)) return [];
    if (this.nowMs < l.retryAfterMs || this.viewsDiffer()) return [];
    // Placement again, on the block as it is now: a claim made to settle a block, or on a view
    // that has since changed, must not take a service meant for another member.
    if (
      choosePlacement(spec, fresh, this.members, [...this.records.values()], this.isFenced) !== this.config.me
    )
      return [];
    l.op = "starting";
    const lastOwner = fresh.owner !== NO_OWNER ? fresh.owner : fresh.lastOwner;
    // Taken because an administrator relocated it here: it stays, failback or not.
    const placedByAdmin =
      fresh.owner === NO_OWNER && (fresh.adminTarget === this.config.me || fresh.adminTarget === ANY_OTHER);
    return [
      this.transition(
        fresh,
        ServiceState.Starting,
        "start",
        {
          ...ours,
          lastOwner,
          name: spec.name,
          adminTarget: placedByAdmin ? this.config.me : NO_TARGET,
        },
        UNDER_LOCK,
      ),
    ];
  }

  /** A transition's write failed: adopt what the disk holds now, or know that it is not known. */
  private failedWrite(service: number, l: Local, onDisk: ServiceRecord | undefined): void {
    if (onDisk === undefined) {
      l.unknown = true;
      return;
    }
    l.unknownClaim = false;
    this.records.set(service, onDisk);
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
    l.retryAfterMs = this.nowMs + doublingWait(RETRY_BASE_MS, RETRY_MAX_MS, l.failedStarts);
    if (cleanedUp) {
      // Another member may manage where this one could not.
      return [
        this.transition(r, ServiceState.Stopped, "none", {
          owner: NO_OWNER,
          ownerIncarnation: 0,
          lastOwner: this.config.me,
          adminTarget: NO_TARGET,
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
    const relocateTo = l.relocateTo ?? ANY_OTHER;
    l.op = undefined;
    l.stopReason = undefined;
    l.relocateTo = undefined;
    const r = this.records.get(service) as ServiceRecord;
    const name = this.spec(service).name;
    if (!ok) return this.failedStop(service, r, `${name} failed to stop (${detail})`);
    if (reason === "restart" && !this.leaving) {
      l.op = "starting";
      return [this.transition(r, ServiceState.Starting, "start", { restarts: r.restarts + 1 })];
    }
    const released = {
      owner: NO_OWNER,
      ownerIncarnation: 0,
      lastOwner: this.config.me,
      adminTarget: reason === "relocate" ? relocateTo : NO_TARGET,
    };
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
 * A block never written: a new service, recorded by whoever gets the lock first as the
 * configuration's `disabled` says. From then on the block decides, as administrators change it.
 */
function neverRecorded(r: ServiceRecord): boolean {
  return r.state === ServiceState.Unused;
}

function describeOwner(r: ServiceRecord): string {
  const owner =
    r.owner === NO_OWNER ? "nobody owns it" : `member ${r.owner} (incarnation ${r.ownerIncarnation}) owns it`;
  return `${owner}, ${serviceStateName(r.state)}`;
}
