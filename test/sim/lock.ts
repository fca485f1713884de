// The disk lock in the simulator: the real bakery (src/disk/bakery-core.ts) run over simulated
// lock slots, for every use of the lock there is: a member core's fencing lock, a service claim,
// and cluadmin changing the configuration on a member's machine.
//
// Every step of every bakery can stall (the whole member stops, as SIGSTOP or a VM pause does, and
// resumes exactly where it was), and every slot write can fail, landing on the primary or not, or
// be acknowledged with one copy lost. The slots have two copies (disk.ts); each read takes both
// and believes one by the real rules, never going back from what that reader read before. The
// holders are tracked here, on the simulated disk's side, from the grant to the moment the
// holder lets go: never two at once, unless one of them was granted past the other's slot
// to fence that very life (the only way to take the lock back from a hung holder).
//
// One member's uses of its slot take turns through a lock of that machine's own (the daemon's
// lock chain and the flock it shares with cluadmin); `localKey` names it, so a test can break it.
import {
  type BakeryAction,
  BakeryCore,
  type BakeryObservation,
  judgeSlot,
  LOCK_POLL_MS,
  LOCK_WAIT_MS,
  type LockKnowledge,
  type LockLife,
  type PassedLife,
  type SlotVerdict,
} from "../../src/disk/bakery-core.js";
import { nextGeneration } from "../../src/disk/generations.js";
import { emptyLock, type LockSlot } from "../../src/disk/lock-block.js";
import { type CopyIndex, ownBlockGeneration, type ProcessDisk, type Region, type Version } from "./disk.js";
import type { Random } from "./random.js";

/** Who uses the lock: a member's daemon (to fence, claim a service, or change the configuration
 * for cluadmin) or a tool on its machine while the daemon is not running. */
export interface LockUse {
  kind: "fence" | "claim" | "config" | "tool";
  member: number;
  /** The process or tool it runs in: its callbacks run only while that lives. */
  actor: object;
  /** The life it uses the lock as (the daemon's incarnation; for a tool, read when it starts). */
  incarnation: () => number;
  /** What it knows of fenced lives, and (fencing only) which hung lives it is about to fence. */
  knows: () => Pick<LockKnowledge, "isFenced" | "condemned">;
  granted(grant: { condemned: PassedLife[] }): void;
  /** The bakery gave up without the lock (its wait ran out, a slot write failed, or it was asked to). */
  failed(message: string): void;
  /** The use is over: released (or given up) and its slot cleared, or the clearing given up. */
  done?(): void;
}

/** Everything the lock needs of the world. */
export interface LockHost {
  readonly rng: Random;
  now(): number;
  log(line: string): void;
  fail(message: string): never;
  at(delayMs: number, run: () => void): void;
  /** Runs `run` in the use's actor after `delayMs` (later if its machine is frozen), unless it died. */
  schedule(use: LockUse, delayMs: number, run: (localMs: number) => void): void;
  alive(use: LockUse): boolean;
  /** Alive and not frozen: its timers run. */
  running(use: LockUse): boolean;
  /** The status block of a member as it is on the disk now. */
  status(member: number): { down: boolean; incarnation: number } | undefined;
  /** How a transfer to this member's disk ends now: the latency, and whether it fails. */
  io(member: number, kind: "write" | "read"): SimIo;
  /** The two copies of the lock slots, and a version of one for a write being issued. */
  readonly slots: Region<LockSlot>;
  version(generation: number, slot: LockSlot): Version<LockSlot>;
  /** The process or tool a use runs in, as a reader and writer of the disk. */
  readerOf(use: LockUse): ProcessDisk;
  /** Of the copies a write that lands was sent to, those it reaches: a lost write misses one. */
  copiesTaken(member: number, copies: readonly CopyIndex[]): readonly CopyIndex[];
  /** Freezes the member's machine for `ms`: the next step runs once it thaws. */
  stall(member: number, ms: number): void;
  /** How many times the member's machine has gone down (power off, reset) so far. */
  resets(member: number): number;
  /** Whether faults may still be injected. */
  faulty(): boolean;
}

/** How one transfer ends: its outcome after `ms`; a write reaches the disk after `landMs` if it
 * `lands` at all (a failed write may have reached the primary; a hung one lands when the hang
 * ends), on `copies`. */
export interface SimIo {
  ms: number;
  ok: boolean;
  lands: boolean;
  landMs: number;
  copies: readonly CopyIndex[];
}

/** A bakery, or a broken stand-in for one: the simulator drives whatever it is given. */
export interface BakeryLike {
  step(o: BakeryObservation): BakeryAction;
  abort(reason: string, nowMs: number): BakeryAction | undefined;
  readonly state: string;
}

/** How a waiter judges a slot; `stillMs` is how long the slot has not changed (for broken rules). */
export type SlotJudge = (slot: LockSlot, knows: LockKnowledge, stillMs: number) => SlotVerdict;

export interface LockRules {
  judge: SlotJudge;
  /** Holders and waiters rewrite their slot every LOCK_STALE_MS / 4 (the old rule needed it). */
  refresh?: { everyMs: number };
  /** Which uses take turns on one machine: the same key, one at a time. */
  localKey: (use: LockUse) => string;
}

export function newLockStats() {
  return { lockGrants: 0, lockGrantsPast: 0, lockFailures: 0, bakeryStalls: 0, slotWriteFailures: 0 };
}
export type LockStats = ReturnType<typeof newLockStats>;

export const CORRECT_RULES: LockRules = {
  judge: (slot, knows) => judgeSlot(slot, knows),
  localKey: (use) => `member ${use.member}`,
};

/** Per step of a bakery, while faults last: the member stalls before it. */
const STALL_AT_STEP = 0.01;
const STALL_MS: [number, number] = [200, 20_000];
/** Bounds the uses waiting per machine: each process waits at most once per service and once to
 * fence, and a tool once. */
const MAX_QUEUED_USES = 64;

interface Run {
  use: LockUse;
  core: BakeryLike;
  life: LockLife;
  /** Cancels a sleep once the run gave up. */
  sleep: number;
  granted?: { condemned: PassedLife[]; atMs: number };
  released: boolean;
  lastRefreshMs: number;
}

export class SimLock {
  /** When each member's slot last changed on the disk (for the old rule's "standing still"). */
  private readonly changedAtMs: number[];
  private readonly members: number;
  private readonly queues = new Map<string, LockUse[]>();
  private readonly runs = new Map<LockUse, Run>();
  constructor(
    private readonly host: LockHost,
    private readonly stats: LockStats,
    members: number,
    private readonly rules: LockRules = CORRECT_RULES,
    private readonly makeBakery: (me: number) => BakeryLike = (me) =>
      new BakeryCore({ me, pollMs: LOCK_POLL_MS, waitMs: LOCK_WAIT_MS }),
  ) {
    this.members = members;
    this.changedAtMs = Array.from({ length: members }, () => 0);
    // Initialised partitions: every slot empty on both copies.
    for (let m = 0; m < members; m++) {
      const empty = host.version(nextGeneration([]), Object.freeze(emptyLock(m)));
      host.slots.land(m, 0, empty);
      host.slots.land(m, 1, empty);
    }
  }

  /**
   * Asks for the lock; the answer comes through `use.granted` or `use.failed`. Fencing goes before
   * the member's claims: a claim waiting in the bakery (perhaps behind a hung holder, which only a
   * fence can free) gives up its turn and asks again later, as the daemon's lock queue does.
   */
  request(use: LockUse): void {
    const key = this.rules.localKey(use);
    const queue = this.queues.get(key) ?? [];
    if (queue.length >= MAX_QUEUED_USES)
      this.host.fail(`more than ${MAX_QUEUED_USES} uses of member ${use.member}'s lock slot wait`);
    this.queues.set(key, queue);
    if (use.kind !== "fence") {
      queue.push(use);
      if (queue.length === 1) this.begin(use);
      return;
    }
    const firstClaim = queue.findIndex((u, i) => i > 0 && u.kind !== "fence" && u.kind !== "tool");
    queue.splice(firstClaim < 0 ? queue.length : firstClaim, 0, use);
    if (queue.length === 1) {
      this.begin(use);
      return;
    }
    const head = queue[0] as LockUse;
    const running = this.runs.get(head);
    if (
      (head.kind === "claim" || head.kind === "config") &&
      running !== undefined &&
      running.granted === undefined
    )
      this.release(head);
  }

  /** The holder is done, or a waiter no longer wants the lock. */
  release(use: LockUse): void {
    const run = this.runs.get(use);
    if (run === undefined) {
      // Not started: it simply leaves the queue.
      const queue = this.queues.get(this.rules.localKey(use));
      const i = queue?.indexOf(use) ?? -1;
      if (i > 0) queue?.splice(i, 1);
      return;
    }
    if (run.released) return;
    if (run.granted !== undefined) {
      run.released = true;
      this.host.log(`member ${use.member} lets go of the disk lock (${use.kind})`);
      this.host.schedule(use, 0, (t) => this.feed(run, { kind: "release", nowMs: t }));
      return;
    }
    this.host.schedule(use, 0, (t) => {
      const next = run.core.abort("no longer wanted", t);
      if (next === undefined) return;
      run.sleep++;
      this.perform(run, next);
    });
  }

  /** The use holding the lock for `actor`, if any (a fencer must hold a fencing grant). */
  held(actor: object, kind: LockUse["kind"]): Run | undefined {
    for (const run of this.runs.values())
      if (run.use.actor === actor && run.use.kind === kind && run.granted !== undefined && !run.released)
        return run;
    return undefined;
  }

  /** Everything of a process or tool that died: nothing of it runs again. */
  forget(actor: object): void {
    for (const [key, queue] of this.queues) {
      const head = queue[0];
      const left = queue.filter((u) => u.actor !== actor);
      for (const u of queue) if (u.actor === actor) this.runs.delete(u);
      this.queues.set(key, left);
      if (head !== undefined && head.actor === actor && left[0] !== undefined) this.begin(left[0]);
    }
  }

  /** Whether uses keyed like `use` are under way on its machine (a joining daemon waits for them). */
  busy(use: LockUse): boolean {
    return (this.queues.get(this.rules.localKey(use))?.length ?? 0) > 0;
  }

  /** Every step: the holders now, as the disk side sees them; and the old rule's refreshes. */
  check(): void {
    const dead = new Set<object>();
    for (const queue of this.queues.values())
      for (const use of queue) if (!this.host.alive(use)) dead.add(use.actor);
    for (const actor of dead) this.forget(actor);
    const holding = [...this.runs.values()].filter(
      (r) => r.granted !== undefined && !r.released && this.host.alive(r.use),
    );
    for (let i = 0; i < holding.length; i++)
      for (let j = i + 1; j < holding.length; j++) this.checkPair(holding[i] as Run, holding[j] as Run);
    if (this.rules.refresh !== undefined) this.refresh(this.rules.refresh.everyMs);
  }

  private checkPair(a: Run, b: Run): void {
    const past = (x: Run, y: Run) =>
      x.granted?.condemned.some((l) => l.member === y.life.member && l.incarnation === y.life.incarnation) ===
      true;
    if (past(a, b) || past(b, a)) return;
    this.host.fail(
      `two holders of the disk lock at once: member ${a.use.member} (${a.use.kind}, incarnation ${a.life.incarnation}) and member ${b.use.member} (${b.use.kind}, incarnation ${b.life.incarnation})`,
    );
  }

  private begin(use: LockUse): void {
    const run: Run = {
      use,
      core: this.makeBakery(use.member),
      life: { member: use.member, incarnation: 0 },
      sleep: 0,
      released: false,
      lastRefreshMs: this.host.now(),
    };
    this.runs.set(use, run);
    this.host.schedule(use, 0, (t) => {
      run.life = { member: use.member, incarnation: use.incarnation() };
      this.perform(run, run.core.step({ kind: "begin", nowMs: t }));
    });
  }

  private feed(run: Run, o: BakeryObservation): void {
    if (this.runs.get(run.use) !== run) return;
    this.perform(run, run.core.step(o));
  }

  /** Runs `io` after a stall now and then, as a member that stops between two steps would. */
  private step(run: Run, io: (localMs: number) => void): void {
    const { rng } = this.host;
    if (this.host.faulty() && rng.chance(STALL_AT_STEP)) {
      const ms = rng.int(...STALL_MS);
      this.stats.bakeryStalls++;
      this.host.log(
        `member ${run.use.member} stalls for ${ms} ms in the bakery (${run.core.state}, ${run.use.kind})`,
      );
      this.host.stall(run.use.member, ms);
    }
    this.host.schedule(run.use, 0, io);
  }

  private perform(run: Run, a: BakeryAction): void {
    const { use } = run;
    switch (a.kind) {
      case "write":
        this.step(run, () => this.write(run, a.slot));
        break;
      case "read":
        this.step(run, () => this.read(run));
        break;
      case "sleep": {
        const token = ++run.sleep;
        this.host.schedule(use, a.ms, (t) => {
          if (run.sleep === token) this.feed(run, { kind: "woke", nowMs: t });
        });
        break;
      }
      case "granted":
        run.granted = { condemned: a.condemned, atMs: this.host.now() };
        this.stats.lockGrants++;
        if (a.condemned.length > 0) this.stats.lockGrantsPast++;
        this.host.log(
          `member ${use.member} is granted the disk lock (${use.kind}${a.condemned.length > 0 ? `, past ${a.condemned.map((l) => `${l.member}/${l.incarnation}`).join(", ")}` : ""})`,
        );
        this.check();
        use.granted({ condemned: a.condemned });
        break;
      case "done":
        this.runs.delete(use);
        this.next(use);
        if (!a.granted) {
          this.stats.lockFailures++;
          this.host.log(
            `member ${use.member} did not get the disk lock (${use.kind}): ${a.failure?.message}`,
          );
          use.failed(a.failure?.message ?? "not granted");
        }
        use.done?.();
        break;
    }
  }

  private next(use: LockUse): void {
    const queue = this.queues.get(this.rules.localKey(use)) ?? [];
    if (queue[0] === use) queue.shift();
    if (queue[0] !== undefined) this.begin(queue[0]);
  }

  private write(run: Run, ticket: { choosing: boolean; ticket: number }): void {
    const { use } = run;
    const io = this.host.io(use.member, "write");
    const slot: LockSlot = {
      ...emptyLock(use.member),
      ...ticket,
      incarnation: run.life.incarnation,
      tool: use.kind === "tool",
    };
    if (!io.ok) this.stats.slotWriteFailures++;
    const region = this.host.slots;
    const writer = this.host.readerOf(use);
    const generation = ownBlockGeneration(
      writer,
      `lock/${use.member}`,
      region.copies(use.member),
      region.seenGeneration(writer, use.member),
    );
    const v = this.host.version(generation, Object.freeze(slot));
    // A write lands when the device takes it, whatever becomes of the writer (and even when it
    // reports failure: the primary may have taken it before the backup failed), unless its
    // machine went down first: a reset ends the writes still on their way, as it does the
    // status and service writes.
    if (io.lands) {
      const copies = this.host.copiesTaken(use.member, io.copies);
      const resets = this.host.resets(use.member);
      this.host.at(io.landMs, () => {
        if (this.host.resets(use.member) !== resets) return;
        for (const c of copies) region.land(use.member, c, v);
        this.changedAtMs[use.member] = this.host.now();
      });
    }
    this.host.schedule(use, io.ms + 1, (t) =>
      this.feed(
        run,
        io.ok
          ? { kind: "written", ok: true, nowMs: t }
          : { kind: "written", ok: false, error: "EIO", nowMs: t },
      ),
    );
  }

  private read(run: Run): void {
    const { use } = run;
    const io = this.host.io(use.member, "read");
    this.host.schedule(use, io.ms, (t) => {
      if (!io.ok) {
        this.feed(run, { kind: "read", error: "EIO", nowMs: t });
        return;
      }
      // What the disk holds as the read completes, judged by what the reader knows then; as the
      // pair, a slot believed on neither copy fails the read.
      const now = this.host.now();
      const region = this.host.slots;
      const reader = this.host.readerOf(use);
      const versions: Version<LockSlot>[] = [];
      for (let m = 0; m < this.members; m++) {
        const v = region.read(reader, m, region.copies(m));
        if (v === undefined) {
          this.host.log(`member ${use.member} cannot believe either copy of member ${m}'s lock slot`);
          this.feed(run, { kind: "read", error: "EIO", nowMs: t });
          return;
        }
        versions.push(v);
      }
      const slots = versions.map((v, m) => ({ ...region.feed(reader, m, v) }));
      const knows: LockKnowledge = { status: (m) => this.host.status(m), ...use.knows() };
      this.feed(run, {
        kind: "read",
        slots,
        judge: (slot) => this.rules.judge(slot, knows, now - (this.changedAtMs[slot.member] ?? now)),
        nowMs: t,
      });
    });
  }

  /** The old bakery's refresher: a waiting or holding slot rewritten now and then, its failures
   * ignored. Only a broken variant asks for it. */
  private refresh(everyMs: number): void {
    const now = this.host.now();
    for (const run of this.runs.values()) {
      if (run.released || now - run.lastRefreshMs < everyMs || !this.host.running(run.use)) continue;
      if (run.core.state !== "sleeping" && run.core.state !== "held") continue;
      run.lastRefreshMs = now;
      const io = this.host.io(run.use.member, "write");
      if (!io.lands) continue;
      this.host.at(io.landMs, () => {
        const s = this.host.slots.current(run.use.member);
        if (s !== undefined && s.ticket !== 0) this.changedAtMs[run.use.member] = this.host.now();
      });
    }
  }
}
