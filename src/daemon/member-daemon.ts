// One member, running: the thin adapter that feeds the pure core (src/core/member.ts) from real
// timers, the quorum partitions, UDP heartbeats and power switches, and carries out its actions.
//
// Everything the core decides stays in the core. What lives here is ordering and bookkeeping the
// core cannot do without I/O: status writes go to the disk one at a time and in order, the fencing
// lock is held from "granted" to "release", and every outcome comes back as an observation.
import { performance } from "node:perf_hooks";
import type { ChangeResult, ChangeToCommit } from "../admin/change.js";
import type { MemberRow } from "../admin/cluster-status.js";
import type { ClusterConfig, MemberConfig } from "../config/model.js";
import { type MemberAction, MemberCore, type Observation } from "../core/member.js";
import type { SelfFenceReason } from "../core/self-health.js";
import type { AdminRequest } from "../core/services.js";
import type { Repair } from "../disk/errors.js";
import { MailKind } from "../disk/mailbox-block.js";
import type { ServiceRecord } from "../disk/service-block.js";
import { MemberState, type MemberStatus, type ServiceRequest } from "../disk/status-block.js";
import { ChannelState } from "../heartbeat/channel-state.js";
import type { HeartbeatChannels } from "../heartbeat/channels.js";
import { switchIdentity } from "../power/create.js";
import { powerCycle } from "../power/power-cycle.js";
import { watchdogFenceWaitMs } from "../power/watchdog.js";
import { fencePower } from "./fence-power.js";
import type { Logger } from "./logger.js";
import type { BeatOutcome, QuorumIo } from "./quorum-io.js";
import { ServiceDaemon } from "./service-daemon.js";
import { requestFromWire, requestToWire } from "./service-requests.js";

/** The core is ticked this many times per heartbeat interval, within the bounds below. */
export const TICKS_PER_INTERVAL = 10;
export const MIN_TICK_MS = 10;
export const MAX_TICK_MS = 100;
/** Heartbeat intervals after joining before this member places any service. */
export const SERVICE_SETTLE_INTERVALS = 2;
/** A change cluadmin hands over must get the disk lock within this, or it is not made (cluadmin
 * waits DAEMON_CHANGE_WAIT_MS for the answer, which is longer). */
export const CONFIG_WORK_DEADLINE_MS = 30_000;
/** Service requests waiting to be passed on to their owners, at most. */
export const MAX_QUEUED_REQUESTS = 16;
/** Each passed-on request stays in this member's status block for this many heartbeats: its
 * owner reads every status block each heartbeat, so it sees it unless it is failing anyway. */
export const REQUEST_HOLD_BEATS = 3;
/** A request still queued after this long is dropped: cluadmin has stopped waiting for it. */
export const REQUEST_EXPIRY_MS = 60_000;

export interface MemberDaemonOptions {
  config: ClusterConfig;
  member: MemberConfig;
  incarnation: number;
  io: QuorumIo;
  /** Opened by the caller, which hands this daemon the heard-callback's target. */
  net: HeartbeatChannels | undefined;
  log: Logger;
  /** Stop everything now: reboot in production, exit in the lab. Never returns normally. */
  selfFence: (reason: SelfFenceReason) => void;
  /** This member's own watchdog, fed after every write that reached both copies. */
  watchdog?: { kick(): void };
  /** The member's monotonic clock in ms; performance.now() unless a test says otherwise. */
  now?: () => number;
}

/** A member as this daemon sees it: a row of cluster status, before its power switch is added. */
export type PeerView = Omit<MemberRow, "power" | "lastWrite">;

export function tickMs(intervalMs: number): number {
  return Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(intervalMs / TICKS_PER_INTERVAL)));
}

export class MemberDaemon {
  readonly core: MemberCore;
  readonly channels: ChannelState;
  private readonly now: () => number;
  private readonly statuses = new Map<number, MemberStatus>();
  private readonly fenceReports = new Map<number, { message: string; atMs: number }>();
  /** Damage reported in the last complete heartbeat read, so each finding is logged once. */
  private damageSeen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Status writes in order: a clean DOWN must never be overtaken by an earlier UP still in flight. */
  private statusWrites: Promise<unknown> = Promise.resolve();
  private releaseLock: (() => void) | undefined;
  private lockSettled: Promise<void> = Promise.resolve();
  /** Resolves once stopped: true when the member was marked DOWN, false when that write failed. */
  private readonly exited: Promise<boolean>;
  private resolveExited!: (markedDown: boolean) => void;
  /** Power-switch actions under way here. */
  fencesInFlight = 0;
  readonly services: ServiceDaemon;
  /** Per switch, the power cycles this member runs on it, one after another. */
  private readonly switchSessions = new Map<string, Promise<void>>();
  /** Every use of this member's lock slot, fencing or taking a service, one after another. */
  private lockChain: Promise<void> = Promise.resolve();
  /** A stop was asked for: services are being stopped before the member marks itself DOWN. */
  private stopping = false;
  /** No more heartbeats, ever: its peers must see the counter stop (see halt()). */
  private halted = false;
  /** cluadmin's changes handed to this daemon and not yet settled. */
  private configsUnderWay: Promise<void> = Promise.resolve();
  /** Whether live members ran different configuration views at the last tick (said once). */
  private viewsDiffered = false;
  private memberStopFed = false;
  private startedMs = 0;
  /** Requests for services other members own, carried one at a time in this member's status. */
  private readonly outgoing: { request: ServiceRequest; queuedMs: number }[] = [];
  private outgoingBeats = 0;
  private requestSequence = 0;
  /** Per asking member: the life and the last request sequence this member acted on. */
  private readonly requestsSeen = new Map<number, { incarnation: number; sequence: number }>();
  readonly counters = { beats: 0, writeFailures: 0, readFailures: 0, repairs: 0, fences: 0 };

  constructor(private readonly o: MemberDaemonOptions) {
    this.now = o.now ?? (() => performance.now());
    const { cluster, members } = o.config;
    const intervalMs = cluster.heartbeatInterval * 1000;
    this.core = new MemberCore(
      {
        me: o.member.id,
        members: members.length,
        incarnation: o.incarnation,
        intervalMs,
        tko: cluster.tko,
        tkoNetup: cluster.tkoNetup,
        ioTimeoutMs: cluster.ioTimeout * 1000,
        twoMemberDelayMs: cluster.fenceDelay * 1000,
        watchdogWaitMs: watchdogWaits(members),
      },
      this.now(),
    );
    this.channels = new ChannelState({ intervalMs, tko: cluster.tko });
    this.services = new ServiceDaemon(o.config, o.member, o.incarnation, o.io.configView, {
      log: o.log,
      writeService: (record) => o.io.writeService(record),
      readService: (service) => this.readServiceBlock(service),
      underLock: (service, work) => this.withLock(service, work),
      guard: (work) => this.guard(work),
      healthy: () => this.core.healthy(this.now()),
      conflict: (message) => {
        this.o.log.crit({ event: "service-conflict" }, `self-fencing: ${message}`);
        this.halt();
        this.o.selfFence({ kind: "io-timeout", detail: message });
      },
      forward: (to, incarnation, request) => this.forward(to, incarnation, request),
      // Its next owner need not wait for a heartbeat to find it free.
      released: () => this.feed({ kind: "service-released" }),
    });
    this.exited = new Promise((r) => {
      this.resolveExited = r;
    });
  }

  get incarnation(): number {
    return this.o.incarnation;
  }

  /** Transfers to the quorum partitions since joining. */
  get diskTransfers(): { reads: number; writes: number } {
    return this.o.io.transfers;
  }

  /** Starts ticking; resolves `finished` after a clean stop. */
  start(): void {
    this.startedMs = this.now();
    const every = tickMs(this.o.config.cluster.heartbeatInterval * 1000);
    this.timer = setInterval(() => this.tick(), every);
    this.tick();
  }

  private tick(): void {
    if (this.halted) return;
    const nowMs = this.now();
    this.feed({ kind: "tick", nowMs });
    if (this.core.finished !== undefined) return;
    // Peers count as homes for services only while their heartbeat moves; this member only while
    // it is healthy and not leaving.
    // Each with the configuration view its status block says it runs (-1: none read yet).
    const members = this.o.config.members.map((m) => ({
      id: m.id,
      eligible:
        m.id === this.o.member.id
          ? this.core.healthy(nowMs) && !this.stopping
          : this.core.peerState(m.id) === "up",
      view: m.id === this.o.member.id ? this.o.io.configView : (this.statuses.get(m.id)?.configView ?? -1),
    }));
    // A member that just joined has not seen its peers yet: placing services at once would take
    // everything, preferred elsewhere or not. Two intervals let every live peer's write be read.
    if (nowMs - this.startedMs >= SERVICE_SETTLE_INTERVALS * this.o.config.cluster.heartbeatInterval * 1000)
      this.services.tick(nowMs, members, this.core.healthy(nowMs), (m, i) => this.core.isFenced(m, i));
    this.noteViews(members);
    if (this.stopping && !this.memberStopFed && this.services.idle) {
      // Every service of this member is stopped and recorded: now it may leave.
      this.memberStopFed = true;
      this.feed({ kind: "stop" });
    } else if (this.stopping && !this.memberStopFed && this.services.onlyFailedLeft) {
      // A service that failed to stop cannot be handed on cleanly. Leaving without marking DOWN
      // lets a peer fence this member, which ends the service and frees it.
      this.memberStopFed = true;
      const failed = this.services.core.failedHere.join(", ");
      this.o.log.err(
        { event: "stop" },
        `cannot leave cleanly: ${failed} failed to stop here; leaving without marking DOWN, so a peer fences this member and recovers it`,
      );
      this.halt();
      void this.lockSettled.then(() => this.cyclesDone()).then(() => this.resolveExited(false));
    }
  }

  /**
   * Runs `work` holding the disk lock, after whatever holds or awaits it here, with service
   * block `service` as it is on the disk now.
   */
  private withLock(service: number, work: (fresh: ServiceRecord) => Promise<void>): Promise<void> {
    return this.underDiskLock(async () => work(await this.readServiceBlock(service)));
  }

  /** One service block as every reader sees it now. */
  private async readServiceBlock(service: number): Promise<ServiceRecord> {
    const record = (await this.o.io.readServices()).records[service];
    if (record === undefined) throw new Error(`service block ${service} is not on the partitions`);
    return record;
  }

  /** Runs `work` holding the disk lock, queued behind this member's other uses of it. */
  private underDiskLock<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lockChain.then(async () => {
      let done!: () => void;
      const released = new Promise<void>((r) => {
        done = r;
      });
      let result: { value: T } | undefined;
      await this.o.io.holdLock(
        this.o.incarnation,
        // A claim goes past no live slot: it waits for a hung holder until that life is fenced.
        { isFenced: (m, i) => this.core.isFenced(m, i) },
        async () => {
          try {
            result = { value: await work() };
          } finally {
            done();
          }
        },
        released,
        new AbortController().signal,
      );
      if (result === undefined) throw new Error("the disk lock was let go before the work under it was done");
      return result.value;
    });
    this.lockChain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** A configuration change cluadmin handed to this daemon, which holds the member's slot. */
  configChange(change: ChangeToCommit): Promise<ChangeResult> {
    return this.configWork(() => this.o.io.commitChange(change));
  }

  /** cluadmin's "cluster backup", handed to this daemon. */
  configBackup(text: string, view: number): Promise<{ backup: number; view: number }> {
    return this.configWork(() => this.o.io.commitBackup(text, view));
  }

  /**
   * Runs cluadmin's work under this member's use of the disk lock. None is taken once the member
   * is leaving, and DOWN is written only after any under way (a slot marked DOWN is passed over
   * by every peer). Work that did not get the lock within CONFIG_WORK_DEADLINE_MS writes nothing:
   * cluadmin has stopped waiting for it by then.
   */
  private configWork<T>(work: () => Promise<T>): Promise<T> {
    if (this.stopping || this.core.finished !== undefined || this.halted)
      return Promise.reject(new Error("this member is leaving; make the change on another member"));
    const deadline = this.now() + CONFIG_WORK_DEADLINE_MS;
    const run = this.underDiskLock(() => {
      if (this.now() > deadline)
        throw new Error(
          `the disk lock was not free within ${CONFIG_WORK_DEADLINE_MS / 1000} s (a fence may be under way); nothing was written, try again`,
        );
      return work();
    });
    this.configsUnderWay = Promise.all([this.configsUnderWay, run.catch(() => {})]).then(() => {});
    return run;
  }

  get finished(): Promise<boolean> {
    return this.exited;
  }

  /** A network heartbeat from `member` arrived on channel `channel`; `nudge`: it asks for a read now. */
  heard(member: number, channel: number, nudge = false): void {
    // A nudge would start a heartbeat, which a halted member must never write again.
    if (this.halted) return;
    const nowMs = this.now();
    this.channels.heard(member, channel, nowMs);
    this.feed({ kind: "net-heard", member, nowMs, ...(nudge ? { nudge } : {}) });
  }

  /**
   * Leaves cleanly: once any fence under way and its notice are done, marks this member DOWN so
   * no peer fences it, then resolves `finished` once every power cycle has also switched its
   * member on again (an exit before that would leave a fenced peer off).
   */
  stop(): Promise<boolean> {
    if (!this.stopping) {
      this.stopping = true;
      this.services.feed({ kind: "leave" });
    }
    return this.exited;
  }

  /** How this member sees everyone, for the admin socket. */
  view(): PeerView[] {
    const nowMs = this.now();
    const me = this.o.member.id;
    return this.o.config.members.map((m) => {
      const s = this.statuses.get(m.id);
      const fence = this.fenceReports.get(m.id);
      const state =
        m.id === me
          ? this.core.finished === undefined
            ? "up"
            : this.core.finished
          : s !== undefined && this.core.isFenced(m.id, s.incarnation)
            ? "fenced"
            : this.core.peerState(m.id);
      return {
        id: m.id,
        name: m.name,
        state,
        ...(m.id === me ? { incarnation: this.o.incarnation } : {}),
        ...(s !== undefined && m.id !== me ? { incarnation: s.incarnation, heartbeat: s.heartbeat } : {}),
        channels: m.channels.map((_, i) => (m.id === me ? "self" : this.channels.health(m.id, i, nowMs))),
        ...(fence !== undefined ? { fence } : {}),
      };
    });
  }

  private feed(o: Observation): void {
    this.execute(this.core.step(o));
  }

  private execute(actions: MemberAction[]): void {
    const reads = actions.some((a) => a.kind === "read-cluster");
    for (const a of actions) {
      switch (a.kind) {
        case "write-status":
          if (a.state === MemberState.Up) this.beat(a.incarnation, a.heartbeat, reads, a.fenced);
          else this.leave(a.incarnation, a.heartbeat);
          break;
        case "read-cluster":
          // Always paired with the heartbeat write, which reads in the same cycle (see beat()).
          break;
        case "send-heartbeat":
          void this.o.net?.send(a.incarnation, a.sequence, a.nudge === true).catch((err: unknown) => {
            this.o.log.debug({ err: String(err) }, "sending a network heartbeat failed");
          });
          break;
        case "membership": {
          const t = a.transition;
          const peer = this.o.config.members.find((m) => m.id === t.member);
          this.o.log.notice(
            {
              event: "membership",
              peer: t.member,
              peerName: peer?.name,
              peerIncarnation: this.statuses.get(t.member)?.incarnation,
              from: t.from,
              to: t.to,
              reason: t.reason,
            },
            `member ${peer?.name ?? t.member}: ${t.from} -> ${t.to} (${t.reason})`,
          );
          break;
        }
        case "acquire-fence-lock":
          this.acquireLock();
          break;
        case "release-fence-lock":
          this.releaseLock?.();
          this.releaseLock = undefined;
          break;
        case "fence":
          this.guard(this.fence(a.member, a.incarnation, a.attempt));
          break;
        case "write-fenced-notice":
          this.guard(
            this.o.io
              .writeFencedNotice(a.member, a.incarnation)
              .then(
                () => {
                  this.o.log.info(
                    { event: "fenced-notice", peer: a.member, peerIncarnation: a.incarnation },
                    `wrote the fenced notice into member ${a.member}'s mailbox`,
                  );
                  return true;
                },
                (err: unknown) => {
                  this.o.log.err(
                    { event: "fenced-notice", peer: a.member, err: String(err) },
                    `could not write the fenced notice for member ${a.member}, so this member keeps the fencing lock and writes it again: ${String(err)}`,
                  );
                  return false;
                },
              )
              // The lock is held until the notice is on the disk, so the next holder finds it.
              .then((ok) =>
                this.feed({
                  kind: "notice-written",
                  member: a.member,
                  incarnation: a.incarnation,
                  ok,
                  nowMs: this.now(),
                }),
              ),
          );
          break;
        case "report":
          this.fenceReports.set(a.member, { message: a.message, atMs: Date.now() });
          this.o.log.warning(
            { event: "fence", peer: a.member, peerIncarnation: a.incarnation },
            `member ${a.member} (incarnation ${a.incarnation}): ${a.message}`,
          );
          break;
        case "self-fence":
          this.halt();
          this.o.log.emerg(
            { event: "self-fence", reason: a.reason },
            `self-fencing: ${describeSelfFence(a.reason)}`,
          );
          this.o.selfFence(a.reason);
          break;
        case "exit":
          break;
      }
    }
  }

  private forward(to: number, incarnation: number, request: AdminRequest): boolean {
    if (this.outgoing.length >= MAX_QUEUED_REQUESTS) return false;
    this.outgoing.push({
      request: requestToWire(request, to, incarnation, ++this.requestSequence),
      queuedMs: this.now(),
    });
    return true;
  }

  /** The request this heartbeat carries: each stays REQUEST_HOLD_BEATS heartbeats, then the next. */
  private carriedRequest(): ServiceRequest | undefined {
    const nowMs = this.now();
    while (this.outgoing[0] !== undefined && nowMs - this.outgoing[0].queuedMs > REQUEST_EXPIRY_MS) {
      const late = this.outgoing.shift() as { request: ServiceRequest };
      this.outgoingBeats = 0;
      this.o.log.warning(
        { event: "service-request", peer: late.request.to },
        `dropped a request for service ${late.request.service} to member ${late.request.to}: not carried within ${REQUEST_EXPIRY_MS / 1000} s`,
      );
    }
    const q = this.outgoing[0];
    if (q !== undefined && ++this.outgoingBeats >= REQUEST_HOLD_BEATS) {
      this.outgoing.shift();
      this.outgoingBeats = 0;
    }
    return q?.request;
  }

  /** A peer's status carries a request for this life: act on it once. */
  private requestFromPeer(peer: MemberStatus, q: ServiceRequest): void {
    if (q.to !== this.o.member.id) return;
    const seen = this.requestsSeen.get(peer.member);
    if (seen !== undefined && seen.incarnation === peer.incarnation && seen.sequence >= q.sequence) return;
    this.requestsSeen.set(peer.member, { incarnation: peer.incarnation, sequence: q.sequence });
    if (q.toIncarnation !== this.o.incarnation) {
      this.o.log.notice(
        { event: "service-request", peer: peer.member },
        `ignored member ${peer.member}'s request for service ${q.service}: it was meant for this member's earlier life ${q.toIncarnation}`,
      );
      return;
    }
    if (!this.o.config.services.some((s) => s.id === q.service)) {
      this.o.log.warning(
        { event: "service-request", peer: peer.member },
        `member ${peer.member} asked about service ${q.service}, which is not configured here; the configurations differ`,
      );
      return;
    }
    this.services.ask(requestFromWire(q), true);
  }

  private beat(
    incarnation: number,
    heartbeat: number,
    reads: boolean,
    fenced: MemberStatus["fenced"] | undefined,
  ): void {
    if (!reads) throw new Error("the core asked for a heartbeat write without the cycle's reads");
    const request = this.carriedRequest();
    const status = {
      ...this.o.io.status(MemberState.Up, incarnation, heartbeat),
      ...(request !== undefined ? { request } : {}),
      ...(fenced !== undefined ? { fenced } : {}),
    };
    const done = this.statusWrites.then(() => this.o.io.beat(status));
    this.statusWrites = done;
    this.guard(done.then((r) => this.beatDone(r)));
  }

  /**
   * Runs an action's promise to its end. Anything it throws is a bug in this daemon; a member
   * that can no longer trust itself stops, as it would on a failed write, rather than go on half
   * alive (or crash with its status UP and its lock slot taken).
   */
  private guard(work: Promise<unknown>): void {
    work.catch((err: unknown) => {
      const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
      this.o.log.crit(
        { event: "internal-error", err: detail },
        `internal error, self-fencing: ${String(err)}`,
      );
      this.halt();
      this.o.selfFence({ kind: "io-timeout", detail: `internal error: ${String(err)}` });
    });
  }

  private beatDone(r: BeatOutcome): void {
    this.counters.beats++;
    // A damaged block another member owns is served from the other copy every cycle until its
    // owner rewrites it: it is logged when it is first found, not once per heartbeat.
    const found = new Set<string>();
    for (const repair of r.repairs) {
      this.counters.repairs++;
      const key = `${repair.region}/${repair.index}/${repair.repaired}/${repair.problem}/${repair.done}`;
      found.add(key);
      if (this.damageSeen.has(key)) continue;
      this.o.log.warning({ event: "repair", repair }, `quorum partition: ${describeRepair(repair)}`);
    }
    if (r.error === undefined) this.damageSeen = found;
    else for (const key of found) this.damageSeen.add(key);
    const nowMs = this.now();
    if (!r.written) {
      this.counters.writeFailures++;
      this.o.log.err({ event: "write-failed", error: r.error }, `status write failed: ${r.error}`);
    } else if (r.error !== undefined) {
      this.counters.readFailures++;
      this.o.log.warning(
        { event: "read-failed", error: r.error },
        `reading the cluster's state failed: ${r.error}`,
      );
    }
    this.feed({
      kind: "status-written",
      ok: r.written,
      readOk: r.statuses !== undefined,
      mailOk: r.mail !== undefined,
      nowMs,
    });
    // Only a member whose write reached both copies in time keeps its watchdog fed: one stuck in
    // the kernel, or cut off from the disk, is reset by it. The core judges "in time".
    if (r.written && this.core.healthy(nowMs)) this.o.watchdog?.kick();
    const known = new Set(this.o.config.members.map((m) => m.id));
    const learned = this.core.fencesLearned;
    for (const s of r.statuses ?? []) {
      if (s.member === this.o.member.id) {
        // Read back: a newer life of this member there means another daemon runs in its slot.
        this.feed({ kind: "status-read", member: s.member, status: s, nowMs });
        continue;
      }
      if (!known.has(s.member) || s.state === MemberState.None) continue;
      this.statuses.set(s.member, s);
      this.feed({ kind: "status-read", member: s.member, status: s, nowMs });
      if (s.request !== undefined && s.state === MemberState.Up && this.core.finished === undefined)
        this.requestFromPeer(s, s.request);
    }
    for (const mail of r.mail ?? []) {
      if (mail.kind !== MailKind.Empty) this.feed({ kind: "mail", mail, nowMs });
    }
    if (this.core.finished === undefined && r.written) this.readServices();
    // A peer's fence frees its services: whoever takes them over starts now, not a tick later.
    if (this.core.fencesLearned > learned && this.core.finished === undefined) this.tick();
  }

  /** The service blocks, after each heartbeat: what the service manager decides from. */
  private readServices(): void {
    // Stamped when the read begins, so the core can tell a read older than its own last write.
    const epoch = this.services.core.epoch;
    this.guard(
      this.o.io.readServices().then(
        (s) => {
          if (this.core.finished === undefined)
            this.services.feed({ kind: "records", records: s.records, epoch });
        },
        (err: unknown) =>
          this.o.log.warning(
            { event: "read-failed", error: String(err) },
            `reading the service blocks failed: ${String(err)}`,
          ),
      ),
    );
  }

  private leave(incarnation: number, heartbeat: number): void {
    const status = this.o.io.status(MemberState.Down, incarnation, heartbeat);
    // After the last heartbeat write has settled, whatever it did, and after any change cluadmin
    // handed over: DOWN must land last.
    const done = Promise.all([this.statusWrites.catch(() => {}), this.configsUnderWay]).then(() =>
      this.o.io.writeStatus(status),
    );
    this.statusWrites = done.catch(() => {});
    this.halt();
    void done
      .then(
        () => {
          this.o.log.notice({ event: "stopped" }, "marked DOWN on the quorum partitions; leaving cleanly");
          return true;
        },
        (err: unknown) => {
          this.o.log.err(
            { event: "stopped", err: String(err) },
            `could not mark this member DOWN, so its peers will fence it: ${String(err)}`,
          );
          return false;
        },
      )
      .then(async (markedDown) => {
        await this.lockSettled;
        await this.cyclesDone();
        this.resolveExited(markedDown);
      });
  }

  /** No more ticks, and the fencing lock is given back. */
  private halt(): void {
    this.halted = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.releaseLock?.();
    this.releaseLock = undefined;
  }

  private acquireLock(): void {
    let granted = false;
    const giveUp = new AbortController();
    const released = new Promise<void>((r) => {
      this.releaseLock = () => {
        giveUp.abort();
        r();
      };
    });
    this.lockSettled = this.lockChain
      .then(() =>
        this.o.io.holdLock(
          this.o.incarnation,
          {
            isFenced: (m, i) => this.core.isFenced(m, i),
            condemned: (m, i) => this.core.aboutToFence(m, i),
          },
          async (grant) => {
            const { notices, unreadable } = await this.o.io.fencedNotices();
            if (unreadable.length > 0)
              this.o.log.err(
                { event: "fence-lock", unreadable },
                `mailbox blocks ${unreadable.join(", ")} are bad on both quorum partitions, so fenced notices there cannot be read (a member may be power-cycled twice); repair them with cludiskutil --repair`,
              );
            granted = true;
            const past = grant.condemned.map((l) => `member ${l.member} (incarnation ${l.incarnation})`);
            this.o.log.info(
              { event: "fence-lock", condemned: grant.condemned },
              past.length === 0
                ? "holding the fencing lock"
                : `holding the fencing lock past the slot of ${past.join(", ")}, hung: fencing only them until they are off`,
            );
            this.feed({ kind: "fence-lock-granted", notices, condemned: grant.condemned });
          },
          released,
          giveUp.signal,
        ),
      )
      .catch((err: unknown) => {
        this.o.log.warning({ event: "fence-lock", err: String(err) }, `fencing lock: ${String(err)}`);
        if (!granted) this.feed({ kind: "fence-lock-failed", nowMs: this.now() });
      });
    this.lockChain = this.lockSettled;
  }

  /** Says once, when it begins and when it ends, that live members run different views. */
  private noteViews(members: readonly { id: number; eligible: boolean; view: number }[]): void {
    const differ = this.services.core.viewsDiffer();
    if (differ === this.viewsDiffered) return;
    this.viewsDiffered = differ;
    const me = this.o.io.configView;
    if (!differ) {
      this.o.log.notice({ event: "config", view: me }, `every live member runs configuration view ${me}`);
      return;
    }
    const others = members
      .filter((m) => m.eligible && m.view !== me)
      .map((m) => `${this.o.config.members.find((c) => c.id === m.id)?.name ?? m.id} runs view ${m.view}`);
    this.o.log.warning(
      { event: "config", view: me },
      `live members run different configuration views (this member view ${me}; ${others.join(", ")}): no service is placed or moved until they agree; restart clumanager on each member that runs an older view`,
    );
  }

  /** Every power cycle under way here has ended, its member switched on again (or not). */
  private async cyclesDone(): Promise<void> {
    await Promise.all(this.switchSessions.values());
  }

  private async fence(member: number, incarnation: number, attempt: number): Promise<void> {
    const target = this.o.config.members.find((m) => m.id === member);
    if (target === undefined) throw new Error(`the core fenced member ${member}, which is not configured`);
    this.counters.fences++;
    this.o.log.warning(
      { event: "fence", peer: member, peerName: target.name, peerIncarnation: incarnation, attempt },
      `fencing member ${target.name} (incarnation ${incarnation}), attempt ${attempt}`,
    );
    // Holding the fencing lock: no configuration change lands meanwhile.
    const chosen = await fencePower(target, this.o.io.configView, () => this.o.io.readConfig());
    if (!chosen.ok) {
      this.o.log.err({ event: "fence", peer: member }, `not fencing member ${target.name}: ${chosen.reason}`);
      this.feed({
        kind: "fence-result",
        member,
        confirmedOff: false,
        detail: chosen.reason,
        nowMs: this.now(),
      });
      return;
    }
    if (chosen.use.view !== this.o.io.configView)
      this.o.log.notice(
        { event: "fence", peer: member, view: chosen.use.view },
        `fencing member ${target.name} through its switch as configuration view ${chosen.use.view} names it (this member runs view ${this.o.io.configView})`,
      );
    const { outlet, ...switchConfig } = chosen.use.value;
    this.fencesInFlight++;
    let told = false;
    const tell = (r: { confirmedOff: boolean; detail: string; byTime: boolean }) => {
      told = true;
      this.feed({ kind: "fence-result", member, ...r, nowMs: this.now() });
      // The core wants the status announcing a confirmed off written now, not at the next tick.
      // (Run apart from the switch's session, so a throw self-fences now rather than after the
      // switch has turned the member on again.)
      if (r.confirmedOff) this.guard(Promise.resolve().then(() => this.tick()));
    };
    // One power cycle at a time per switch: the next on it may find its line still busy
    // switching this member on after its off was reported. Other switches do not wait.
    const key = switchIdentity(switchConfig);
    const cycle = (this.switchSessions.get(key) ?? Promise.resolve()).then(() =>
      powerCycle(switchConfig, outlet, {
        warn: (m) => this.o.log.warning({ event: "fence", peer: member }, m),
        nodename: target.name,
        // Confirmed off is what recovery waits for; switching it on again is not.
        onOff: tell,
      }),
    );
    const settled = cycle.then(
      () => {},
      () => {},
    );
    this.switchSessions.set(key, settled);
    void settled.then(() => {
      if (this.switchSessions.get(key) === settled) this.switchSessions.delete(key);
    });
    const result = await cycle.finally(() => this.fencesInFlight--);
    if (result.onFailed !== undefined) {
      this.o.log.err(
        { event: "fence", peer: member },
        `member ${target.name} is off but could not be switched on again: ${result.onFailed}`,
      );
    }
    if (!told) tell(result);
  }
}

/** Per member fenced by its own watchdog, how long after its last sign of life it is surely off. */
function watchdogWaits(members: readonly MemberConfig[]): Record<number, number> {
  const waits: Record<number, number> = {};
  for (const m of members)
    if (m.power.type === "watchdog") waits[m.id] = watchdogFenceWaitMs(m.power.timeoutSeconds);
  return waits;
}

export function describeSelfFence(reason: SelfFenceReason): string {
  switch (reason.kind) {
    case "io-timeout":
    case "mailbox-unreadable":
      return reason.detail;
    case "fenced-notice":
      return `member ${reason.by} fenced this member in its current incarnation ${reason.incarnation} (its notice is in this member's mailbox)`;
    case "fenced-status":
      return `member ${reason.by}'s status says it fenced this member in its current incarnation ${reason.incarnation}`;
    case "superseded":
      return `this member's status block holds a newer life of it (incarnation ${reason.incarnation}): another daemon runs as this member`;
  }
}

function describeRepair(r: Repair): string {
  const outcome = r.done
    ? `rewrote the ${r.repaired} copy from the other`
    : `the ${r.repaired} copy was left alone (${r.deferred ?? r.error ?? "not repaired"})`;
  return `${r.region} block ${r.index}: ${r.problem}; ${outcome}`;
}
