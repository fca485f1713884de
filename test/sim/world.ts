// The deterministic simulator: N copies of the real member core, each with the real service core
// beside it (services.ts), over a simulated shared disk, network, power switches, resources and
// clocks, with faults drawn from one seed.
//
// Every member has its own clock offset (the core must never compare clocks across members), and
// the disk lock is the real bakery over simulated lock slots (lock.ts), used by fencing, service
// claims and cluadmin alike, with stalls at every step of it. The status, lock and service blocks
// have two copies each (disk.ts), lost writes, rollbacks and repairs; fenced notices, the
// configuration view and the mail the member reads stay one copy each.

import { fencingView } from "../../src/core/fence-view.js";
import type { FencedLife } from "../../src/core/liveness.js";
import { type MemberAction, MemberCore, type Observation } from "../../src/core/member.js";
import { emptyMail, MailKind } from "../../src/disk/mailbox-block.js";
import { MemberState } from "../../src/disk/status-block.js";
import { watchdogFenceWaitMs } from "../../src/power/watchdog.js";
import {
  type Copies,
  type CopyIndex,
  type GenerationScheme,
  GROWING_GENERATIONS,
  newDiskStats,
  ProcessDisk,
  SimDisk,
  type SimStatus,
  type Version,
} from "./disk.js";
import {
  type BakeryLike,
  CORRECT_RULES,
  type LockHost,
  type LockRules,
  type LockUse,
  newLockStats,
  type SimIo,
  SimLock,
} from "./lock.js";
import {
  BOOT_MS,
  type CoreLike,
  type LockRequest,
  MAX_SWITCH_MS,
  type Machine,
  type MakeCore,
  type MakeServiceCore,
  type Process,
  SIM_STEP_MS,
  TIMING,
  type Tool,
  WATCHDOG_SECONDS,
} from "./model.js";
import { Random } from "./random.js";
import { newServiceStats, SimServices } from "./services.js";

export { type CoreLike, type MakeCore, type MakeServiceCore, SIM_STEP_MS, TIMING };

/** Bounds the event queue: a run that schedules more than this is itself a bug. */
const MAX_PENDING_EVENTS = 10_000;
/** The chance per simulated step, while faults last, that an administrator runs a cluadmin
 * change on some member's machine. */
const TOOL_PER_STEP = 0.004;
/** Higher while a machine is down: that is when an administrator recables one. */
const TOOL_WHILE_DOWN_PER_STEP = 0.02;
/** The chance that a configuration change records a machine (one that is down) moved to another
 * outlet. */
const RECABLE_CHANCE = 0.5;
/** A transfer to the quorum partitions: usually quick, now and then slow. */
const IO_MS: [number, number] = [1, 40];
const SLOW_IO_MS: [number, number] = [200, 1_500];
const SLOW_IO = 0.01;
/** A write that fails still reached the primary this often. */
const FAILED_WRITE_LANDS = 0.5;
/** While a machine's disk loses writes, this share of its writes lose one copy. */
const LOST_WRITE_CHANCE = 0.7;
const BOTH: readonly CopyIndex[] = [0, 1];
const PRIMARY: readonly CopyIndex[] = [0];

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
  /** Some members are fenced by their own watchdog rather than a power switch. */
  watchdogs?: boolean;
  /** cluadmin uses its member's slot itself even while the daemon runs (a broken variant). */
  cluadminBypassesDaemon?: boolean;
  /** Which view names the switch outlet of a member to fence: a test may break it on purpose. */
  fencingView?: typeof fencingView;
  /** The disk lock's rules and bakery: a test may break them on purpose. */
  lockRules?: LockRules;
  makeBakery?: (me: number) => BakeryLike;
  /** How writers choose block generations: a test may put back the old counters. */
  generations?: GenerationScheme;
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
  /** The quorum partitions' two copies of the status, lock and service blocks (disk.ts). */
  readonly disk: SimDisk;
  readonly generations: GenerationScheme;
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
    /** Nudges delivered: peers asked to read the disk ahead of their next heartbeat. */
    nudges: 0,
    /** Configuration changes made by cluadmin under the disk lock. */
    toolChanges: 0,
    /** Fenced notices that could not be written (and were written again). */
    failedNotices: 0,
    /** Machines reset by their own watchdog, and fences that waited for one. */
    watchdogResets: 0,
    watchdogFences: 0,
    /** Fences that took the switch outlet from a newer view than their fencer runs. */
    fencesByNewerView: 0,
    ...newLockStats(),
    ...newServiceStats(),
    ...newDiskStats(),
  };
  readonly services: SimServices;
  readonly lock: SimLock;
  /** The configuration view on the partitions, and every view ever written (each exactly once). */
  configView = 0;
  private readonly viewsWritten = new Set<number>();
  /** Per view, the outlet it names for each member: an administrator who recables a machine
   * stores the new outlet as a new view. */
  private readonly outletsByView = new Map<number, readonly number[]>();
  private nextOutlet = 0;
  private tools = 0;
  private events: SimEvent[] = [];
  private order = 0;
  /** The claim of each service request, as the lock knows it. */
  private readonly claimUses = new WeakMap<LockRequest, LockUse>();
  /** Per member fenced by its watchdog, how long after its last sign of life it is surely off. */
  private readonly watchdogWaitMs: Record<number, number>;
  /** Fences fired and not yet settled, per fenced life: never two at once for one life. */
  private readonly fencesInFlight = new Map<string, { member: number; p: Process }>();
  private partitionUntilMs = 0;
  /** Until then heartbeats are lost at random and the rest arrive late. */
  private lossyUntilMs = 0;
  /** From then on no fault is left: liveness is checked. */
  private quietSinceMs: number | undefined;
  now = 0;

  constructor(readonly options: SimOptions) {
    this.rng = new Random(options.seed);
    this.generations = options.generations ?? GROWING_GENERATIONS;
    this.disk = new SimDisk({
      rng: this.rng,
      stats: this.stats,
      log: (line) => this.log(line),
      fail: (message) => this.fail(message),
    });
    this.machines = Array.from({ length: options.members }, (_, member) => ({
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
      readsFailUntilMs: 0,
      mailReadsFailUntilMs: 0,
      noticeWritesFailUntilMs: 0,
      tools: [],
      outlet: member,
      stuttersUntilMs: 0,
      backupFailsUntilMs: 0,
    }));
    if (options.watchdogs === true) {
      // Half the members, at least one, fence themselves through their watchdog.
      this.machines.forEach((m, i) => {
        if (i === 0 || this.rng.chance(0.5))
          m.watchdog = { timeoutMs: this.rng.int(...WATCHDOG_SECONDS) * 1000, armed: false, lastKickMs: 0 };
      });
    }
    this.outletsByView.set(
      0,
      this.machines.map((m) => m.outlet),
    );
    this.nextOutlet = this.machines.length;
    this.watchdogWaitMs = {};
    this.machines.forEach((m, i) => {
      if (m.watchdog !== undefined) this.watchdogWaitMs[i] = watchdogFenceWaitMs(m.watchdog.timeoutMs / 1000);
    });
    this.services = new SimServices({
      rng: this.rng,
      machines: this.machines,
      stats: this.stats,
      disk: this.disk,
      generations: this.generations,
      copiesTaken: (m) => this.copiesTaken(m),
      faultMs: options.faultMs,
      makeServiceCore: options.makeServiceCore,
      now: () => this.now,
      localNow: (p) => this.localNow(p),
      log: (line) => this.log(line),
      fail: (message) => this.fail(message),
      at: (delayMs, run) => this.at(delayMs, run),
      onProcess: (member, p, delayMs, run) => this.onProcess(member, p, delayMs, run),
      lock: (request) => this.lock.request(this.claimUse(request)),
      unlock: (request) => {
        const use = this.claimUses.get(request);
        if (use !== undefined) this.lock.release(use);
      },
      // As the daemon wires it: a service let go makes the member core nudge its peers.
      released: (member, p) => {
        if (this.machines[member]?.process === p)
          this.apply(member, p, p.core.step({ kind: "service-released" }));
      },
    });
    this.lock = new SimLock(
      this.lockHost(),
      this.stats,
      options.members,
      options.lockRules ?? CORRECT_RULES,
      options.makeBakery,
    );
  }

  /** What the disk lock sees of the world. */
  private lockHost(): LockHost {
    return {
      rng: this.rng,
      now: () => this.now,
      log: (line) => this.log(line),
      fail: (message) => this.fail(message),
      at: (delayMs, run) => this.at(delayMs, run),
      resets: (member) => (this.machines[member] as Machine).resets,
      schedule: (use, delayMs, run) => {
        const actor = use.actor as Process | Tool;
        if ("kind" in actor) this.onTool(actor, delayMs, run);
        else this.onProcess(use.member, actor, delayMs, run);
      },
      alive: (use) => this.actorAlive(use),
      running: (use) =>
        this.actorAlive(use) && (this.machines[use.member] as Machine).frozenUntilMs <= this.now,
      status: (member) => {
        const s = this.disk.status.current(member);
        return s === undefined || s.state === MemberState.None
          ? undefined
          : { down: s.state === MemberState.Down, incarnation: s.incarnation };
      },
      io: (member, kind) => this.io(member, kind),
      slots: this.disk.lock,
      version: (generation, slot) => this.disk.version(generation, slot),
      readerOf: (use) => (use.actor as Process | Tool).disk,
      copiesTaken: (member, copies) => this.copiesTaken(this.machines[member] as Machine, copies),
      stall: (member, ms) => {
        const m = this.machines[member] as Machine;
        m.frozenUntilMs = Math.max(m.frozenUntilMs, this.now + ms);
      },
      faulty: () => this.now < this.options.faultMs,
    };
  }

  private actorAlive(use: LockUse): boolean {
    const actor = use.actor as Process | Tool;
    return "kind" in actor ? actor.alive : this.machines[use.member]?.process === actor;
  }

  /**
   * One transfer between a member and the quorum partitions, with that member's disk faults: an
   * error fails it (a write may still have reached the primary); a hang past io_timeout misses its
   * deadline, and a write lands anyway when the hang ends, unless the machine went down first.
   */
  private io(member: number, kind: "write" | "read"): SimIo {
    const m = this.machines[member] as Machine;
    const fault = m.diskFault;
    if (fault?.kind === "error") {
      const lands = kind === "write" && this.rng.chance(FAILED_WRITE_LANDS);
      return { ms: 5, ok: false, lands, landMs: 2, copies: PRIMARY };
    }
    if (kind === "read" && m.readsFailUntilMs > this.now)
      return { ms: 5, ok: false, lands: false, landMs: 0, copies: [] };
    // The primary takes it; the backup refuses it.
    if (kind === "write" && m.backupFailsUntilMs > this.now)
      return { ms: 6, ok: false, lands: true, landMs: 2, copies: PRIMARY };
    if (fault?.kind === "hang") {
      const hangMs = fault.untilMs - this.now;
      const ok = hangMs <= TIMING.ioTimeoutMs;
      const lands = kind === "write";
      return { ms: ok ? hangMs + 1 : TIMING.ioTimeoutMs, ok, lands, landMs: hangMs, copies: BOTH };
    }
    const ms = this.rng.chance(SLOW_IO) ? this.rng.int(...SLOW_IO_MS) : this.rng.int(...IO_MS);
    return { ms, ok: true, lands: kind === "write", landMs: ms, copies: BOTH };
  }

  /** A service claim's use of the disk lock, made once per request. */
  private claimUse(request: LockRequest): LockUse {
    const { member, p } = request;
    const use: LockUse = {
      kind: "claim",
      member,
      actor: p,
      incarnation: () => p.incarnation,
      // A claim goes past no live slot: it waits for a hung holder until that life is fenced.
      knows: () => ({ isFenced: (m, i) => p.core.isFenced(m, i) }),
      granted: () => this.services.lockGranted(request),
      failed: () => this.services.lockFailed(request),
    };
    this.claimUses.set(request, use);
    return use;
  }

  /** The member core's fencing lock: under it, the fenced notices are read, then the core is told. */
  private fenceUse(member: number, p: Process): LockUse {
    const use: LockUse = {
      kind: "fence",
      member,
      actor: p,
      incarnation: () => p.incarnation,
      knows: () => ({
        isFenced: (m, i) => p.core.isFenced(m, i),
        condemned: (m, i) => p.core.aboutToFence(m, i),
      }),
      granted: (grant) => {
        const io = this.io(member, "read");
        const notices = [...this.notices].map(([m, n]) => ({ member: m, incarnation: n.incarnation }));
        this.onProcess(member, p, io.ms, (t) => {
          if (!io.ok) {
            // The daemon's work under the lock threw: the lock goes, and the core asks again.
            this.log(`member ${member} cannot read the fenced notices under the lock`);
            this.lock.release(use);
            if (p.fenceUse === use) p.fenceUse = undefined;
            this.apply(member, p, p.core.step({ kind: "fence-lock-failed", nowMs: t }));
            return;
          }
          this.apply(
            member,
            p,
            p.core.step({ kind: "fence-lock-granted", notices, condemned: grant.condemned }),
          );
        });
      },
      failed: () => {
        if (p.fenceUse === use) p.fenceUse = undefined;
        this.deliver(member, p, (t) => ({ kind: "fence-lock-failed", nowMs: t }), 1);
      },
    };
    return use;
  }

  /** Whether the disk says `member` was fenced in `incarnation` (a tool's only knowledge). */
  private fencedOnDisk(member: number, incarnation: number): boolean {
    if ((this.notices.get(member)?.incarnation ?? 0) >= incarnation) return true;
    for (const key of this.disk.status.keys()) {
      const s = this.disk.status.current(key);
      if (s?.fenced?.member === member && s.fenced.incarnation >= incarnation) return true;
    }
    return false;
  }

  /** Runs `run` in a tool after `delayMs`, if it still lives then; a frozen machine freezes it. */
  private onTool(tool: Tool, delayMs: number, run: (localMs: number) => void): void {
    const attempt = () => {
      if (!tool.alive) return;
      const m = this.machines[tool.member] as Machine;
      if (m.frozenUntilMs > this.now) {
        this.events.push({ atMs: m.frozenUntilMs, order: this.order++, run: attempt });
        return;
      }
      run(this.now);
    };
    this.at(delayMs, attempt);
  }

  /**
   * An administrator runs a cluadmin change on a member's machine. With the member's daemon
   * running there, cluadmin hands the change to it, and the daemon makes it under its own use of
   * the slot; without one, cluadmin takes the slot itself as a tool, which is safe only while its
   * member's life is DOWN (or it never joined): a life that may be over is no life to name.
   * Either way, under the disk lock it reads the configuration's view, looks again, and writes the
   * next view.
   */
  private maybeTool(): void {
    const down = this.machines.some((mm) => mm.process === undefined && mm.bootAtMs !== undefined);
    if (!this.rng.chance(down ? TOOL_WHILE_DOWN_PER_STEP : TOOL_PER_STEP)) return;
    const member = this.rng.int(0, this.machines.length - 1);
    const m = this.machines[member] as Machine;
    if (m.power === "off") return;
    const p = m.process;
    if (p !== undefined && this.options.cluadminBypassesDaemon !== true) {
      this.log(`an administrator runs cluadmin on member ${member}'s machine: its daemon makes the change`);
      const use: LockUse = {
        kind: "config",
        member,
        actor: p,
        incarnation: () => p.incarnation,
        knows: () => ({ isFenced: (mm, i) => p.core.isFenced(mm, i) }),
        granted: () => this.changeView(use, (ms, run) => this.onProcess(member, p, ms, run)),
        failed: () => {},
      };
      this.lock.request(use);
      return;
    }
    const status = this.disk.status.current(member);
    if (p === undefined && status?.state === MemberState.Up) {
      this.log(`an administrator runs cluadmin on member ${member}'s machine: refused, its life may be over`);
      return;
    }
    const tool: Tool = {
      kind: "tool",
      member,
      id: ++this.tools,
      alive: true,
      disk: new ProcessDisk(`cluadmin on member ${member}'s machine`),
    };
    m.tools.push(tool);
    const incarnation = status?.incarnation ?? 0;
    const use: LockUse = {
      kind: "tool",
      member,
      actor: tool,
      incarnation: () => incarnation,
      knows: () => ({ isFenced: (mm, i) => this.fencedOnDisk(mm, i) }),
      granted: () => this.changeView(use, (ms, run) => this.onTool(tool, ms, run)),
      failed: () => {},
      // cluadmin exits once its slot is clear again.
      done: () => {
        tool.alive = false;
        m.tools = m.tools.filter((t) => t !== tool);
      },
    };
    this.log(`an administrator runs cluadmin on member ${member}'s machine (tool ${tool.id})`);
    this.lock.request(use);
  }

  /** A configuration change under the disk lock: read the view, look again, write the next one. */
  private changeView(use: LockUse, later: (ms: number, run: () => void) => void): void {
    const { member } = use;
    const first = this.io(member, "read");
    const view = this.configView;
    later(first.ms, () => {
      const again = this.io(member, "read");
      later(again.ms, () => {
        if (!first.ok || !again.ok || this.configView !== view) {
          this.lock.release(use);
          return;
        }
        const write = this.io(member, "write");
        // Unless the machine went down first: a reset ends the writes still on their way.
        const m = this.machines[member] as Machine;
        const resets = m.resets;
        if (write.lands)
          this.at(write.landMs, () => {
            if (m.resets === resets) this.writeView(member, view + 1);
          });
        later(write.ms, () => this.lock.release(use));
      });
    });
  }

  /** A configuration view lands on the partitions: each view must be written exactly once. */
  private writeView(member: number, view: number): void {
    if (this.viewsWritten.has(view))
      this.fail(`two configuration writers produced view ${view} twice (the second from member ${member})`);
    this.viewsWritten.add(view);
    const outlets = [...(this.outletsByView.get(view - 1) ?? [])];
    // A machine is recabled while it is down (moving the plug of a running one would switch it
    // off), with no fence of it under way; the change records its new outlet.
    const down = this.machines.flatMap((mm, i) => {
      const beingFenced = [...this.fencesInFlight.keys()].some((life) => life.startsWith(`${i}/`));
      return mm.process === undefined && mm.bootAtMs !== undefined && !beingFenced ? [i] : [];
    });
    if (this.rng.chance(RECABLE_CHANCE) && down.length > 0) {
      const moved = this.rng.pick(down);
      const m = this.machines[moved] as Machine;
      outlets[moved] = this.nextOutlet++;
      m.outlet = outlets[moved] as number;
      this.log(
        `an administrator moves member ${moved}'s machine, which is down, to outlet ${m.outlet} and records it`,
      );
    }
    this.outletsByView.set(view, outlets);
    this.configView = Math.max(this.configView, view);
    this.stats.toolChanges++;
    this.log(`member ${member} writes configuration view ${view}`);
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
      this.disk.step(this.now, this.now < this.options.faultMs);
      if (this.now < this.options.faultMs) {
        this.injectFaults();
        this.services.maybeAdminRequest();
        this.maybeTool();
      } else this.restartOldViews();
      this.boot();
      this.runEvents();
      this.tickAll();
      this.lock.check();
      this.checkStep();
      if (this.quietSinceMs === undefined && this.quiet()) this.quietSinceMs = this.now;
      this.services.check(this.quietSinceMs);
    }
    this.checkHealed();
  }

  /**
   * Once the faults are over, the administrator does what clumanager(8) asks after a change:
   * restarts each member that still runs an older configuration view (until every live member
   * runs one view, no service is placed). Only while every machine runs a member that is not
   * stopping, so that someone is left to fence and take over: first one member, then, once one
   * runs the current view, all the others at once.
   */
  private restartOldViews(): void {
    const whole = this.machines.every((m) => m.process !== undefined && !m.process.stopping);
    if (!whole) return;
    const old = this.machines.flatMap((m, member) =>
      m.process !== undefined && m.process.configView !== this.configView ? [{ member, p: m.process }] : [],
    );
    const current = old.length < this.machines.length;
    for (const { member, p } of current ? old : old.slice(0, 1)) {
      this.log(`an administrator restarts member ${member}, which runs view ${p.configView}`);
      this.onProcess(member, p, 0, () => this.services.leave(member, p));
    }
  }

  /** The faults are over: none is injected any more, and none injected earlier lasts; and every
   * member runs the configuration's current view. */
  private quiet(): boolean {
    const now = this.now;
    return (
      now >= this.options.faultMs &&
      this.machines.every((m) => m.process === undefined || m.process.configView === this.configView) &&
      this.partitionUntilMs <= now &&
      this.lossyUntilMs <= now &&
      this.disk.quiet(now) &&
      this.machines.every(
        (m) =>
          m.frozenUntilMs <= now &&
          m.diskFault === undefined &&
          m.switchFailsUntilMs <= now &&
          m.switchFlapsUntilMs <= now &&
          m.losesWritesUntilMs <= now &&
          m.readsFailUntilMs <= now &&
          m.mailReadsFailUntilMs <= now &&
          m.noticeWritesFailUntilMs <= now &&
          m.stuttersUntilMs <= now &&
          m.backupFailsUntilMs <= now,
      )
    );
  }

  /**
   * A member that stalls, wakes for a moment (long enough to write a heartbeat and feed its
   * watchdog), and stalls again, a few times over: each stall long enough to be declared hung.
   * A fence fired at the first stall may still be waiting for a watchdog when it is fed again.
   */
  private stutter(member: number, m: Machine): void {
    const { rng } = this;
    const hangWindowMs = TIMING.tko * TIMING.intervalMs;
    let at = 0;
    const cycles = rng.int(2, 4);
    for (let i = 0; i < cycles; i++) {
      const stallMs = rng.int(hangWindowMs + 200, hangWindowMs + 4_000);
      this.at(at, () => {
        m.frozenUntilMs = Math.max(m.frozenUntilMs, this.now + stallMs);
      });
      at += stallMs + rng.int(300, 2_500);
    }
    m.stuttersUntilMs = this.now + at;
    this.log(`fault: member ${member} stalls ${cycles} times, waking briefly in between, for ${at} ms`);
  }

  /** A watchdog not fed for its timeout resets its machine: whatever life ran there is over. It
   * keeps counting while the daemon is stalled or killed, as a hardware watchdog does. */
  private watchdogFires(m: Machine, member: number): void {
    const w = m.watchdog;
    if (w === undefined || !w.armed || this.now - w.lastKickMs <= w.timeoutMs) return;
    this.stats.watchdogResets++;
    this.log(`member ${member}'s watchdog fires: not fed for ${this.now - w.lastKickMs} ms`);
    if (m.process !== undefined) this.dead.add(`${member}/${m.process.incarnation}`);
    this.dead.add(`${member}/${m.incarnation}`);
    m.process = undefined;
    this.machineDown(m);
    m.frozenUntilMs = 0;
    m.bootAtMs = this.now + BOOT_MS;
  }

  /** The power went off, or the machine reset itself: everything that ran on it has ended. */
  private machineDown(m: Machine): void {
    m.running.clear();
    m.resets++;
    if (m.watchdog !== undefined) m.watchdog.armed = false;
    for (const t of m.tools) t.alive = false;
    m.tools = [];
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
      this.watchdogFires(m, member);
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
      // Joining takes the machine's own lock on the member's slot: a cluadmin using the slot as the
      // current life must finish first, or the new life would free that slot under it.
      if (this.lock.busy(this.probeUse(member))) return;
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
        services: this.services.newCore(member, m.incarnation, this.configView),
        isFenced: (peer, incarnation) => process.core.isFenced(peer, incarnation),
        memberView: [],
        // As the daemon: it runs the partitions' view, whatever its local file held.
        configView: this.configView,
        peerViews: new Map(),
        joinedLocalMs: 0,
        stopping: false,
        memberStopFed: false,
        owedNotices: [],
        disk: new ProcessDisk(`member ${member} (incarnation ${m.incarnation})`),
      };
      // Joining writes the status block to both copies, above whatever generation either holds.
      const joined = this.statusVersion(member, process, {
        state: MemberState.Up,
        incarnation: m.incarnation,
        heartbeat: 0,
        configView: process.configView,
      });
      this.disk.status.land(member, 0, joined);
      this.disk.status.land(member, 1, joined);
      const config = {
        ...TIMING,
        me: member,
        members: this.machines.length,
        incarnation: m.incarnation,
        watchdogWaitMs: this.watchdogWaitMs,
      };
      const make: MakeCore = this.options.makeCore ?? ((c, t) => new MemberCore(c, t));
      process.joinedLocalMs = this.localNow(process);
      process.core = make(config, process.joinedLocalMs);
      m.process = process;
      // Armed once it has joined, when its first write has landed: fed from now on.
      if (m.watchdog !== undefined) {
        m.watchdog.armed = true;
        m.watchdog.lastKickMs = this.now;
      }
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
        case "read-cluster": {
          // The cycle's reads come after its write: a failing disk fails them, a hung one holds
          // them until the hang ends, and a fault of the reads alone fails them.
          const fault = m.diskFault;
          p.beatReadFailed = fault?.kind === "error" || m.readsFailUntilMs > this.now;
          p.beatMailFailed = fault?.kind === "error" || m.mailReadsFailUntilMs > this.now;
          const delay = fault?.kind === "hang" ? fault.untilMs - this.now + 1 : 1;
          // Both copies of every block, as the read takes them; what it believes is settled
          // once it completes, against what this process read before.
          const region = this.disk.status;
          const read: { peer: number; copies: Copies<SimStatus> }[] = p.beatReadFailed
            ? []
            : region.keys().map((peer) => ({ peer, copies: region.copies(peer) }));
          const unreadable = read.filter((r) => !region.readable(r.copies)).map((r) => r.peer);
          if (unreadable.length > 0) {
            // As the pair: a block believed on neither copy fails the read of the region.
            this.stats.unreadableBlocks += unreadable.length;
            this.log(`member ${member} cannot believe either copy of status blocks ${unreadable.join(", ")}`);
            p.beatReadFailed = true;
          }
          for (const { peer, copies } of p.beatReadFailed ? [] : read) {
            this.deliver(
              member,
              p,
              (t) => {
                const v = region.read(p.disk, peer, copies) as Version<SimStatus>;
                // A member rewrites a bad copy of its own block only, never of another's, once the
                // read is done (its own write, begun with the read here, may have landed since).
                if (peer === member) region.repairOwn(p.disk, peer, region.copies(peer), v);
                const snapshot = { ...region.feed(p.disk, peer, v) };
                if (peer !== member)
                  p.peerViews.set(peer, { incarnation: snapshot.incarnation, view: snapshot.configView });
                return { kind: "status-read", member: peer, status: snapshot, nowMs: t };
              },
              delay,
            );
          }
          if (!p.beatMailFailed) {
            const n = this.notices.get(member);
            if (n !== undefined) {
              const mail = {
                ...emptyMail(member, n.from),
                kind: MailKind.Fenced,
                sequence: 1,
                incarnation: n.incarnation,
              };
              this.deliver(member, p, (t) => ({ kind: "mail", mail, nowMs: t }), delay);
            }
          }
          break;
        }
        case "acquire-fence-lock":
          this.log(`member ${member} asks for the fencing lock`);
          if (p.fenceUse !== undefined) this.fail(`member ${member} asked for the fencing lock twice`);
          p.fenceUse = this.fenceUse(member, p);
          this.lock.request(p.fenceUse);
          break;
        case "release-fence-lock":
          this.checkNoticesBeforeRelease(member, p);
          if (p.fenceUse !== undefined) this.lock.release(p.fenceUse);
          p.fenceUse = undefined;
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
          p.owedNotices.push({ member: a.member, incarnation: a.incarnation });
          {
            const notice = { incarnation: a.incarnation, from: member };
            const io = this.io(member, "write");
            const ok = io.ok && m.noticeWritesFailUntilMs <= this.now;
            if (io.lands && ok) this.at(io.landMs, () => this.notices.set(a.member, notice));
            if (!ok) this.stats.failedNotices++;
            this.log(
              `member ${member} writes member ${a.member}'s fenced notice (incarnation ${a.incarnation})${ok ? "" : ": it fails"}`,
            );
            this.deliver(
              member,
              p,
              (t) => ({ kind: "notice-written", member: a.member, incarnation: a.incarnation, ok, nowMs: t }),
              io.ms,
            );
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
          // Marked DOWN: its watchdog is disarmed with the magic close.
          if (m.watchdog !== undefined) m.watchdog.armed = false;
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

  /** A status write is issued by its member's process: its generation, and its place in the
   * real order of writes. */
  private statusVersion(member: number, p: Process, status: SimStatus): Version<SimStatus> {
    const region = this.disk.status;
    const generation = this.generations.status(
      p.disk,
      member,
      region.copies(member),
      region.seenGeneration(p.disk, member),
      status.heartbeat,
    );
    return this.disk.version(generation, Object.freeze(status));
  }

  private writeStatus(
    member: number,
    p: Process,
    state: MemberState,
    heartbeat: number,
    fenced: FencedLife | undefined,
  ): void {
    const m = this.machines[member] as Machine;
    const v = this.statusVersion(member, p, {
      state,
      incarnation: p.incarnation,
      heartbeat,
      configView: p.configView,
      ...(fenced !== undefined ? { fenced } : {}),
    });
    const land = (copies: readonly CopyIndex[]) => () => {
      if (m.process === p || state === MemberState.Down)
        for (const c of copies) this.disk.status.land(member, c, v);
    };
    if (state === MemberState.Down) {
      land([0, 1])();
      return;
    }
    const fault = m.diskFault;
    if (fault?.kind === "error") {
      // The primary may have taken it before the backup failed: readers see it move.
      if (this.rng.chance(FAILED_WRITE_LANDS)) this.at(2, land([0]));
      this.statusWritten(member, p, false, 5);
    } else if (m.backupFailsUntilMs > this.now) {
      this.at(2, land([0]));
      this.statusWritten(member, p, false, 6);
    } else if (fault?.kind === "hang") {
      this.at(fault.untilMs - this.now, land([0, 1]));
      this.statusWritten(member, p, true, fault.untilMs - this.now + 1);
    } else {
      const latency = this.rng.chance(0.01) ? this.rng.int(200, 1500) : this.rng.int(1, 40);
      this.at(latency, land(this.copiesTaken(m)));
      this.statusWritten(member, p, true, latency);
    }
  }

  /** Of the copies a write was sent to, those it reaches: a disk that loses writes loses one of
   * two (never both: no design survives that). */
  private copiesTaken(m: Machine, copies: readonly CopyIndex[] = BOTH): readonly CopyIndex[] {
    if (copies.length < 2 || !(m.losesWritesUntilMs > this.now && this.rng.chance(LOST_WRITE_CHANCE)))
      return copies;
    this.stats.lostWrites++;
    return this.rng.chance(0.5) ? [0] : [1];
  }

  /** The heartbeat write (and its reads) settled; after one that landed, the daemon reads the
   * service blocks. */
  private statusWritten(member: number, p: Process, ok: boolean, delayMs: number): void {
    const m = this.machines[member] as Machine;
    // The cycle's reads fail with a failing write, and alone under their own faults.
    this.onProcess(member, p, delayMs, (t) => {
      const readOk = ok && p.beatReadFailed !== true;
      const mailOk = ok && p.beatMailFailed !== true;
      this.apply(member, p, p.core.step({ kind: "status-written", ok, readOk, mailOk, nowMs: t }));
      // As the daemon: only a write that landed, by a member that is still healthy, feeds it.
      if (ok && m.watchdog?.armed === true && m.process === p && p.core.healthy(t))
        m.watchdog.lastKickMs = this.now;
      if (ok && this.machines[member]?.process === p && p.core.finished === undefined)
        this.services.beatLanded(member, p);
    });
  }

  private fence(member: number, p: Process, target: number, incarnation: number): void {
    const held = this.lock.held(p, "fence");
    if (held === undefined) this.fail(`member ${member} fenced ${target} without holding the fencing lock`);
    // Granted past hung lives, it may fence those and nothing else until it knows they are off.
    const past = held.granted?.condemned.filter((l) => !p.core.isFenced(l.member, l.incarnation)) ?? [];
    if (past.length > 0 && !past.some((l) => l.member === target))
      this.fail(
        `member ${member} fenced member ${target} under a grant past ${past.map((l) => `${l.member}/${l.incarnation}`).join(", ")}, which may only fence those`,
      );
    const life = `${target}/${incarnation}`;
    // In flight while its fencer lives to act on the result: a fencer that died (powered off as a
    // hung lock holder, say) acts on nothing, whatever its switch still does. The one exception:
    // two holders at once, one granted past the other as hung (and fencing it). Each may then
    // fence what the other fences: neither can know the other lives, which is why the grant past
    // a hung holder fires at that holder first.
    const other = this.fencesInFlight.get(life);
    const wentPast = (a: Process | undefined, b: { member: number; incarnation: number }) =>
      a !== undefined &&
      this.lock
        .held(a, "fence")
        ?.granted?.condemned.some((l) => l.member === b.member && l.incarnation === b.incarnation) === true;
    const eitherPast =
      other !== undefined &&
      (wentPast(p, { member: other.member, incarnation: other.p.incarnation }) ||
        wentPast(other.p, { member, incarnation: p.incarnation }));
    if (other !== undefined && this.machines[other.member]?.process === other.p && !eitherPast)
      this.fail(
        `member ${member} fenced member ${target} in incarnation ${incarnation} while member ${other.member}'s fence of that life was in flight`,
      );
    const t = this.machines[target] as Machine;
    const falseFenceWindowMs = (TIMING.tkoNetup + 3) * TIMING.intervalMs;
    if (this.now - t.lastFaultMs > falseFenceWindowMs) {
      this.fail(`member ${member} fenced member ${target}, healthy for ${this.now - t.lastFaultMs} ms`);
    }
    if (t.watchdog !== undefined) {
      this.fenceByWatchdog(member, p, target, incarnation, life);
      return;
    }
    // As the daemon: the outlet the partitions' current view names, read under the fencing lock.
    const outletIn = (view: number) => {
      const outlets = this.outletsByView.get(view);
      if (outlets === undefined) throw new Error(`no view ${view} was written`);
      return outlets[target] as number;
    };
    const chosen = (this.options.fencingView ?? fencingView)(
      { view: p.configView, value: outletIn(p.configView) },
      { view: this.configView, value: () => outletIn(this.configView) },
    );
    if (!chosen.ok) this.fail(`member ${member} could not choose a view to fence with: ${chosen.reason}`);
    const outlet = chosen.use.value;
    if (chosen.use.view !== p.configView) this.stats.fencesByNewerView++;
    // Now and then a switch is slow enough that the target may restart while the cycle is in flight.
    const latency = this.rng.chance(0.1) ? this.rng.int(3_000, MAX_SWITCH_MS) : this.rng.int(200, 3_000);
    const fails =
      t.switchFailsUntilMs > this.now || (t.switchFlapsUntilMs > this.now && this.rng.chance(0.5));
    this.log(
      `member ${member} fences ${target} (incarnation ${incarnation})${fails ? ", switch failing" : ""}`,
    );
    const mine = { member, p };
    this.fencesInFlight.set(life, mine);
    const settle = () => {
      if (this.fencesInFlight.get(life) === mine) this.fencesInFlight.delete(life);
    };
    this.at(latency, () => {
      if (!fails && outlet !== t.outlet) {
        // The switch turns off the outlet it was told, which no longer powers that machine, and
        // says so truthfully: off.
        this.log(
          `member ${member}'s switch turns off outlet ${outlet}; member ${target} is on outlet ${t.outlet}`,
        );
      } else if (!fails) {
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
      this.deliver(member, p, (now) => {
        settle();
        return { kind: "fence-result", member: target, confirmedOff: !fails, detail, nowMs: now };
      });
    });
  }

  /**
   * A watchdog cannot be switched off: the fencer waits twice its timeout and assumes it fired,
   * as WatchdogSwitch does. Nothing happens to the machine: only its own watchdog resets it, if
   * it was not fed meanwhile; the core must not count it off sooner.
   */
  private fenceByWatchdog(
    member: number,
    p: Process,
    target: number,
    incarnation: number,
    life: string,
  ): void {
    const waitMs = this.watchdogWaitMs[target] as number;
    this.stats.watchdogFences++;
    this.log(
      `member ${member} fences ${target} (incarnation ${incarnation}) by waiting ${waitMs} ms for its watchdog`,
    );
    const mine = { member, p };
    this.fencesInFlight.set(life, mine);
    this.at(waitMs, () =>
      this.deliver(member, p, (now) => {
        if (this.fencesInFlight.get(life) === mine) this.fencesInFlight.delete(life);
        return {
          kind: "fence-result",
          member: target,
          confirmedOff: true,
          detail: `waited ${waitMs} ms for its watchdog`,
          nowMs: now,
          byTime: true,
        };
      }),
    );
  }

  /** A fencer lets go of the fencing lock only once the notice of every life it fenced is on the
   * disk: the next holder must find it, or it would power-cycle that member again. */
  private checkNoticesBeforeRelease(member: number, p: Process): void {
    for (const life of p.owedNotices) {
      const n = this.notices.get(life.member);
      if (n === undefined || n.incarnation < life.incarnation)
        this.fail(
          `member ${member} let go of the fencing lock before the notice of member ${life.member}'s fence (incarnation ${life.incarnation}) was on the disk`,
        );
    }
    p.owedNotices = [];
  }

  /** A use of the lock as a member's daemon, to ask whether that machine's lock is taken. */
  private probeUse(member: number): LockUse {
    return {
      kind: "claim",
      member,
      actor: this,
      incarnation: () => 0,
      knows: () => ({ isFenced: () => false }),
      granted: () => {},
      failed: () => {},
    };
  }

  private checkStep(): void {
    // Invariant 1: no member is treated as fenced unless its switch confirmed it off.
    this.machines.forEach((m, member) => {
      const p = m.process;
      if (p === undefined) return;
      this.machines.forEach((other, peer) => {
        if (
          peer !== member &&
          other.incarnation > 0 &&
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
      m.losesWritesUntilMs <= this.now &&
      m.readsFailUntilMs <= this.now &&
      m.stuttersUntilMs <= this.now &&
      m.backupFailsUntilMs <= this.now;
    this.machines.forEach((m, member) => {
      if (m.process === undefined) return;
      // Someone must stay able to fence, or nothing could heal without an administrator.
      if (!this.machines.some((other) => other !== m && fine(other))) return;
      const r = rng.next();
      // About one fault per member every 25 s of fault time.
      if (r >= 0.04 * perStep) return;
      this.stats.faults++;
      const kind = rng.int(0, 13);
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
        this.log(`fault: member ${member}'s disk loses one copy of most writes for ${ms} ms`);
      } else if (kind === 7) {
        this.lossyUntilMs = this.now + ms;
        this.log(`fault: the network loses most heartbeats and delays the rest for ${ms} ms`);
      } else if (kind === 8 && this.options.switchFaults) {
        m.switchFlapsUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s switch fails at random for ${ms} ms`);
      } else if (kind === 5 && this.options.switchFaults) {
        m.switchFailsUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s switch fails for ${ms} ms`);
      } else if (kind === 9) {
        m.readsFailUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s reads of the status blocks fail for ${ms} ms, its writes land`);
      } else if (kind === 10) {
        m.mailReadsFailUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s reads of its own mailbox fail for ${ms} ms`);
      } else if (kind === 12) {
        this.stutter(member, m);
      } else if (kind === 13) {
        m.backupFailsUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s writes reach the primary and fail on the backup for ${ms} ms`);
      } else if (kind === 11) {
        m.noticeWritesFailUntilMs = this.now + ms;
        this.log(`fault: member ${member}'s fenced notices cannot be written for ${ms} ms`);
      } else {
        // Like SIGTERM: a frozen daemon handles it once it runs again. Its services stop first.
        const p = m.process;
        this.onProcess(member, p, 0, () => this.services.leave(member, p));
      }
    });
  }
}
