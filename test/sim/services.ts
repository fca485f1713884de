// Services in the simulator: each member process runs the real service core
// (src/core/services.ts) next to its real member core, wired as the daemon wires them
// (src/daemon/member-daemon.ts and service-daemon.ts), in simulated time, over simulated service
// blocks and resources that fail and hang.
//
// What runs is tracked per machine, apart from what any core believes: a service's resources are
// up from the moment its start begins until a stop (or a start's clean-up) succeeds, or the
// machine's power goes off, or it resets itself. A frozen or killed daemon's resources run on,
// which is exactly why a takeover must wait for the switch. The checks:
// 1. no service's resources run on two machines at once;
// 2. once the faults are over, every service that should run runs again within
//    SERVICE_RECOVERY_BOUND_MS.

import { FENCE_LOCK_RETRY_MAX_MS } from "../../src/core/fencing.js";
import type { MemberInfo, ServiceSpec } from "../../src/core/placement.js";
import {
  type AdminRequest,
  RETRY_MAX_MS,
  type ServiceAction,
  ServiceCore,
  type ServiceObservation,
} from "../../src/core/services.js";
import { nextGeneration } from "../../src/disk/generations.js";
import { emptyService, NO_OWNER, type ServiceRecord, ServiceState } from "../../src/disk/service-block.js";
import { watchdogFenceWaitMs } from "../../src/power/watchdog.js";
import { ACTION_TIMEOUT_MS } from "../../src/services/resource.js";
import { DRAIN_MS, KILL_GRACE_MS } from "../../src/services/run-program.js";
import { serviceStateName } from "../../src/services/state-names.js";
import type { Copies, CopyIndex, GenerationScheme, SimDisk, Version } from "./disk.js";
import {
  BOOT_MS,
  type LockRequest,
  MAX_SWITCH_MS,
  type Machine,
  type MakeServiceCore,
  type Process,
  TIMING,
  WATCHDOG_SECONDS,
} from "./model.js";
import type { Random } from "./random.js";

/** Mirrors SERVICE_SETTLE_INTERVALS in src/daemon/member-daemon.ts (sim.test.ts checks they
 * agree): a member places no service in its first heartbeat intervals, before it has seen its
 * peers. Not imported, so the simulator does not load the daemon's I/O modules. */
export const SERVICE_SETTLE_INTERVALS = 2;
const SETTLE_MS = SERVICE_SETTLE_INTERVALS * TIMING.intervalMs;
/** At most this many services per run, however large the cluster: enough for several to
 * contend for one member, few enough that every member's core ticking them stays cheap. */
const MAX_SERVICES = 4;

/** How often a resource action goes wrong while the faults last: fails, or hangs to its deadline. */
const RESOURCE_FAULTS = {
  start: { fail: 0.06, hang: 0.02 },
  stop: { fail: 0.02, hang: 0.01 },
  status: { fail: 0.04, hang: 0.02 },
};
/** After a failed start, the runner stops what it had started; that clean-up fails this often. */
const CLEANUP_FAILS = 0.2;
/** How long a resource action takes when it does not hang, in simulated ms. */
const ACTION_MS: Record<Action, [number, number]> = {
  start: [100, 2_000],
  stop: [100, 1_500],
  status: [10, 400],
};
/**
 * A hung action ends only at its deadline: the runner's timeout, then SIGTERM, KILL_GRACE_MS,
 * SIGKILL and DRAIN_MS. Scaled down tenfold from the real defaults (60 s for start and stop) so
 * a hang fits in a short run; what matters is that it ends late and as a failure.
 */
const DEADLINE_SCALE = 10;
const ACTION_DEADLINE_MS: Record<Action, number> = {
  start: (ACTION_TIMEOUT_MS.start + KILL_GRACE_MS + DRAIN_MS) / DEADLINE_SCALE,
  stop: (ACTION_TIMEOUT_MS.stop + KILL_GRACE_MS + DRAIN_MS) / DEADLINE_SCALE,
  status: (ACTION_TIMEOUT_MS.status + KILL_GRACE_MS + DRAIN_MS) / DEADLINE_SCALE,
};
/** A service block read or write: usually quick, now and then slow (a busy array). */
const IO_MS: [number, number] = [1, 40];
const SLOW_IO_MS: [number, number] = [200, 1_500];
const SLOW_IO = 0.02;
/** Heartbeat reads of the service blocks are slow more often, to test the core's read epochs. */
const SLOW_READ = 0.1;
/** A service write that failed (an I/O error) still reached the primary this often; readers see it. */
const FAILED_WRITE_LANDS = 0.3;
/** An I/O error returns this quickly. */
const EIO_MS = 5;
/** The chance per simulated step, while the faults last, that an administrator asks something. */
const ADMIN_REQUEST_PER_STEP = 0.01;
const ADMIN_OPS = ["enable", "disable", "relocate", "restart"] as const;
/** A request forwarded to the owner rides in the asker's status block: about a heartbeat. */
const FORWARD_MS: [number, number] = [TIMING.intervalMs / 2, 2 * TIMING.intervalMs];

/**
 * Liveness: once the faults are over, a service that should run runs again within this. The ways
 * back overlap rather than add up, since each began before the quiet part did:
 * - its owner hung or died: noticed (tko_netup), a fencing lock asked for again after failures
 *   (its longest backoff), the switch or the wait for a watchdog, and, for an owner that reset
 *   itself, its reboot and settling before it releases the service;
 * - a member still waits out its retry back-off after starts that failed (at their deadline)
 *   during the faults, the longest being RETRY_MAX_MS;
 * then a stop and a start, and a heartbeat or two to read the blocks and take the lock.
 */
const TAKEOVER_MS =
  (TIMING.tkoNetup + 1) * TIMING.intervalMs +
  FENCE_LOCK_RETRY_MAX_MS +
  Math.max(MAX_SWITCH_MS, watchdogFenceWaitMs(WATCHDOG_SECONDS[1])) +
  BOOT_MS +
  SETTLE_MS;
const BACKOFF_MS = ACTION_DEADLINE_MS.start + ACTION_MS.stop[1] + RETRY_MAX_MS;
export const SERVICE_RECOVERY_BOUND_MS =
  Math.max(TAKEOVER_MS, BACKOFF_MS) +
  ACTION_DEADLINE_MS.stop +
  ACTION_DEADLINE_MS.start +
  2 * TIMING.intervalMs;

type Action = "start" | "stop" | "status";
type Outcome = { kind: "ok" | "fail" | "hang"; delayMs: number };
type Transition = Extract<ServiceAction, { kind: "transition" }>;

export function newServiceStats() {
  return {
    serviceStarts: 0,
    /** Starts of a service taken from a fenced owner. */
    takeovers: 0,
    failedStarts: 0,
    failedStops: 0,
    failedChecks: 0,
    hungActions: 0,
    failedWrites: 0,
    adminRequests: 0,
    forwarded: 0,
    /** Members that left without marking DOWN, since a service failed to stop there. */
    failedLeaves: 0,
    /** Services that ran again after being down in the quiet part, and the longest wait. */
    recoveries: 0,
    maxRecoveryMs: 0,
  };
}
export type ServiceStats = ReturnType<typeof newServiceStats>;

/** What the service part needs of the world. */
export interface ServiceHost {
  readonly rng: Random;
  readonly machines: readonly Machine[];
  readonly stats: ServiceStats;
  /** The partitions: the service blocks' two copies are its `service` region. */
  readonly disk: SimDisk;
  readonly generations: GenerationScheme;
  /** The copies an acknowledged write of this machine reaches (a lost write misses one). */
  copiesTaken(m: Machine): readonly CopyIndex[];
  /** Resource actions fail and administrators ask only before this. */
  readonly faultMs: number;
  readonly makeServiceCore: MakeServiceCore | undefined;
  now(): number;
  /** The process's own monotonic clock now. */
  localNow(p: Process): number;
  log(line: string): void;
  fail(message: string): never;
  /** Runs `run` after `delayMs`, whatever becomes of any process. */
  at(delayMs: number, run: () => void): void;
  /** Runs `run` in process `p` after `delayMs` (later, if it is frozen then), unless it is gone. */
  onProcess(member: number, p: Process, delayMs: number, run: (localMs: number) => void): void;
  /** Queues for the disk lock, behind fencing and everything else already waiting. */
  lock(request: LockRequest): void;
  /** Lets go of the lock, if this request still holds it. */
  unlock(request: LockRequest): void;
  /** Process `p` of `member` wrote a service block that lets the service go for another to take. */
  released(member: number, p: Process): void;
}

export class SimServices {
  readonly specs: readonly ServiceSpec[];
  /** When each service stopped running where it should, while it is down. */
  private readonly downSince = new Map<number, number>();

  constructor(private readonly host: ServiceHost) {
    const { rng } = host;
    const members = host.machines.length;
    this.specs = Array.from({ length: rng.int(1, Math.min(MAX_SERVICES, members + 1)) }, (_, id) =>
      randomSpec(rng, id, members),
    );
    // Half the runs start from freshly initialised partitions, whose service blocks are unused.
    for (const s of this.specs) {
      const recorded = {
        ...emptyService(s.id),
        name: s.name,
        state: s.disabled ? ServiceState.Disabled : ServiceState.Stopped,
      };
      // Each record is frozen: a core that changed one it was given would throw, not corrupt the disk.
      const first = host.disk.version(
        nextGeneration([]),
        Object.freeze(rng.chance(0.5) ? recorded : emptyService(s.id)),
      );
      host.disk.service.land(s.id, 0, first);
      host.disk.service.land(s.id, 1, first);
    }
  }

  /** The service core of a member process, built alongside its member core. */
  newCore(me: number, incarnation: number, view: number): ServiceCore {
    const config = { me, incarnation, services: this.specs, view };
    return this.host.makeServiceCore?.(config) ?? new ServiceCore(config);
  }

  /** Every core tick, after the member core's, once the member has settled. */
  tick(member: number, p: Process, nowMs: number): void {
    if (nowMs - p.joinedLocalMs < SETTLE_MS) return;
    const healthy = p.core.healthy(nowMs);
    const members = this.memberView(member, p, healthy);
    this.feed(member, p, { kind: "tick", nowMs, members, healthy, isFenced: p.isFenced });
  }

  /**
   * Every configured member, and whether it may take a service: a peer only while its heartbeat
   * moves; this member only while it is healthy and not leaving. The last view is handed on
   * again while nothing in it changed, which spares the simulator an allocation every tick.
   */
  private memberView(member: number, p: Process, healthy: boolean): readonly MemberInfo[] {
    const last = p.memberView;
    let same = last.length === this.host.machines.length;
    const members: MemberInfo[] = [];
    for (let id = 0; id < this.host.machines.length; id++) {
      const eligible = id === member ? healthy && !p.stopping : p.core.peerState(id) === "up";
      const view = id === member ? p.configView : (p.peerViews.get(id)?.view ?? -1);
      same &&= last[id]?.eligible === eligible && last[id]?.view === view;
      members.push({ id, eligible, view });
    }
    if (same) return last;
    p.memberView = members;
    return members;
  }

  /** A member that leaves cleanly marks itself DOWN, so no peer will fence it: it must not leave
   * anything running behind. */
  checkLeftClean(member: number): void {
    const left = [...(this.host.machines[member] as Machine).running].map((s) => this.name(s));
    if (left.length > 0)
      this.host.fail(`member ${member} left cleanly while ${left.join(", ")} still ran there`);
  }

  /** A heartbeat write landed: read every service block, stamped with the epoch it began in. */
  beatLanded(member: number, p: Process): void {
    // A failing disk fails the read (or it misses its deadline): the daemon logs it, feeds nothing.
    if ((this.host.machines[member] as Machine).diskFault !== undefined) return;
    const epoch = p.services.epoch;
    // Both copies as the read begins: it may complete after writes made meanwhile, which it must
    // not undo. Blocks on the disk are frozen, so readers may share them.
    const region = this.host.disk.service;
    const read = region.keys().map((id) => ({ id, copies: region.copies(id) }));
    this.host.onProcess(member, p, this.ioMs(SLOW_READ), () => {
      if (p.core.finished !== undefined) return;
      // As the pair: one block believed on neither copy fails the whole read.
      const versions = read.map((r) => region.read(p.disk, r.id, r.copies));
      if (versions.some((v) => v === undefined)) {
        this.host.log(
          `member ${member} cannot believe either copy of a service block; it reads again next beat`,
        );
        return;
      }
      const records = read.map((r, i) => region.feed(p.disk, r.id, versions[i] as Version<ServiceRecord>));
      this.feed(member, p, { kind: "records", records, epoch });
    });
  }

  /** A clean stop begins: services stop first; the member leaves once they have. */
  leave(member: number, p: Process): void {
    if (p.stopping) return;
    p.stopping = true;
    this.host.log(`member ${member} is asked to stop; it stops its services first`);
    this.feed(member, p, { kind: "leave" });
  }

  /** The disk lock is granted for a claim: read the block fresh, decide, write, let go. */
  lockGranted(req: LockRequest): void {
    const { member, p } = req;
    const service = req.service as number;
    this.host.onProcess(member, p, 0, () => {
      if ((this.host.machines[member] as Machine).diskFault !== undefined) {
        this.host.log(`member ${member} cannot read ${this.name(service)}'s block under the lock`);
        this.claimFailed(req);
        return;
      }
      const copies = this.host.disk.service.copies(service);
      this.host.onProcess(member, p, this.ioMs(SLOW_IO), (nowMs) => {
        const fresh = this.readOne(member, p, service, copies);
        if (fresh === undefined) this.claimFailed(req);
        else this.claimRead(req, fresh, nowMs);
      });
    });
  }

  /** The lock could not be taken (its slot cannot be written): the claim fails. */
  lockFailed(req: LockRequest): void {
    this.host.onProcess(req.member, req.p, 1, () => this.claimFailed(req));
  }

  /** An administrator, at a random live member, asks anything of any service. */
  maybeAdminRequest(): void {
    const { rng, machines } = this.host;
    if (!rng.chance(ADMIN_REQUEST_PER_STEP)) return;
    const member = rng.int(0, machines.length - 1);
    const op = rng.pick(ADMIN_OPS);
    const service = rng.pick(this.specs).id;
    const target = rng.chance(0.5) ? rng.int(0, machines.length - 1) : undefined;
    const m = machines[member] as Machine;
    const p = m.process;
    // A frozen daemon cannot answer its admin socket.
    if (p === undefined || m.frozenUntilMs > this.host.now()) return;
    const req: AdminRequest = { op, service, ...(target !== undefined ? { target } : {}) };
    const answer = p.services.ask(req);
    if (answer.ok) this.host.stats.adminRequests++;
    this.host.log(`administrator asks member ${member} ${JSON.stringify(req)}: ${answer.message}`);
    this.execute(member, p, answer.actions);
  }

  /** Every step: liveness, once the faults are over (`quietSinceMs`). */
  check(quietSinceMs: number | undefined): void {
    if (quietSinceMs !== undefined) this.checkRecovery(quietSinceMs);
  }

  /**
   * Invariant 1: no service's resources run on two machines at once. A service comes to run on a
   * machine only when a start begins there, so checking then is as good as checking always (and
   * finer than every step); a powered-off machine's set was emptied when it went down.
   */
  private checkOneOwner(service: number): void {
    const where: number[] = [];
    this.host.machines.forEach((m, id) => {
      if (m.running.has(service)) where.push(id);
    });
    if (where.length > 1)
      this.host.fail(`${this.name(service)} runs on members ${where.join(" and ")} at once`);
  }

  /** Liveness: once quiet, a service that should run is running again within the bound. */
  private checkRecovery(quietSinceMs: number): void {
    const now = this.host.now();
    for (const s of this.specs) {
      const r = this.onDisk(s.id);
      const down = this.downSince.get(s.id);
      if (!this.shouldRun(s, r) || this.runsWhereRecorded(r)) {
        if (down !== undefined && this.shouldRun(s, r)) this.recovered(now - Math.max(down, quietSinceMs));
        this.downSince.delete(s.id);
        continue;
      }
      const since = Math.max(down ?? now, quietSinceMs);
      this.downSince.set(s.id, since);
      if (now - since > SERVICE_RECOVERY_BOUND_MS) {
        this.host.fail(
          `${s.name} has not run for ${now - since} ms of the quiet part, longer than ` +
            `SERVICE_RECOVERY_BOUND_MS (${SERVICE_RECOVERY_BOUND_MS} ms); its block: ${describe(r)}`,
        );
      }
    }
  }

  private recovered(waitedMs: number): void {
    this.host.stats.recoveries++;
    this.host.stats.maxRecoveryMs = Math.max(this.host.stats.maxRecoveryMs, waitedMs);
  }

  /**
   * Whether the service should be running: not disabled (the configuration's word for a block
   * never written; an administrator's afterwards), and not held failed by an owner that is still
   * alive, which keeps it until it is fenced or an administrator clears it.
   */
  private shouldRun(spec: ServiceSpec, r: ServiceRecord): boolean {
    if (r.state === ServiceState.Unused) return !spec.disabled;
    if (r.state === ServiceState.Disabled) return false;
    return !(r.state === ServiceState.Failed && this.ownerAlive(r));
  }

  private runsWhereRecorded(r: ServiceRecord): boolean {
    return (
      r.state === ServiceState.Running &&
      this.ownerAlive(r) &&
      (this.host.machines[r.owner] as Machine).running.has(r.index)
    );
  }

  private ownerAlive(r: ServiceRecord): boolean {
    return r.owner !== NO_OWNER && this.host.machines[r.owner]?.process?.incarnation === r.ownerIncarnation;
  }

  private feed(member: number, p: Process, o: ServiceObservation): void {
    this.execute(member, p, p.services.step(o));
  }

  private execute(member: number, p: Process, actions: readonly ServiceAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "claim":
          this.host.lock({ member, p, service: a.service });
          break;
        case "transition":
          this.transition(member, p, a, () => {});
          break;
        case "check-service":
          this.checkResources(member, p, a.service);
          break;
        case "forward":
          this.forward(member, a.to, a.incarnation, a.request);
          break;
        case "service-report":
          this.host.log(`member ${member} reports: ${a.message}`);
          break;
        case "conflict":
          // Only a broken rule lets another life own what this one runs.
          this.host.fail(`member ${member} found a conflict: ${a.message}`);
      }
    }
  }

  private claimFailed(req: LockRequest): void {
    this.host.unlock(req);
    this.feed(req.member, req.p, { kind: "claim-failed", service: req.service as number });
  }

  /** Under the lock, with the block as read there: decided and recorded before letting go. */
  private claimRead(req: LockRequest, fresh: ServiceRecord, nowMs: number): void {
    const { member, p } = req;
    const service = req.service as number;
    // A member that stalled while it waited may have lost the lock, and its view is old.
    if (!p.core.healthy(nowMs)) {
      this.host.log(`member ${member} is not healthy under the lock; it takes nothing`);
      this.claimFailed(req);
      return;
    }
    const actions = p.services.step({ kind: "claim-read", service, record: fresh });
    for (const a of actions) {
      if (a.kind === "transition" && a.after === "start") this.checkViewsAgree(member, p, a.record.name);
      if (a.kind === "transition" && a.after === "start" && fresh.owner !== NO_OWNER) {
        this.host.stats.takeovers++;
        this.host.log(`member ${member} takes ${fresh.name} over from member ${fresh.owner}'s fenced life`);
      }
    }
    this.runUnderLock(req, actions);
  }

  /**
   * A member places a service only while every peer it counts up runs its own configuration
   * view, as that peer's status block last told it (and its service core was last told): two
   * views may put one service in two slots.
   */
  private checkViewsAgree(member: number, p: Process, name: string): void {
    for (const m of p.memberView) {
      if (m.id === member || !m.eligible || m.view === p.configView) continue;
      this.host.fail(
        `member ${member} (view ${p.configView}) placed ${name} while member ${m.id}, which it counts up, runs view ${m.view}`,
      );
    }
  }

  /** The claim's actions in order, each transition written before the next; then the lock goes. */
  private runUnderLock(req: LockRequest, actions: readonly ServiceAction[]): void {
    const [next, ...rest] = actions;
    if (next === undefined) {
      this.host.unlock(req);
      return;
    }
    if (next.kind !== "transition") {
      this.execute(req.member, req.p, [next]);
      this.runUnderLock(req, rest);
      return;
    }
    // Checked again just before the write: a member that stalled since must not take it now.
    const stillMay = () => req.p.core.healthy(this.host.localNow(req.p));
    this.transition(req.member, req.p, next, () => this.runUnderLock(req, rest), stillMay, true);
  }

  /** Writes the transition; only once both copies took it are the resources touched. */
  private transition(
    member: number,
    p: Process,
    a: Transition,
    done: () => void,
    stillMay = () => true,
    underLock = false,
  ): void {
    const service = a.record.index;
    if (!stillMay()) {
      const detail = "this member is not healthy enough to take a service now";
      this.feed(member, p, { kind: "written", service, ok: false, detail });
      done();
      return;
    }
    this.write(member, p, a.record, underLock, (ok, detail, record) => {
      if (!ok) {
        this.host.stats.failedWrites++;
        // As the daemon: the block is read back, for what every reader sees now.
        this.readBack(member, p, service, (onDisk) => {
          this.feed(member, p, {
            kind: "written",
            service,
            ok: false,
            detail,
            ...(onDisk !== undefined ? { onDisk } : {}),
          });
          done();
        });
        return;
      }
      this.feed(member, p, { kind: "written", service, ok: true, detail: "", record });
      if (record.state === ServiceState.Stopped && record.owner === NO_OWNER) this.host.released(member, p);
      if (a.after === "start") this.startResources(member, p, service);
      else if (a.after === "stop") this.stopResources(member, p, service);
      done();
    });
  }

  /**
   * A service block write, as the disk pair does it: its generation from both copies read just
   * before (and what this process read and wrote of the block before), then the primary, then the
   * backup, with the machine's disk faults. An error fails it, though the primary may have taken
   * it; a failing backup fails it after the primary took it; a hang past io_timeout misses the
   * deadline, yet both copies take it when the hang ends, unless the machine went down first; a
   * lost write is acknowledged with one copy (either) left as it was.
   *
   * Checked as the first copy takes it: outside the disk lock a member writes only a block its
   * own life holds (by the newest write of it), or it could land over another member's claim.
   */
  private write(
    member: number,
    p: Process,
    record: ServiceRecord,
    underLock: boolean,
    result: (ok: boolean, detail: string, record: ServiceRecord) => void,
  ): void {
    const m = this.host.machines[member] as Machine;
    const resets = m.resets;
    const stamped = Object.freeze({ ...record, transitionWallMs: this.host.now() });
    const region = this.host.disk.service;
    const service = stamped.index;
    const generation = this.host.generations.service(
      p.disk,
      service,
      region.copies(service),
      region.seenGeneration(p.disk, service),
    );
    const v = this.host.disk.version(generation, stamped);
    let landed = false;
    const land = (copy: CopyIndex) => () => {
      if (m.resets !== resets) return;
      if (!landed) {
        landed = true;
        const there = region.latest(service) as ServiceRecord;
        if (!underLock && !(there.owner === member && there.ownerIncarnation === p.incarnation))
          this.host.fail(
            `member ${member} wrote ${stamped.name} outside the disk lock over a block it does not hold (${describe(there)})`,
          );
        this.host.log(
          `member ${member} wrote ${stamped.name}: ${describe(stamped)} (generation ${generation})`,
        );
      }
      region.land(service, copy, v);
    };
    const fault = m.diskFault;
    const ioTimeout = TIMING.ioTimeoutMs;
    const badCopy = this.host.disk.badCopy(service, this.host.now());
    if (fault?.kind === "error") {
      // The primary took it before the backup failed: it is there by the time the error returns.
      if (this.host.rng.chance(FAILED_WRITE_LANDS)) this.host.at(this.host.rng.int(1, EIO_MS), land(0));
      this.host.onProcess(member, p, EIO_MS, () => result(false, "EIO", stamped));
    } else if (fault?.kind === "hang") {
      const hangMs = fault.untilMs - this.host.now();
      this.host.at(hangMs, land(0));
      this.host.at(hangMs + 1, land(1));
      if (hangMs <= ioTimeout) this.host.onProcess(member, p, hangMs + 2, () => result(true, "", stamped));
      else this.host.onProcess(member, p, ioTimeout, () => result(false, "missed its deadline", stamped));
    } else if (m.backupFailsUntilMs > this.host.now() || badCopy === 1) {
      const latency = this.ioMs(SLOW_IO);
      this.host.at(latency, land(0));
      this.host.onProcess(member, p, latency + EIO_MS, () => result(false, "EIO on the backup", stamped));
    } else if (badCopy === 0) {
      // The pair stops at the primary's error: the backup is not written.
      this.host.onProcess(member, p, EIO_MS, () => result(false, "EIO on the primary", stamped));
    } else {
      const latency = this.ioMs(SLOW_IO);
      for (const copy of this.host.copiesTaken(m)) this.host.at(latency + copy, land(copy));
      this.host.onProcess(member, p, latency + 2, () => result(true, "", stamped));
    }
  }

  /** One block read back after a failed write: both copies, unless the disk fails reads too. */
  private readBack(
    member: number,
    p: Process,
    service: number,
    then: (onDisk: ServiceRecord | undefined) => void,
  ): void {
    const m = this.host.machines[member] as Machine;
    if (m.diskFault !== undefined) {
      this.host.onProcess(member, p, EIO_MS, () => then(undefined));
      return;
    }
    const copies = this.host.disk.service.copies(service);
    this.host.onProcess(member, p, this.ioMs(0), () => then(this.readOne(member, p, service, copies)));
  }

  /** One service block as process `p` takes it from a read of both copies: undefined (and said
   * so) when neither copy can be believed. */
  private readOne(
    member: number,
    p: Process,
    service: number,
    copies: Copies<ServiceRecord>,
  ): ServiceRecord | undefined {
    const region = this.host.disk.service;
    const v = region.read(p.disk, service, copies);
    if (v === undefined) {
      this.host.log(`member ${member} cannot believe either copy of ${this.name(service)}'s block`);
      return undefined;
    }
    return region.feed(p.disk, service, v);
  }

  /** The block as readers find it now, for the checks (the newest write when none is trusted). */
  private onDisk(service: number): ServiceRecord {
    const region = this.host.disk.service;
    return (region.current(service) ?? region.latest(service)) as ServiceRecord;
  }

  /** The resources are touched at once: from now they may be up on this machine. */
  private startResources(member: number, p: Process, service: number): void {
    const m = this.host.machines[member] as Machine;
    this.host.stats.serviceStarts++;
    m.running.add(service);
    this.host.log(`member ${member} starts ${this.name(service)}`);
    this.checkOneOwner(service);
    const outcome = this.outcome("start");
    const cleanedUp = outcome.kind === "ok" || !this.host.rng.chance(CLEANUP_FAILS);
    // A failed start stops what it had started before it reports.
    const cleanupMs = outcome.kind === "ok" ? 0 : this.host.rng.int(...ACTION_MS.stop);
    this.host.onProcess(member, p, outcome.delayMs + cleanupMs, (nowMs) => {
      const ok = outcome.kind === "ok";
      if (!ok) this.host.stats.failedStarts++;
      if (!ok && cleanedUp) m.running.delete(service);
      const detail = this.detail(outcome, cleanedUp ? "" : "; then stopping failed");
      if (!ok) this.host.log(`member ${member}: ${this.name(service)} failed to start (${detail})`);
      this.feed(member, p, { kind: "started", service, ok, cleanedUp, detail, nowMs });
    });
  }

  /** A failed stop leaves the resources up. */
  private stopResources(member: number, p: Process, service: number): void {
    const m = this.host.machines[member] as Machine;
    const outcome = this.outcome("stop");
    this.host.onProcess(member, p, outcome.delayMs, (nowMs) => {
      const ok = outcome.kind === "ok";
      if (ok) m.running.delete(service);
      else this.host.stats.failedStops++;
      const detail = this.detail(outcome, "");
      this.host.log(`member ${member} ${ok ? "stopped" : "failed to stop"} ${this.name(service)}`);
      this.feed(member, p, { kind: "stopped", service, ok, detail, nowMs });
    });
  }

  /** A check passes only if the resources really run here and the status action works. */
  private checkResources(member: number, p: Process, service: number): void {
    const m = this.host.machines[member] as Machine;
    const outcome = this.outcome("status");
    this.host.onProcess(member, p, outcome.delayMs, (nowMs) => {
      const ok = outcome.kind === "ok" && m.running.has(service);
      const detail = m.running.has(service) ? this.detail(outcome, "") : "not running";
      if (!ok) {
        this.host.stats.failedChecks++;
        this.host.log(`member ${member}: ${this.name(service)} failed its check (${detail})`);
      }
      this.feed(member, p, { kind: "checked", service, ok, detail, nowMs });
    });
  }

  /** How a resource action ends: failures and hangs only while the faults last. */
  private outcome(action: Action): Outcome {
    const { rng } = this.host;
    const faults = RESOURCE_FAULTS[action];
    const r = rng.next();
    const delayMs = rng.int(...ACTION_MS[action]);
    if (this.host.now() >= this.host.faultMs) return { kind: "ok", delayMs };
    if (r < faults.hang) {
      this.host.stats.hungActions++;
      return { kind: "hang", delayMs: ACTION_DEADLINE_MS[action] };
    }
    return { kind: r < faults.hang + faults.fail ? "fail" : "ok", delayMs };
  }

  private detail(outcome: Outcome, more: string): string {
    const what = { ok: "done", fail: "failed", hang: "hung, killed at its deadline" }[outcome.kind];
    return `${what}${more}`;
  }

  /** Carried in the asker's status block: the owner reads it a heartbeat or so later, and only
   * the life it was meant for acts on it. */
  private forward(from: number, to: number, incarnation: number, request: AdminRequest): void {
    this.host.stats.forwarded++;
    const q = this.host.machines[to]?.process;
    this.host.log(`member ${from} forwards ${JSON.stringify(request)} to member ${to}`);
    if (q === undefined || q.incarnation !== incarnation) return;
    this.host.onProcess(to, q, this.host.rng.int(...FORWARD_MS), () => {
      const answer = q.services.ask(request, true);
      this.host.log(`member ${to} is asked ${JSON.stringify(request)} by member ${from}: ${answer.message}`);
      this.execute(to, q, answer.actions);
    });
  }

  private ioMs(slowChance: number): number {
    const { rng } = this.host;
    return rng.chance(slowChance) ? rng.int(...SLOW_IO_MS) : rng.int(...IO_MS);
  }

  private name(service: number): string {
    return this.specs[service]?.name ?? `service ${service}`;
  }
}

function randomSpec(rng: Random, id: number, members: number): ServiceSpec {
  const preferred = rng.chance(0.5) ? rng.int(0, members - 1) : undefined;
  return {
    id,
    name: `svc${id}`,
    ...(preferred !== undefined ? { preferred } : {}),
    failback: preferred !== undefined && rng.chance(0.5),
    disabled: rng.chance(0.1),
    checkIntervalMs: rng.int(1, 4) * 1_000,
    maxRestarts: rng.int(1, 3),
    restartWindowMs: 30_000,
  };
}

function describe(r: ServiceRecord): string {
  const owner = r.owner === NO_OWNER ? "no owner" : `owner ${r.owner}/${r.ownerIncarnation}`;
  return `${serviceStateName(r.state)}, ${owner}, last owner ${r.lastOwner}, target ${r.adminTarget}`;
}
