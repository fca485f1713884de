// The deterministic simulator: N copies of the real member core, each with the real service core
// beside it (services.ts), over a simulated shared disk, network, power switches, resources and
// clocks, with faults drawn from one seed.
//
// Every member has its own clock offset (the core must never compare clocks across members), and
// the disk lock behaves like the bakery: granted in order of asking, to fencing and to service
// claims alike, and taken from a holder whose slot stops being refreshed for LOCK_STALE_MS.
import type { DiskStatus, FencedLife } from "../../src/core/liveness.js";
import { type MemberAction, MemberCore, type Observation } from "../../src/core/member.js";
import { emptyMail, MailKind } from "../../src/disk/mailbox-block.js";
import { MemberState } from "../../src/disk/status-block.js";
import {
  BOOT_MS,
  type CoreLike,
  LOCK_STALE_MS,
  type LockRequest,
  MAX_SWITCH_MS,
  type Machine,
  type MakeCore,
  type MakeServiceCore,
  type Process,
  SIM_STEP_MS,
  TIMING,
} from "./model.js";
import { Random } from "./random.js";
import { newServiceStats, SimServices } from "./services.js";

export { type CoreLike, type MakeCore, type MakeServiceCore, SIM_STEP_MS, TIMING };

/** Bounds the event queue: a run that schedules more than this is itself a bug. */
const MAX_PENDING_EVENTS = 10_000;
/** Bounds the disk lock's queue: each live process waits at most once for fencing and once per
 * service, so a longer queue is itself a bug. */
const MAX_LOCK_QUEUE = 1_000;

export interface SimOptions {
  seed: number;
  members: number;
  /** Faults start only during this first part of the run. */
  faultMs: number;
  /** Then the cluster must heal within this quiet part. */
  quietMs: number;
  switchFaults: boolean;
  makeCore?: MakeCore;
  makeServiceCore?: MakeServiceCore;
}

interface SimEvent {
  atMs: number;
  order: number;
  run: () => void;
}

export class SimFailure extends Error {}

export class World {
  readonly rng: Random;
  readonly machines: Machine[];
  readonly disk = new Map<number, DiskStatus>();
  /** Fenced notices on the disk, per fenced member. */
  readonly notices = new Map<number, { incarnation: number; from: number }>();
  /** "member/incarnation" surely gone: powered off by its switch, rebooted by its own self-fence,
   * or stopped cleanly. */
  readonly dead = new Set<string>();
  readonly trace: string[] = [];
  readonly zombies: CoreLike[] = [];
  readonly stats = {
    fences: 0,
    failedFences: 0,
    selfFences: 0,
    faults: 0,
    lockFailures: 0,
    /** Nudges delivered: peers asked to read the disk ahead of their next heartbeat. */
    nudges: 0,
    ...newServiceStats(),
  };
  readonly services: SimServices;
  private events: SimEvent[] = [];
  private order = 0;
  /** The holder's slot belongs to its process: a restarted member starts with a clear slot. */
  private lockHolder: LockRequest | undefined;
  private lockQueue: LockRequest[] = [];
  private lockRefreshedMs = 0;
  private partitionUntilMs = 0;
  /** Until then heartbeats are lost at random and the rest arrive late. */
  private lossyUntilMs = 0;
  /** From then on no fault is left: liveness is checked. */
  private quietSinceMs: number | undefined;
  now = 0;

  constructor(readonly options: SimOptions) {
    this.rng = new Random(options.seed);
    this.machines = Array.from({ length: options.members }, () => ({
      power: "on" as const,
      process: undefined,
      bootAtMs: 0,
      frozenUntilMs: 0,
      diskFault: undefined,
      switchFailsUntilMs: 0,
      switchFlapsUntilMs: 0,
      losesWritesUntilMs: 0,
      lastFaultMs: Number.NEGATIVE_INFINITY,
      incarnation: 0,
      running: new Set<number>(),
      resets: 0,
    }));
    this.services = new SimServices({
      rng: this.rng,
      machines: this.machines,
      stats: this.stats,
      faultMs: options.faultMs,
      makeServiceCore: options.makeServiceCore,
      now: () => this.now,
      localNow: (p) => this.localNow(p),
      log: (line) => this.log(line),
      fail: (message) => this.fail(message),
      at: (delayMs, run) => this.at(delayMs, run),
      onProcess: (member, p, delayMs, run) => this.onProcess(member, p, delayMs, run),
      lock: (request) => this.queueLock(request),
      unlock: (request) => {
        if (this.lockHolder === request) this.releaseLock(`releases the disk lock`);
      },
      // As the daemon wires it: a service let go makes the member core nudge its peers.
      released: (member, p) => {
        if (this.machines[member]?.process === p)
          this.apply(member, p, p.core.step({ kind: "service-released" }));
      },
    });
  }

  private fail(message: string): never {
    throw new SimFailure(`seed ${this.options.seed} at ${this.now} ms: ${message}`);
  }

  private log(line: string): void {
    this.trace.push(`${this.now} ${line}`);
    if (this.trace.length > (Number(process.env.CLUMANAGER_SIM_TRACE) || 400)) this.trace.shift();
  }

  private at(delayMs: number, run: () => void): void {
    if (this.events.length >= MAX_PENDING_EVENTS) this.fail("the event queue overflowed");
    this.events.push({ atMs: this.now + delayMs, order: this.order++, run });
  }

  private localNow(p: Process): number {
    return Math.floor(this.now * p.clockRate) + p.clockOffsetMs;
  }

  /** Runs `run` in process `p` after `delayMs`, if it is still running then; a frozen process
   * runs it once it thaws. */
  private onProcess(member: number, p: Process, delayMs: number, run: (localMs: number) => void): void {
    const attempt = () => {
      const m = this.machines[member] as Machine;
      if (m.process !== p) return; // that process is gone
      if (m.frozenUntilMs > this.now) {
        this.events.push({ atMs: m.frozenUntilMs, order: this.order++, run: attempt });
        return;
      }
      run(this.localNow(p));
    };
    this.at(delayMs, attempt);
  }

  /** Delivers an observation to the process that is running now, if it is still that process. */
  private deliver(member: number, p: Process, make: (localMs: number) => Observation, delayMs = 0): void {
    this.onProcess(member, p, delayMs, (t) => this.apply(member, p, p.core.step(make(t))));
  }

  run(): void {
    const end = this.options.faultMs + this.options.quietMs;
    for (; this.now <= end; this.now += SIM_STEP_MS) {
      if (this.now < this.options.faultMs) {
        this.injectFaults();
        this.services.maybeAdminRequest();
      }
      this.boot();
      this.runEvents();
      this.tickAll();
      this.checkLock();
      this.checkStep();
      if (this.quietSinceMs === undefined && this.quiet()) this.quietSinceMs = this.now;
      this.services.check(this.quietSinceMs);
    }
    this.checkHealed();
  }

  /** The faults are over: none is injected any more, and none injected earlier lasts. */
  private quiet(): boolean {
    const now = this.now;
    return (
      now >= this.options.faultMs &&
      this.partitionUntilMs <= now &&
      this.lossyUntilMs <= now &&
      this.machines.every(
        (m) =>
          m.frozenUntilMs <= now &&
          m.diskFault === undefined &&
          m.switchFailsUntilMs <= now &&
          m.switchFlapsUntilMs <= now &&
          m.losesWritesUntilMs <= now,
      )
    );
  }

  /** The power went off, or the machine reset itself: everything that ran on it has ended. */
  private machineDown(m: Machine): void {
    m.running.clear();
    m.resets++;
  }

  private runEvents(): void {
    // Bounded: each event runs once and new ones land in a later pass.
    const due = this.events
      .filter((e) => e.atMs <= this.now)
      .sort((a, b) => a.atMs - b.atMs || a.order - b.order);
    this.events = this.events.filter((e) => e.atMs > this.now);
    for (const e of due) e.run();
  }

  private tickAll(): void {
    this.machines.forEach((m, member) => {
      const p = m.process;
      if (
        m.power === "off" ||
        p === undefined ||
        m.diskFault !== undefined ||
        m.losesWritesUntilMs > this.now
      )
        m.lastFaultMs = this.now;
      if (m.diskFault !== undefined && m.diskFault.untilMs <= this.now) m.diskFault = undefined;
      if (p === undefined) return;
      if (m.frozenUntilMs > this.now) {
        m.lastFaultMs = this.now;
        return;
      }
      const nowMs = this.localNow(p);
      this.apply(member, p, p.core.step({ kind: "tick", nowMs }));
      // As the daemon: the service core is ticked after the member core, while that runs.
      if (m.process !== p || p.core.finished !== undefined) return;
      this.services.tick(member, p, nowMs);
      if (m.process === p) this.leaveWhenReady(member, p);
    });
    // A member that self-fenced must never act again, whatever it is told.
    for (const z of this.zombies) {
      if (z.step({ kind: "tick", nowMs: this.now }).length > 0) this.fail("a self-fenced core acted again");
    }
  }

  /**
   * A member asked to stop leaves once its services are stopped: marked DOWN by its member core.
   * If only services that failed to stop are left, it leaves without marking DOWN, so that a
   * peer fences it: the power-off is what ends those services.
   */
  private leaveWhenReady(member: number, p: Process): void {
    if (!p.stopping || p.memberStopFed) return;
    if (p.services.idle) {
      p.memberStopFed = true;
      this.apply(member, p, p.core.step({ kind: "stop" }));
    } else if (p.services.failedHere.length > 0 && p.services.idleButFailed) {
      p.memberStopFed = true;
      this.stats.failedLeaves++;
      this.log(
        `member ${member} leaves without marking DOWN: ${p.services.failedHere.join(", ")} failed to stop`,
      );
      // Its daemon is gone, its machine still on: as after a kill, only its switch ends that life.
      (this.machines[member] as Machine).process = undefined;
    }
  }

  private boot(): void {
    this.machines.forEach((m, member) => {
      if (m.bootAtMs === undefined || m.bootAtMs > this.now) return;
      if (m.diskFault !== undefined) return; // cannot write both partitions: does not join yet
      m.bootAtMs = undefined;
      m.power = "on";
      m.incarnation++;
      const process: Process = {
        incarnation: m.incarnation,
        // Far apart, below zero too: the cores must never assume where a clock starts (seed 2
        // once showed a service core that never claimed on a clock reading below zero).
        clockOffsetMs: this.rng.int(-1e9, 1e9),
        clockRate: 1 + this.rng.int(-100, 100) / 10_000,
        core: undefined as unknown as CoreLike,
        services: this.services.newCore(member, m.incarnation),
        isFenced: (peer, incarnation) => process.core.isFenced(peer, incarnation),
        memberView: [],
        joinedLocalMs: 0,
        stopping: false,
        memberStopFed: false,
      };
      this.disk.set(member, { state: MemberState.Up, incarnation: m.incarnation, heartbeat: 0 });
      const config = { ...TIMING, me: member, members: this.machines.length, incarnation: m.incarnation };
      const make: MakeCore = this.options.makeCore ?? ((c, t) => new MemberCore(c, t));
      process.joinedLocalMs = this.localNow(process);
      process.core = make(config, process.joinedLocalMs);
      m.process = process;
      this.log(`member ${member} joins in incarnation ${m.incarnation}`);
    });
  }

  private apply(member: number, p: Process, actions: MemberAction[]): void {
    const m = this.machines[member] as Machine;
    for (const a of actions) {
      switch (a.kind) {
        case "write-status":
          // What a status says was fenced, every member believes within a heartbeat.
          if (a.fenced !== undefined && !this.dead.has(`${a.fenced.member}/${a.fenced.incarnation}`))
            this.fail(
              `member ${member}'s status says member ${a.fenced.member} was fenced in incarnation ${a.fenced.incarnation}, which is still alive`,
            );
          this.writeStatus(member, p, a.state, a.heartbeat, a.fenced);
          break;
        case "send-heartbeat":
          if (this.partitionUntilMs > this.now) break;
          this.machines.forEach((peer, to) => {
            const q = peer.process;
            if (to === member || q === undefined) return;
            const lossy = this.lossyUntilMs > this.now;
            if (lossy && this.rng.chance(0.6)) return;
            const delay = lossy ? this.rng.int(1, 2_500) : this.rng.int(1, 5);
            const nudge = a.nudge === true ? { nudge: true } : {};
            if (a.nudge === true) this.stats.nudges++;
            this.deliver(to, q, (t) => ({ kind: "net-heard", member, nowMs: t, ...nudge }), delay);
          });
          break;
        case "read-cluster":
          if (m.diskFault !== undefined) break; // the read fails; the write's outcome says why
          for (const [peer, status] of this.disk) {
            const snapshot = { ...status };
            this.deliver(
              member,
              p,
              (t) => ({ kind: "status-read", member: peer, status: snapshot, nowMs: t }),
              1,
            );
          }
          {
            const n = this.notices.get(member);
            if (n !== undefined) {
              const mail = {
                ...emptyMail(member, n.from),
                kind: MailKind.Fenced,
                sequence: 1,
                incarnation: n.incarnation,
              };
              this.deliver(member, p, (t) => ({ kind: "mail", mail, nowMs: t }), 1);
            }
          }
          break;
        case "acquire-fence-lock":
          this.log(`member ${member} asks for the fencing lock`);
          if (!this.lockQueue.some((r) => r.p === p && r.service === undefined))
            this.queueLock({ member, p });
          break;
        case "release-fence-lock":
          // Releasing clears only this member's own slot, as the bakery does.
          if (this.lockHolder?.p === p && this.lockHolder.service === undefined)
            this.releaseLock("releases the fencing lock");
          break;
        case "fence":
          this.fence(member, p, a.member, a.incarnation);
          break;
        case "write-fenced-notice":
          if (!this.dead.has(`${a.member}/${a.incarnation}`)) {
            this.fail(
              `member ${member} wrote that member ${a.member} was fenced in incarnation ${a.incarnation}, which is still alive`,
            );
          }
          {
            const notice = { incarnation: a.incarnation, from: member };
            const latency = this.rng.int(1, 40);
            this.at(latency, () => this.notices.set(a.member, notice));
            this.deliver(member, p, () => ({ kind: "notice-written" }), latency);
          }
          break;
        case "self-fence":
          this.stats.selfFences++;
          this.log(`member ${member} self-fences: ${JSON.stringify(a.reason)}`);
          this.dead.add(`${member}/${p.incarnation}`);
          m.process = undefined;
          // Production reboots at once, which ends every service there; either way it comes back.
          this.machineDown(m);
          m.bootAtMs = this.now + BOOT_MS;
          this.zombies.push(p.core);
          break;
        case "exit":
          // It stopped everything and marked itself DOWN before leaving: that life is over.
          this.dead.add(`${member}/${p.incarnation}`);
          this.log(`member ${member} stopped cleanly`);
          this.services.checkLeftClean(member);
          m.process = undefined;
          m.bootAtMs = this.now + BOOT_MS;
          break;
        case "membership":
          this.log(
            `member ${member} sees ${a.transition.member}: ${a.transition.from} -> ${a.transition.to} (${a.transition.reason})`,
          );
          break;
        case "report":
          this.log(`member ${member} reports on ${a.member}: ${a.message}`);
          break;
      }
    }
  }

  private writeStatus(
    member: number,
    p: Process,
    state: MemberState,
    heartbeat: number,
    fenced: FencedLife | undefined,
  ): void {
    const m = this.machines[member] as Machine;
    const land = () => {
      if (m.process === p || state === MemberState.Down) {
        this.disk.set(member, {
          state,
          incarnation: p.incarnation,
          heartbeat,
          ...(fenced !== undefined ? { fenced } : {}),
        });
      }
    };
    if (state === MemberState.Down) {
      land();
      return;
    }
    const fault = m.diskFault;
    if (fault?.kind === "error") {
      this.statusWritten(member, p, false, 5);
    } else if (fault?.kind === "hang") {
      this.at(fault.untilMs - this.now, land);
      this.statusWritten(member, p, true, fault.untilMs - this.now + 1);
    } else {
      const latency = this.rng.chance(0.01) ? this.rng.int(200, 1500) : this.rng.int(1, 40);
      // A lost or torn write: the device said yes, but readers still find the earlier version.
      const lost = m.losesWritesUntilMs > this.now && this.rng.chance(0.7);
      if (!lost) this.at(latency, land);
      this.statusWritten(member, p, true, latency);
    }
  }

  /** The heartbeat write (and its reads) settled; after one that landed, the daemon reads the
   * service blocks. */
  private statusWritten(member: number, p: Process, ok: boolean, delayMs: number): void {
    this.onProcess(member, p, delayMs, (t) => {
      this.apply(member, p, p.core.step({ kind: "status-written", ok, readOk: ok, nowMs: t }));
      if (ok && this.machines[member]?.process === p && p.core.finished === undefined)
        this.services.beatLanded(member, p);
    });
  }

  private fence(member: number, p: Process, target: number, incarnation: number): void {
    if (this.lockHolder?.p !== p || this.lockHolder.service !== undefined)
      this.fail(`member ${member} fenced ${target} without holding the fencing lock`);
    const t = this.machines[target] as Machine;
    const falseFenceWindowMs = (TIMING.tkoNetup + 3) * TIMING.intervalMs;
    if (this.now - t.lastFaultMs > falseFenceWindowMs) {
      this.fail(`member ${member} fenced member ${target}, healthy for ${this.now - t.lastFaultMs} ms`);
    }
    // Now and then a switch is slow enough that the target may restart while the cycle is in flight.
    const latency = this.rng.chance(0.1) ? this.rng.int(3_000, MAX_SWITCH_MS) : this.rng.int(200, 3_000);
    const fails =
      t.switchFailsUntilMs > this.now || (t.switchFlapsUntilMs > this.now && this.rng.chance(0.5));
    this.log(
      `member ${member} fences ${target} (incarnation ${incarnation})${fails ? ", switch failing" : ""}`,
    );
    this.at(latency, () => {
      if (!fails) {
        const victim = t.process;
        if (victim !== undefined) this.dead.add(`${target}/${victim.incarnation}`);
        this.dead.add(`${target}/${t.incarnation}`);
        t.process = undefined;
        t.power = "off";
        this.machineDown(t);
        t.frozenUntilMs = 0;
        t.bootAtMs = this.now + BOOT_MS;
        this.stats.fences++;
      } else {
        this.stats.failedFences++;
      }
      const detail = fails ? "the switch did not answer" : "outlet off";
      this.deliver(member, p, (now) => ({
        kind: "fence-result",
        member: target,
        confirmedOff: !fails,
        detail,
        nowMs: now,
      }));
    });
  }

  /** One queue for the disk lock, for fencing and claims alike: a member's uses of its lock
   * slot come one after another, as the daemon chains them. */
  private queueLock(request: LockRequest): void {
    if (this.lockQueue.length >= MAX_LOCK_QUEUE) this.fail("the disk lock's queue overflowed");
    this.lockQueue.push(request);
  }

  private releaseLock(what: string): void {
    this.log(`member ${this.lockHolder?.member} ${what}`);
    this.lockHolder = undefined;
  }

  private checkLock(): void {
    const holder = this.lockHolder;
    if (holder !== undefined) {
      const m = this.machines[holder.member] as Machine;
      // A live, running holder keeps its bakery slot fresh.
      if (m.process === holder.p && m.frozenUntilMs <= this.now) this.lockRefreshedMs = this.now;
      else if (this.now - this.lockRefreshedMs > LOCK_STALE_MS) {
        this.log(`member ${holder.member}'s disk lock went stale`);
        this.lockHolder = undefined;
      }
    }
    if (this.lockHolder !== undefined) return;
    for (let guard = this.lockQueue.length; guard > 0 && this.lockQueue.length > 0; guard--) {
      const next = this.lockQueue.shift() as LockRequest;
      const { member, p } = next;
      if (this.machines[member]?.process !== p) continue; // that process is gone
      const what =
        next.service === undefined ? "the fencing lock" : `the disk lock for service ${next.service}`;
      if (this.machines[member]?.diskFault !== undefined) {
        // Its lock slot cannot be written: the bakery reports failure and it must ask again.
        this.log(`member ${member} cannot take ${what}: its disk fails`);
        this.stats.lockFailures++;
        if (next.service === undefined) this.deliver(member, p, () => ({ kind: "fence-lock-failed" }), 1);
        else this.services.lockFailed(next);
        continue;
      }
      this.lockHolder = next;
      this.lockRefreshedMs = this.now;
      this.log(`member ${member} is granted ${what}`);
      if (next.service !== undefined) {
        this.services.lockGranted(next);
        return;
      }
      const notices = [...this.notices].map(([member, n]) => ({ member, incarnation: n.incarnation }));
      this.deliver(member, p, () => ({ kind: "fence-lock-granted", notices }), 1);
      return;
    }
  }

  private checkStep(): void {
    // Invariant 1: no member is treated as fenced unless its switch confirmed it off.
    this.machines.forEach((m, member) => {
      const p = m.process;
      if (p === undefined) return;
      this.machines.forEach((other, peer) => {
        if (
          peer !== member &&
          p.core.isFenced(peer, other.incarnation) &&
          !this.dead.has(`${peer}/${other.incarnation}`)
        ) {
          this.fail(
            `member ${member} counts member ${peer} fenced in incarnation ${other.incarnation}, which is alive`,
          );
        }
      });
    });
  }

  /** After the quiet time every machine runs again and every member sees every other one up. */
  private checkHealed(): void {
    this.machines.forEach((m, member) => {
      const p = m.process;
      if (p === undefined) this.fail(`member ${member} is still not running after the quiet time`);
      this.machines.forEach((_, peer) => {
        if (peer === member) return;
        const seen = p.core.peerState(peer);
        if (seen !== "up")
          this.fail(`member ${member} still sees member ${peer} as ${seen} after the quiet time`);
      });
    });
  }

  private injectFaults(): void {
    const { rng } = this;
    const perStep = SIM_STEP_MS / 1000;
    // A member that is leaving is not counted on: if a service fails to stop there, it leaves
    // without marking DOWN and waits, like a killed daemon, for a peer to fence it.
    const fine = (m: Machine) =>
      m.process !== undefined &&
      !m.process.stopping &&
      m.frozenUntilMs <= this.now &&
      m.diskFault === undefined &&
      m.losesWritesUntilMs <= this.now;
    this.machines.forEach((m, member) => {
      if (m.process === undefined) return;
      // Someone must stay able to fence, or nothing could heal without an administrator.
      if (!this.machines.some((other) => other !== m && fine(other))) return;
      const r = rng.next();
      // About one fault per member every 25 s of fault time.
      if (r >= 0.04 * perStep) return;
      this.stats.faults++;
      const kind = rng.int(0, 8);
      const ms = rng.int(500, 20_000);
      if (kind === 0) {
        m.frozenUntilMs = this.now + ms;
        this.log(`fault: member ${member} freezes for ${ms} ms`);
      } else if (kind === 1) {
        // Not added to `dead`: a killed daemon's machine is still on, and only a confirmed power-off
        // or the member's own self-fence makes it safe to count as fenced.
        this.log(`fault: member ${member} is killed`);
        m.process = undefined;
      } else if (kind === 2 || kind === 3) {
        m.diskFault = { kind: kind === 2 ? "error" : "hang", untilMs: this.now + ms };
        this.log(`fault: member ${member}'s disk ${m.diskFault.kind}s for ${ms} ms`);
      } else if (kind === 4) {
        this.partitionUntilMs = this.now + ms;
        this.log(`fault: the network drops every heartbeat for ${ms} ms`);
      } else if (kind === 6) {
        m.losesWritesUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s disk loses most writes for ${ms} ms`);
      } else if (kind === 7) {
        this.lossyUntilMs = this.now + ms;
        this.log(`fault: the network loses most heartbeats and delays the rest for ${ms} ms`);
      } else if (kind === 8 && this.options.switchFaults) {
        m.switchFlapsUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s switch fails at random for ${ms} ms`);
      } else if (kind === 5 && this.options.switchFaults) {
        m.switchFailsUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s switch fails for ${ms} ms`);
      } else {
        // Like SIGTERM: a frozen daemon handles it once it runs again. Its services stop first.
        const p = m.process;
        this.onProcess(member, p, 0, () => this.services.leave(member, p));
      }
    });
  }
}
