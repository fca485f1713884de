// One member's core: observations in, actions out, as etcd's raft library does it.
//
// It composes liveness, self-health and fencing and owns this member's heartbeat schedule. The
// daemon (and the simulator) feed it what happened, each stamped with the member's own monotonic
// time, and carry out the actions it returns. It never reads a clock, a disk or a socket.

import type { Mail } from "../disk/mailbox-block.js";
import { MemberState } from "../disk/status-block.js";
import {
  type CondemnedLife,
  type FenceAction,
  type FencedNotice,
  Fencing,
  type FencingConfig,
} from "./fencing.js";
import { type DiskStatus, type FencedLife, Liveness, type PeerState, type Transition } from "./liveness.js";
import { type SelfFenceReason, SelfHealth } from "./self-health.js";

/** Heartbeat intervals a member waits, per live member with a lower id, before fencing. */
export const FENCE_STAGGER_INTERVALS = 2;
/**
 * A nudged heartbeat comes no sooner than this part of an interval after the last one began, so
 * peers' nudges (one per confirmed fence or service let go) can never make this member hammer
 * the shared disk.
 */
export const NUDGE_MIN_GAP_FRACTION = 0.25;
/**
 * A member whose counter stood still for this part of its peers' hang window (tko intervals) may
 * have looked hung to one of them: a fencing grant it asked for before then is not trusted (a peer
 * may have gone past its slot, and be fencing it). Half, so that clocks running at different rates
 * cannot hide it.
 */
export const LOOKED_HUNG_FRACTION = 0.5;

export interface MemberCoreConfig {
  me: number;
  members: number;
  incarnation: number;
  intervalMs: number;
  tko: number;
  tkoNetup: number;
  ioTimeoutMs: number;
  twoMemberDelayMs: number;
  /** Members fenced by their own watchdog: how long after their last sign of life each is surely
   * off (twice its watchdog timeout). */
  watchdogWaitMs?: Readonly<Record<number, number>>;
}

export type Observation =
  | { kind: "tick"; nowMs: number }
  /** `ok`: both copies took it. `readOk`: the cycle's read of everyone's status worked; `mailOk`:
   * the read of this member's own mailbox did (as `readOk` when not given). */
  | { kind: "status-written"; ok: boolean; readOk: boolean; mailOk?: boolean; nowMs: number }
  | { kind: "status-read"; member: number; status: DiskStatus; nowMs: number }
  /** `nudge`: the peer asks for a read of the disk now, ahead of this member's next heartbeat. */
  | { kind: "net-heard"; member: number; nowMs: number; nudge?: boolean }
  | { kind: "mail"; mail: Mail; nowMs: number }
  /** `condemned`: the hung lives the lock was granted past (see Fencing.lockGranted). */
  | { kind: "fence-lock-granted"; notices: readonly FencedNotice[]; condemned?: readonly CondemnedLife[] }
  | { kind: "fence-lock-failed"; nowMs: number }
  | {
      kind: "fence-result";
      member: number;
      confirmedOff: boolean;
      detail: string;
      nowMs: number;
      /** Off was assumed after a wait (a watchdog), not seen. */
      byTime?: boolean;
    }
  /** The fenced notice a confirmed fence asked for reached the disk (`ok`), or could not be written. */
  | { kind: "notice-written"; member: number; incarnation: number; ok: boolean; nowMs: number }
  /** A service block this member wrote lets a service go for another to take: peers should read
   * the disk now, not at their next heartbeat. */
  | { kind: "service-released" }
  | { kind: "stop" };

export type MemberAction =
  /** `fenced`: the last life this member's fence confirmed off, for the others to learn of. */
  | { kind: "write-status"; state: MemberState; incarnation: number; heartbeat: number; fenced?: FencedLife }
  /** `nudge`: this member has put news on the disk its peers should read now. */
  | { kind: "send-heartbeat"; incarnation: number; sequence: number; nudge?: boolean }
  | { kind: "read-cluster" }
  | { kind: "self-fence"; reason: SelfFenceReason }
  | { kind: "exit" }
  | { kind: "membership"; transition: Transition }
  | FenceAction;

export class MemberCore {
  private readonly liveness: Liveness;
  private readonly health: SelfHealth;
  private readonly fencing: Fencing;
  private heartbeat = 0;
  /** The sequence of the last network packet sent: heartbeats and nudges alike. */
  private packets = 0;
  private nextBeatMs: number;
  private lastBeatMs: number;
  /** A peer asked for a read ahead of the next heartbeat, and none has begun since. */
  private nudged = false;
  private writeStartedMs: number | undefined;
  private done: "self-fenced" | "stopped" | undefined;
  /** The fenced life the status write in flight carries, if any. */
  private carriedFenced: FencedLife | undefined;
  /** Asked to stop while a fence was under way: it finishes that first, and starts no other. */
  private stopRequested = false;
  /** The last time this member's counter may have looked hung to a peer (see LOOKED_HUNG_FRACTION). */
  private lookedHungAtMs = Number.NEGATIVE_INFINITY;

  /** `joinedAtMs`: when the joining write to both copies landed (the daemon refuses to join otherwise). */
  /** `makeFencing` builds the fencing part: the simulator's tests swap in broken ones on purpose. */
  constructor(
    private readonly config: MemberCoreConfig,
    joinedAtMs: number,
    makeFencing: (config: FencingConfig) => Fencing = (c) => new Fencing(c),
  ) {
    this.liveness = new Liveness(config, config.me);
    this.health = new SelfHealth(
      {
        ioTimeoutMs: config.ioTimeoutMs,
        incarnation: config.incarnation,
        mailboxBlindMs: config.tko * config.intervalMs,
      },
      joinedAtMs,
    );
    const waits = config.watchdogWaitMs ?? {};
    this.fencing = makeFencing({
      me: config.me,
      members: config.members,
      twoMemberDelayMs: config.twoMemberDelayMs,
      staggerMs: FENCE_STAGGER_INTERVALS * config.intervalMs,
      watchdogWaitMs: (m: number) => waits[m],
    });
    this.nextBeatMs = joinedAtMs;
    this.lastBeatMs = joinedAtMs;
  }

  /** Live members with lower ids than this one, `hung` aside: they fence before this one does. */
  private liveLowerIds(hung: number): number {
    let n = 0;
    for (let m = 0; m < this.config.me; m++) if (m !== hung && this.liveness.state(m) === "up") n++;
    return n;
  }

  /** Why this member has stopped acting, if it has. */
  get finished(): "self-fenced" | "stopped" | undefined {
    return this.done;
  }

  /** How this member sees a peer now, for status and for the simulator's checks. */
  peerState(member: number): PeerState {
    return this.liveness.state(member);
  }

  isFenced(member: number, incarnation: number): boolean {
    return this.fencing.isFenced(member, incarnation);
  }

  /** This member is about to fence that life: the fencing lock may go past its slot. */
  aboutToFence(member: number, incarnation: number): boolean {
    return this.done === undefined && this.fencing.aboutToFence(member, incarnation);
  }

  /** The hung lives the fencing lock was granted past and not yet confirmed off. */
  get lockGrantedPast(): readonly CondemnedLife[] {
    return this.fencing.grantedPast;
  }

  /** Grows each time a peer's status tells this member of a fence it did not know of. */
  get fencesLearned(): number {
    return this.fencing.fencesLearned;
  }

  /** Its last write reached both copies in time and it can see its peers: it may feed its
   * watchdog and fence. */
  healthy(nowMs: number): boolean {
    return this.done === undefined && this.health.healthy(nowMs);
  }

  step(o: Observation): MemberAction[] {
    // A member that self-fenced or stopped must not act again (invariant 4): not even to log.
    if (this.done !== undefined) return [];
    switch (o.kind) {
      case "tick":
        return this.tick(o.nowMs);
      case "status-written": {
        const started = this.writeStartedMs;
        if (started === undefined) throw new Error("a status write finished that was never started");
        this.writeStartedMs = undefined;
        const news = o.ok && this.carriedFenced !== undefined && this.fencing.announced(this.carriedFenced);
        // A write that lands after a long silence ends it: the silence lasted until it began.
        if (this.stillTooLong(started)) this.lookedHungAtMs = started;
        this.health.writeFinished(o.ok, started, o.nowMs);
        this.health.readFinished(o.readOk, o.mailOk ?? o.readOk, o.nowMs);
        const fenced = this.selfFenceIfNeeded(o.nowMs);
        if (fenced.length > 0 || !news) return fenced;
        // The fence is on the disk: the member that takes the services over need not wait for
        // its next heartbeat to read it.
        return [this.nudge()];
      }
      case "service-released":
        return [this.nudge()];
      case "status-read":
        return this.statusRead(o.member, o.status, o.nowMs);
      case "net-heard":
        this.liveness.observeNet(o.member, o.nowMs);
        if (o.nudge !== true) return [];
        this.nudged = true;
        return this.tick(o.nowMs);
      case "mail":
        this.health.mail(o.mail);
        return this.selfFenceIfNeeded(o.nowMs);
      case "fence-lock-granted":
        this.fencing.lockGranted(o.notices, o.condemned);
        return [];
      case "fence-lock-failed":
        this.fencing.lockFailed(o.nowMs);
        return [];
      case "fence-result": {
        const out = this.fencing.fenceResult(o.member, o.confirmedOff, o.detail, o.nowMs, o.byTime ?? false);
        // Peers learn of a confirmed off from this member's next status write: make it now, not up
        // to an interval later, so whoever takes the services over can start sooner.
        if (out.some((a) => a.kind === "write-fenced-notice"))
          this.nextBeatMs = Math.min(this.nextBeatMs, o.nowMs);
        return out;
      }
      case "notice-written":
        this.fencing.noticeWritten(o.member, o.incarnation, o.ok, o.nowMs);
        return [];
      case "stop":
        // A power cycle cannot be taken back, and its notice must reach the disk before another
        // member may take the lock: the stop waits for them, heartbeating meanwhile. (The switch
        // turning the peer on again, after its off, is the daemon's to wait for.)
        if (this.fencing.busy) {
          this.stopRequested = true;
          return [];
        }
        return this.leave();
    }
  }

  private nudge(): MemberAction {
    return {
      kind: "send-heartbeat",
      incarnation: this.config.incarnation,
      sequence: ++this.packets,
      nudge: true,
    };
  }

  private leave(): MemberAction[] {
    this.done = "stopped";
    return [
      ...this.fencing.quiesce(),
      // Marked DOWN cleanly, so no peer fences this member for leaving.
      {
        kind: "write-status",
        state: MemberState.Down,
        incarnation: this.config.incarnation,
        heartbeat: this.heartbeat + 1,
      },
      { kind: "exit" },
    ];
  }

  private selfFenceIfNeeded(nowMs: number): MemberAction[] {
    const reason = this.health.mustSelfFence(nowMs);
    if (reason === undefined) return [];
    this.done = "self-fenced";
    return [{ kind: "self-fence", reason }];
  }

  private tick(nowMs: number): MemberAction[] {
    const fenced = this.selfFenceIfNeeded(nowMs);
    if (fenced.length > 0) return fenced;
    const out: MemberAction[] = [];
    // One status write at a time: a write still pending is io_timeout's business, not a reason to
    // queue another behind it.
    const nudgeDue =
      this.nudged && nowMs - this.lastBeatMs >= NUDGE_MIN_GAP_FRACTION * this.config.intervalMs;
    if ((nowMs >= this.nextBeatMs || nudgeDue) && this.writeStartedMs === undefined) {
      this.heartbeat++;
      this.nudged = false;
      this.lastBeatMs = nowMs;
      this.nextBeatMs = nowMs + this.config.intervalMs;
      this.writeStartedMs = nowMs;
      this.health.writeStarted(nowMs);
      const { incarnation } = this.config;
      this.carriedFenced = this.fencing.lastFenced;
      out.push(
        {
          kind: "write-status",
          state: MemberState.Up,
          incarnation,
          heartbeat: this.heartbeat,
          ...(this.carriedFenced !== undefined ? { fenced: this.carriedFenced } : {}),
        },
        { kind: "send-heartbeat", incarnation, sequence: ++this.packets },
        { kind: "read-cluster" },
      );
    }
    for (const t of this.liveness.tick(nowMs)) {
      out.push({ kind: "membership", transition: t });
      const peer = this.liveness.incarnationOf(t.member);
      if (t.to === "hung" && peer !== undefined)
        this.fencing.hung(
          t.member,
          peer,
          nowMs,
          this.liveLowerIds(t.member),
          this.liveness.lastMoveOf(t.member),
        );
    }
    if (this.stopRequested && !this.fencing.busy) {
      out.push(...this.leave());
      return out;
    }
    if (this.stillTooLong(nowMs)) this.lookedHungAtMs = nowMs;
    out.push(
      ...this.fencing.tick(nowMs, this.health.healthy(nowMs), !this.stopRequested, this.lookedHungAtMs),
    );
    return out;
  }

  /** Whether, at `atMs`, this member's counter had stood still long enough to look hung. */
  private stillTooLong(atMs: number): boolean {
    return this.health.stillForMs(atMs) > LOOKED_HUNG_FRACTION * this.config.tko * this.config.intervalMs;
  }

  private statusRead(member: number, status: DiskStatus, nowMs: number): MemberAction[] {
    if (member === this.config.me) {
      this.health.ownStatus(status.incarnation);
      return this.selfFenceIfNeeded(nowMs);
    }
    const out: MemberAction[] = [];
    const fenced = status.fenced;
    if (fenced?.member === this.config.me) {
      // A peer says it fenced a life of this member: if it is this one, this member must stop now,
      // whether or not the notice in its mailbox can be read.
      this.health.fencedBy(member, fenced.incarnation);
      const stop = this.selfFenceIfNeeded(nowMs);
      if (stop.length > 0) return stop;
    } else if (fenced !== undefined) this.fencing.fencedSeen(fenced.member, fenced.incarnation);
    for (const t of this.liveness.observeDisk(member, status, nowMs)) {
      out.push({ kind: "membership", transition: t });
      if (t.from === "hung") this.fencing.resolved(member, nowMs);
      if (t.to === "up" || t.to === "down") this.fencing.rejoined(member, status.incarnation);
    }
    return out;
  }
}
