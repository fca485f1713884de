// The deterministic simulator: N copies of the real member core over a simulated shared disk,
// network, power switches and clocks, with faults drawn from one seed.
//
// Every member has its own clock offset (the core must never compare clocks across members), and
// the fencing lock behaves like the disk bakery: granted in order of asking, and taken from a
// holder whose slot stops being refreshed for LOCK_STALE_MS.
import type { DiskStatus, PeerState } from "../../src/core/liveness.js";
import {
  type MemberAction,
  MemberCore,
  type MemberCoreConfig,
  type Observation,
} from "../../src/core/member.js";
import { emptyMail, MailKind } from "../../src/disk/mailbox-block.js";
import { MemberState } from "../../src/disk/status-block.js";
import { Random } from "./random.js";

export const SIM_STEP_MS = 100;
const BOOT_MS = 4_000;
const LOCK_STALE_MS = 10_000;
/** Bounds the event queue: a run that schedules more than this is itself a bug. */
const MAX_PENDING_EVENTS = 10_000;

export interface CoreLike {
  step(o: Observation): MemberAction[];
  isFenced(member: number, incarnation: number): boolean;
  peerState(member: number): PeerState;
  readonly finished: string | undefined;
}

export type MakeCore = (config: MemberCoreConfig, joinedAtMs: number) => CoreLike;

export interface SimOptions {
  seed: number;
  members: number;
  /** Faults start only during this first part of the run. */
  faultMs: number;
  /** Then the cluster must heal within this quiet part. */
  quietMs: number;
  switchFaults: boolean;
  makeCore?: MakeCore;
}

export const TIMING = { intervalMs: 1000, tko: 7, tkoNetup: 12, ioTimeoutMs: 3000, twoMemberDelayMs: 2000 };

interface Process {
  core: CoreLike;
  incarnation: number;
  /** My clock = simulated time x this rate + this offset: clocks disagree wildly on purpose,
   * and run up to 1% fast or slow. */
  clockOffsetMs: number;
  clockRate: number;
}

interface Machine {
  power: "on" | "off";
  process: Process | undefined;
  bootAtMs: number | undefined;
  frozenUntilMs: number;
  diskFault: { kind: "error" | "hang"; untilMs: number } | undefined;
  switchFailsUntilMs: number;
  /** Until then its switch fails every other attempt or so: a flapping relay or a flaky line. */
  switchFlapsUntilMs: number;
  /** Until then most of its status writes report success but never land (lost or torn writes). */
  losesWritesUntilMs: number;
  /** Last simulated time this machine was anything but healthy: frozen, dead, off or disk-faulty. */
  lastFaultMs: number;
  incarnation: number;
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
  readonly stats = { fences: 0, failedFences: 0, selfFences: 0, faults: 0, lockFailures: 0 };
  private events: SimEvent[] = [];
  private order = 0;
  private lockHolder: number | undefined;
  /** The holder's slot belongs to its process: a restarted member starts with a clear slot. */
  private lockHolderProcess: Process | undefined;
  private lockQueue: number[] = [];
  private lockRefreshedMs = 0;
  private partitionUntilMs = 0;
  /** Until then heartbeats are lost at random and the rest arrive late. */
  private lossyUntilMs = 0;
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
    }));
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

  /** Delivers an observation to the process that is running now, if it is still that process. */
  private deliver(member: number, p: Process, make: (localMs: number) => Observation, delayMs = 0): void {
    const attempt = () => {
      const m = this.machines[member] as Machine;
      if (m.process !== p) return; // that process is gone
      if (m.frozenUntilMs > this.now) {
        this.events.push({ atMs: m.frozenUntilMs, order: this.order++, run: attempt });
        return;
      }
      this.apply(member, p, p.core.step(make(this.localNow(p))));
    };
    this.at(delayMs, attempt);
  }

  run(): void {
    const end = this.options.faultMs + this.options.quietMs;
    for (; this.now <= end; this.now += SIM_STEP_MS) {
      if (this.now < this.options.faultMs) this.injectFaults();
      this.boot();
      this.runEvents();
      this.tickAll();
      this.checkLock();
      this.checkStep();
    }
    this.checkHealed();
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
      this.apply(member, p, p.core.step({ kind: "tick", nowMs: this.localNow(p) }));
    });
    // A member that self-fenced must never act again, whatever it is told.
    for (const z of this.zombies) {
      if (z.step({ kind: "tick", nowMs: this.now }).length > 0) this.fail("a self-fenced core acted again");
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
        clockOffsetMs: this.rng.int(-1e9, 1e9),
        clockRate: 1 + this.rng.int(-100, 100) / 10_000,
        core: undefined as unknown as CoreLike,
      };
      this.disk.set(member, { state: MemberState.Up, incarnation: m.incarnation, heartbeat: 0 });
      const config = { ...TIMING, me: member, members: this.machines.length, incarnation: m.incarnation };
      const make: MakeCore = this.options.makeCore ?? ((c, t) => new MemberCore(c, t));
      process.core = make(config, this.localNow(process));
      m.process = process;
      this.log(`member ${member} joins in incarnation ${m.incarnation}`);
    });
  }

  private apply(member: number, p: Process, actions: MemberAction[]): void {
    const m = this.machines[member] as Machine;
    for (const a of actions) {
      switch (a.kind) {
        case "write-status":
          this.writeStatus(member, p, a.state, a.heartbeat);
          break;
        case "send-heartbeat":
          if (this.partitionUntilMs > this.now) break;
          this.machines.forEach((peer, to) => {
            const q = peer.process;
            if (to === member || q === undefined) return;
            const lossy = this.lossyUntilMs > this.now;
            if (lossy && this.rng.chance(0.6)) return;
            const delay = lossy ? this.rng.int(1, 2_500) : this.rng.int(1, 5);
            this.deliver(to, q, (t) => ({ kind: "net-heard", member, nowMs: t }), delay);
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
          if (!this.lockQueue.includes(member)) this.lockQueue.push(member);
          break;
        case "release-fence-lock":
          // Releasing clears only this member's own slot, as the bakery does.
          if (this.lockHolderProcess === p) this.lockHolder = undefined;
          this.log(`member ${member} releases the fencing lock`);
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
          // Production reboots at once; the lab exits and is restarted. Either way it comes back.
          m.bootAtMs = this.now + BOOT_MS;
          this.zombies.push(p.core);
          break;
        case "exit":
          // It stopped everything and marked itself DOWN before leaving: that life is over.
          this.dead.add(`${member}/${p.incarnation}`);
          this.log(`member ${member} stopped cleanly`);
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

  private writeStatus(member: number, p: Process, state: MemberState, heartbeat: number): void {
    const m = this.machines[member] as Machine;
    const land = () => {
      if (m.process === p || state === MemberState.Down) {
        this.disk.set(member, { state, incarnation: p.incarnation, heartbeat });
      }
    };
    if (state === MemberState.Down) {
      land();
      return;
    }
    const fault = m.diskFault;
    if (fault?.kind === "error") {
      this.deliver(member, p, (t) => ({ kind: "status-written", ok: false, readOk: false, nowMs: t }), 5);
    } else if (fault?.kind === "hang") {
      this.at(fault.untilMs - this.now, land);
      this.deliver(
        member,
        p,
        (t) => ({ kind: "status-written", ok: true, readOk: true, nowMs: t }),
        fault.untilMs - this.now + 1,
      );
    } else {
      const latency = this.rng.chance(0.01) ? this.rng.int(200, 1500) : this.rng.int(1, 40);
      // A lost or torn write: the device said yes, but readers still find the earlier version.
      const lost = m.losesWritesUntilMs > this.now && this.rng.chance(0.7);
      if (!lost) this.at(latency, land);
      this.deliver(member, p, (t) => ({ kind: "status-written", ok: true, readOk: true, nowMs: t }), latency);
    }
  }

  private fence(member: number, p: Process, target: number, incarnation: number): void {
    if (this.lockHolder !== member || this.lockHolderProcess !== p)
      this.fail(`member ${member} fenced ${target} without holding the fencing lock`);
    const t = this.machines[target] as Machine;
    const falseFenceWindowMs = (TIMING.tkoNetup + 3) * TIMING.intervalMs;
    if (this.now - t.lastFaultMs > falseFenceWindowMs) {
      this.fail(`member ${member} fenced member ${target}, healthy for ${this.now - t.lastFaultMs} ms`);
    }
    // Now and then a switch is slow enough that the target may restart while the cycle is in flight.
    const latency = this.rng.chance(0.1) ? this.rng.int(3_000, 15_000) : this.rng.int(200, 3_000);
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

  private checkLock(): void {
    const holder = this.lockHolder;
    if (holder !== undefined) {
      const m = this.machines[holder] as Machine;
      // A live, running holder keeps its bakery slot fresh.
      if (m.process === this.lockHolderProcess && m.frozenUntilMs <= this.now)
        this.lockRefreshedMs = this.now;
      else if (this.now - this.lockRefreshedMs > LOCK_STALE_MS) {
        this.log(`member ${holder}'s fencing lock went stale`);
        this.lockHolder = undefined;
      }
    }
    if (this.lockHolder !== undefined) return;
    for (let guard = this.lockQueue.length; guard > 0 && this.lockQueue.length > 0; guard--) {
      const next = this.lockQueue.shift() as number;
      const p = this.machines[next]?.process;
      if (p === undefined) continue;
      if (this.machines[next]?.diskFault !== undefined) {
        // Its lock slot cannot be written: the bakery reports failure and it must ask again.
        this.log(`member ${next} cannot take the fencing lock: its disk fails`);
        this.stats.lockFailures++;
        this.deliver(next, p, () => ({ kind: "fence-lock-failed" }), 1);
        continue;
      }
      this.lockHolder = next;
      this.lockHolderProcess = p;
      this.lockRefreshedMs = this.now;
      this.log(`member ${next} is granted the fencing lock`);
      const notices = [...this.notices].map(([member, n]) => ({ member, incarnation: n.incarnation }));
      this.deliver(next, p, () => ({ kind: "fence-lock-granted", notices }), 1);
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
    const fine = (m: Machine) =>
      m.process !== undefined &&
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
        // Like SIGTERM: a frozen daemon handles it once it runs again.
        this.deliver(member, m.process, () => ({ kind: "stop" }));
      }
    });
  }
}
