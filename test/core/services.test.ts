// The service core: placement by hand, then many seeded runs of several cores over one shared
// disk, with members that crash, stall and are fenced, and resources that fail. At every step no
// service may be running on two machines, and once the faults stop every enabled service runs.
import { describe, expect, it } from "vitest";
import { choosePlacement, type MemberInfo, type ServiceSpec } from "../../src/core/placement.js";
import {
  type AdminRequest,
  type AskAnswer,
  CLAIM_RETRY_BASE_MS,
  CLAIM_RETRY_MAX_MS,
  type ServiceAction,
  ServiceCore,
} from "../../src/core/services.js";
import { emptyService, NO_OWNER, type ServiceRecord, ServiceState } from "../../src/disk/service-block.js";
import { Random } from "../sim/random.js";

const spec = (id: number, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  id,
  name: `svc${id}`,
  failback: false,
  disabled: false,
  checkIntervalMs: 1_000,
  maxRestarts: 2,
  restartWindowMs: 60_000,
  ...extra,
});
const stopped = (index: number): ServiceRecord => ({
  ...emptyService(index),
  name: `svc${index}`,
  state: ServiceState.Stopped,
});
const never = () => false;

describe("placement", () => {
  const members: MemberInfo[] = [
    { id: 0, eligible: true, view: 0 },
    { id: 1, eligible: true, view: 0 },
    { id: 2, eligible: false, view: 0 },
  ];

  it("prefers the preferred member, else the least loaded, ties to the lowest id", () => {
    const running = { ...stopped(5), state: ServiceState.Running, owner: 0, ownerIncarnation: 1 };
    expect(choosePlacement(spec(1, { preferred: 1 }), stopped(1), members, [], never)).toBe(1);
    expect(choosePlacement(spec(1, { preferred: 2 }), stopped(1), members, [running], never)).toBe(1);
    expect(choosePlacement(spec(1), stopped(1), members, [], never)).toBe(0);
  });

  it("passes over the member that just gave the service up, unless no other can take it", () => {
    const gaveUp = { ...stopped(1), lastOwner: 0 };
    expect(choosePlacement(spec(1, { preferred: 0 }), gaveUp, members, [], never)).toBe(1);
    expect(choosePlacement(spec(1), gaveUp, [{ id: 0, eligible: true, view: 0 }], [], never)).toBe(0);
    expect(
      choosePlacement(spec(1), gaveUp, [{ id: 2, eligible: false, view: 0 }], [], never),
    ).toBeUndefined();
  });
});

describe("one service core driven by hand", () => {
  const everyone: MemberInfo[] = [
    { id: 0, eligible: true, view: 0 },
    { id: 1, eligible: true, view: 0 },
  ];
  const core = (specs = [spec(0)]) => new ServiceCore({ me: 0, incarnation: 1, services: specs, view: 0 });
  const tick = (c: ServiceCore, nowMs: number) =>
    c.step({ kind: "tick", nowMs, members: everyone, healthy: true, isFenced: never });
  /** Claims service 0 from `record` and lets the Starting write land; returns the start's actions. */
  function take(c: ServiceCore, record: ServiceRecord, nowMs: number): void {
    c.step({ kind: "records", records: [record], epoch: c.epoch });
    expect(tick(c, nowMs)).toEqual([{ kind: "claim", service: 0 }]);
    const out = c.step({ kind: "claim-read", service: 0, record });
    expect(out).toMatchObject([
      { kind: "transition", after: "start", record: { state: ServiceState.Starting } },
    ]);
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
  }

  it("places, fails back and relocates nothing while a live peer runs another configuration view", () => {
    const c = core([spec(0), spec(1, { preferred: 1 })]);
    // A peer that joined since with view 1: service 0 needs a home, which would be here.
    const mixed: MemberInfo[] = [
      { id: 0, eligible: true, view: 0 },
      { id: 1, eligible: true, view: 1 },
    ];
    const at = (nowMs: number, members: MemberInfo[]) =>
      c.step({ kind: "tick", nowMs, members, healthy: true, isFenced: never });
    c.step({ kind: "records", records: [stopped(0)], epoch: c.epoch });
    expect(c.viewsDiffer()).toBe(false);
    expect(at(0, mixed)).toEqual([]);
    expect(c.viewsDiffer()).toBe(true);
    // A claim asked for before the views parted is decided on them as they are under the lock.
    expect(at(100, everyone)).toEqual([{ kind: "claim", service: 0 }]);
    at(200, mixed);
    expect(c.step({ kind: "claim-read", service: 0, record: stopped(0) })).toEqual([]);
    // A peer that is down does not count, whatever view it last ran.
    const downPeer: MemberInfo[] = [
      { id: 0, eligible: true, view: 0 },
      { id: 1, eligible: false, view: 1 },
    ];
    expect(at(300, downPeer)).toEqual([{ kind: "claim", service: 0 }]);
    const start = c.step({ kind: "claim-read", service: 0, record: stopped(0) });
    expect(start).toMatchObject([{ kind: "transition", after: "start" }]);
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: false, detail: "", nowMs: 400 });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    at(500, mixed);
    const asked = c.ask({ op: "relocate", service: 0, target: 1 });
    expect(asked.ok).toBe(true);
    expect(at(600, mixed)).toMatchObject([
      {
        kind: "service-report",
        message: expect.stringMatching(
          /^svc0: not relocated: members run different configuration views \(this one view 0, member 1 runs view 1\)/,
        ),
      },
    ]);
  });

  it("asks for the lock again after a failed claim only after a wait that doubles, and at once after one that worked", () => {
    const c = core();
    c.step({ kind: "records", records: [stopped(0)], epoch: c.epoch });
    expect(tick(c, 0)).toEqual([{ kind: "claim", service: 0 }]);
    c.step({ kind: "claim-failed", service: 0 });
    expect(tick(c, CLAIM_RETRY_BASE_MS - 1)).toEqual([]);
    expect(tick(c, CLAIM_RETRY_BASE_MS)).toEqual([{ kind: "claim", service: 0 }]);
    c.step({ kind: "claim-failed", service: 0 });
    expect(tick(c, 3 * CLAIM_RETRY_BASE_MS - 1)).toEqual([]);
    expect(tick(c, 3 * CLAIM_RETRY_BASE_MS)).toEqual([{ kind: "claim", service: 0 }]);
    // Never longer than the cap, however many fail.
    let now = 3 * CLAIM_RETRY_BASE_MS;
    for (let i = 0; i < 10; i++) {
      c.step({ kind: "claim-failed", service: 0 });
      now += CLAIM_RETRY_MAX_MS;
      expect(tick(c, now)).toEqual([{ kind: "claim", service: 0 }]);
    }
  });

  it("waits before trying again a service that failed to start here, doubling the wait", () => {
    const c = core();
    take(c, stopped(0), 0);
    const out = c.step({
      kind: "started",
      service: 0,
      ok: false,
      cleanedUp: true,
      detail: "boom",
      nowMs: 100,
    });
    expect(out[0]).toMatchObject({
      kind: "transition",
      record: { state: ServiceState.Stopped, lastOwner: 0 },
    });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    // Alone, it is the only home: still, not before the back-off has passed.
    const alone = [{ id: 0, eligible: true, view: 0 }];
    expect(c.step({ kind: "tick", nowMs: 1_000, members: alone, healthy: true, isFenced: never })).toEqual(
      [],
    );
    expect(c.step({ kind: "tick", nowMs: 2_200, members: alone, healthy: true, isFenced: never })).toEqual([
      { kind: "claim", service: 0 },
    ]);
  });

  it("claims and checks whatever its clock reads, below zero too", () => {
    const c = core();
    c.step({ kind: "records", records: [stopped(0)], epoch: c.epoch });
    expect(tick(c, -5_000)).toEqual([{ kind: "claim", service: 0 }]);
    c.step({ kind: "claim-read", service: 0, record: stopped(0) });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: true, detail: "", nowMs: -4_900 });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    expect(tick(c, -3_800)).toEqual([{ kind: "check-service", service: 0 }]);
  });

  it("after a failed write, goes by what the disk holds: recovers its own half-written block", () => {
    const c = core();
    take(c, stopped(0), 0);
    const starting = c.record(0) as ServiceRecord;
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: true, detail: "", nowMs: 100 });
    // The Running write failed on the primary: the disk still says Starting, owned here.
    c.step({ kind: "written", service: 0, ok: false, detail: "EIO", onDisk: starting });
    expect(c.record(0)?.state).toBe(ServiceState.Starting);
    const out = tick(c, 200);
    expect(out).toMatchObject([
      { kind: "transition", after: "stop", record: { state: ServiceState.Stopping } },
    ]);
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    const released = c.step({ kind: "stopped", service: 0, ok: true, detail: "", nowMs: 300 });
    expect(released[0]).toMatchObject({ record: { state: ServiceState.Stopped, owner: NO_OWNER } });
  });

  it("takes a release that reached the primary only as done, and never writes that block again outside the lock", () => {
    const c = core();
    take(c, stopped(0), 0);
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: true, detail: "", nowMs: 100 });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    c.ask({ op: "relocate", service: 0, target: 1 });
    expect(tick(c, 200)).toMatchObject([{ kind: "transition", record: { state: ServiceState.Stopping } }]);
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    const release = c.step({ kind: "stopped", service: 0, ok: true, detail: "", nowMs: 300 });
    const freed = (release[0] as { record: ServiceRecord }).record;
    expect(freed).toMatchObject({ state: ServiceState.Stopped, owner: NO_OWNER, adminTarget: 1 });
    // The backup refused it; every reader sees the primary, where member 1 may claim it now.
    const answer = c.step({
      kind: "written",
      service: 0,
      ok: false,
      detail: "EIO on the backup",
      onDisk: freed,
    });
    expect(answer).toMatchObject([
      { kind: "service-report", message: expect.stringMatching(/the disk says nobody owns it/) },
    ]);
    expect(c.record(0)).toMatchObject({ owner: NO_OWNER });
    // Once this member wrote "Stopping, owner me" here, over member 1's claim.
    expect(tick(c, 400)).toEqual([]);
    expect(tick(c, 5_000)).toEqual([]);
  });

  it("leaves a block it could neither write nor read back alone until a read shows it", () => {
    const c = core();
    take(c, stopped(0), 0);
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: true, detail: "", nowMs: 100 });
    expect(c.step({ kind: "written", service: 0, ok: false, detail: "EIO" })).toMatchObject([
      { message: expect.stringMatching(/could not be read back either/) },
    ]);
    expect(tick(c, 200)).toEqual([]);
    // The heartbeat's read: the Running write had landed after all.
    const running = {
      ...(c.record(0) as ServiceRecord),
      state: ServiceState.Running,
      owner: 0,
      ownerIncarnation: 1,
    };
    c.step({ kind: "records", records: [running], epoch: c.epoch });
    expect(tick(c, 20_000)).toEqual([{ kind: "check-service", service: 0 }]);
  });

  it("takes a read of a claim it could neither write nor read back for what it is, not a conflict", () => {
    const c = core();
    c.step({ kind: "records", records: [stopped(0)], epoch: c.epoch });
    expect(tick(c, 0)).toEqual([{ kind: "claim", service: 0 }]);
    c.step({ kind: "claim-read", service: 0, record: stopped(0) });
    // The Starting write reached neither copy, and the block could not be read back.
    c.step({ kind: "written", service: 0, ok: false, detail: "EIO on the primary" });
    // Nothing was started: a read that shows nobody owning it is what the disk should say.
    expect(c.step({ kind: "records", records: [stopped(0)], epoch: c.epoch })).toEqual([]);
    expect(c.record(0)).toMatchObject({ state: ServiceState.Stopped, owner: NO_OWNER });
  });

  it("still calls it a conflict once a started service's next write cannot be recorded and it reads as nobody's", () => {
    const c = core();
    take(c, stopped(0), 0);
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: true, detail: "", nowMs: 100 });
    c.step({ kind: "written", service: 0, ok: false, detail: "EIO on the primary" });
    expect(c.step({ kind: "records", records: [stopped(0)], epoch: c.epoch })).toMatchObject([
      { kind: "conflict", message: expect.stringMatching(/the disk says nobody owns/) },
    ]);
  });

  it("ignores a read that began before its own last write settled, and flags a real conflict", () => {
    const c = core();
    const epochBefore = c.epoch;
    take(c, stopped(0), 0);
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: true, detail: "", nowMs: 100 });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    // A slow read from before: "stopped, nobody". It must not undo what this member did.
    expect(c.step({ kind: "records", records: [stopped(0)], epoch: epochBefore })).toEqual([]);
    expect(c.record(0)?.state).toBe(ServiceState.Running);
    // A fresh read saying another life owns it: stop everything rather than run it twice.
    const stolen = { ...stopped(0), state: ServiceState.Running, owner: 1, ownerIncarnation: 4 };
    expect(c.step({ kind: "records", records: [stolen], epoch: c.epoch })).toEqual([
      {
        kind: "conflict",
        service: 0,
        message: "the disk says member 1 (incarnation 4) owns svc0, which this member runs",
      },
    ]);
  });

  it("fails back only once the service has passed its checks here for a while", () => {
    const c = core([spec(0, { preferred: 1, failback: true })]);
    const alone = [{ id: 0, eligible: true, view: 0 }];
    c.step({ kind: "records", records: [stopped(0)], epoch: 0 });
    expect(c.step({ kind: "tick", nowMs: 0, members: alone, healthy: true, isFenced: never })).toEqual([
      { kind: "claim", service: 0 },
    ]);
    c.step({ kind: "claim-read", service: 0, record: stopped(0) });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    c.step({ kind: "started", service: 0, ok: true, cleanedUp: true, detail: "", nowMs: 0 });
    c.step({ kind: "written", service: 0, ok: true, detail: "" });
    // Its preferred member is back at once, but the service just started here: no move yet.
    expect(tick(c, 2_000)).toEqual([{ kind: "check-service", service: 0 }]);
    c.step({ kind: "checked", service: 0, ok: true, detail: "", nowMs: 2_000 });
    expect(tick(c, 2_100)).toEqual([]);
    expect(tick(c, 6_000)).toMatchObject([{ kind: "transition", after: "stop" }]);
  });
});

interface Machine {
  core: ServiceCore;
  incarnation: number;
  alive: boolean;
  /** Until then it does nothing (a stall): its resources run on, its actions wait. */
  stalledUntil: number;
  /** Services whose resources are running on this machine now. */
  running: Set<number>;
}

/** Several members over one disk; the disk lock makes a claim atomic, as the bakery does. */
class ServiceWorld {
  readonly disk = new Map<number, ServiceRecord>();
  readonly machines: Machine[];
  readonly fenced = new Set<string>();
  readonly trace: string[] = [];
  private queue: { at: number; machine: number; inc: number; run: () => void }[] = [];
  now = 0;
  stats = { starts: 0, takeovers: 0, failedStops: 0, requests: 0, forwarded: 0 };

  constructor(
    readonly rng: Random,
    readonly specs: ServiceSpec[],
    members: number,
    readonly faults: { failStart: number; failStop: number; failCheck: number },
  ) {
    // Half the runs start from freshly initialised partitions, whose service blocks are unused.
    for (const s of specs) this.disk.set(s.id, rng.chance(0.5) ? stopped(s.id) : emptyService(s.id));
    this.machines = Array.from({ length: members }, (_, id) => this.boot(id, 1));
  }

  private boot(id: number, incarnation: number): Machine {
    return {
      core: new ServiceCore({ me: id, incarnation, services: this.specs, view: 0 }),
      incarnation,
      alive: true,
      stalledUntil: 0,
      running: new Set(),
    };
  }

  private later(machine: number, delay: number, run: () => void): void {
    const inc = (this.machines[machine] as Machine).incarnation;
    this.queue.push({ at: this.now + delay, machine, inc, run });
  }

  private isFenced = (member: number, incarnation: number) => this.fenced.has(`${member}/${incarnation}`);

  private apply(id: number, actions: ServiceAction[]): void {
    const m = this.machines[id] as Machine;
    for (const a of actions) {
      if (a.kind === "claim") {
        this.later(id, this.rng.int(1, 30), () => {
          const fresh = { ...(this.disk.get(a.service) as ServiceRecord) };
          // Under the lock: its transitions land before anyone else reads.
          const out = m.core.step({ kind: "claim-read", service: a.service, record: fresh });
          for (const t of out) if (t.kind === "transition") this.disk.set(t.record.index, t.record);
          this.apply(
            id,
            out.map((t) => (t.kind === "transition" ? { ...t, landed: true } : t)) as ServiceAction[],
          );
        });
      } else if (a.kind === "transition") {
        const landed = (a as { landed?: boolean }).landed === true;
        const land = () => {
          this.disk.set(a.record.index, a.record);
          this.apply(id, m.core.step({ kind: "written", service: a.record.index, ok: true, detail: "" }));
          this.afterWrite(id, a);
        };
        if (landed) {
          this.apply(id, m.core.step({ kind: "written", service: a.record.index, ok: true, detail: "" }));
          this.afterWrite(id, a);
        } else this.later(id, this.rng.int(1, 20), land);
      } else if (a.kind === "check-service") {
        this.later(id, this.rng.int(10, 200), () => {
          const ok = m.running.has(a.service) && !this.rng.chance(this.faults.failCheck);
          this.apply(
            id,
            m.core.step({ kind: "checked", service: a.service, ok, detail: "sim", nowMs: this.now }),
          );
        });
      } else if (a.kind === "forward") {
        // Carried in the asker's status block: the owner reads it a heartbeat or so later, and
        // only the life it was meant for acts on it.
        this.stats.forwarded++;
        this.later(id, this.rng.int(100, 1_000), () => {
          const owner = this.machines[a.to] as Machine;
          if (!owner.alive || owner.incarnation !== a.incarnation) return;
          this.apply(a.to, owner.core.ask(a.request, true).actions);
        });
      } else if (a.kind === "conflict") {
        throw new Error(`${this.now}: m${id} found a conflict: ${a.message}`);
      } else this.trace.push(`${this.now} m${id}: ${a.message}`);
    }
  }

  private afterWrite(id: number, a: Extract<ServiceAction, { kind: "transition" }>): void {
    const m = this.machines[id] as Machine;
    const service = a.record.index;
    if (a.after === "start") {
      this.stats.starts++;
      m.running.add(service);
      this.checkInvariant();
      this.later(id, this.rng.int(10, 500), () => {
        const ok = !this.rng.chance(this.faults.failStart);
        const cleanedUp = ok || !this.rng.chance(0.2);
        if (!ok && cleanedUp) m.running.delete(service);
        this.apply(
          id,
          m.core.step({ kind: "started", service, ok, cleanedUp, detail: "sim", nowMs: this.now }),
        );
      });
    } else if (a.after === "stop") {
      this.later(id, this.rng.int(10, 500), () => {
        const ok = !this.rng.chance(this.faults.failStop);
        if (ok) m.running.delete(service);
        else this.stats.failedStops++;
        this.apply(id, m.core.step({ kind: "stopped", service, ok, detail: "sim", nowMs: this.now }));
      });
    }
  }

  checkInvariant(): void {
    for (const s of this.specs) {
      const where = this.machines.flatMap((m, id) => (m.running.has(s.id) ? [id] : []));
      if (where.length > 1) throw new Error(`${this.now}: ${s.name} runs on members ${where.join(" and ")}`);
    }
  }

  /** An administrator asks member `id`. */
  request(id: number, req: AdminRequest): AskAnswer {
    const answer = (this.machines[id] as Machine).core.ask(req);
    if (answer.ok) this.stats.requests++;
    this.trace.push(`${this.now} m${id} asked ${JSON.stringify(req)}: ${answer.message}`);
    this.apply(id, answer.actions);
    return answer;
  }

  /** A member hangs for good: its resources keep running until its switch powers it off. */
  crashAndFence(id: number, fenceAfterMs: number): void {
    const m = this.machines[id] as Machine;
    m.alive = false;
    this.trace.push(`${this.now} m${id} hangs`);
    const inc = m.incarnation;
    this.queue.push({
      at: this.now + fenceAfterMs,
      machine: -1,
      inc: 0,
      run: () => {
        // The power cycle: everything on it stops, that life is dead, and it reboots.
        this.fenced.add(`${id}/${inc}`);
        this.machines[id] = this.boot(id, inc + 1);
        this.trace.push(`${this.now} m${id} fenced, rebooted in incarnation ${inc + 1}`);
      },
    });
  }

  step(ms: number): void {
    this.now += ms;
    const due = this.queue.filter((e) => e.at <= this.now).sort((a, b) => a.at - b.at);
    this.queue = this.queue.filter((e) => e.at > this.now);
    for (const e of due) {
      if (e.machine === -1) e.run();
      else {
        const m = this.machines[e.machine] as Machine;
        if (!m.alive || m.incarnation !== e.inc) continue; // that process is gone
        if (m.stalledUntil > this.now) this.queue.push({ ...e, at: m.stalledUntil });
        else e.run();
      }
    }
    const members: MemberInfo[] = this.machines.map((m, id) => ({
      id,
      eligible: m.alive && m.stalledUntil <= this.now,
      view: 0,
    }));
    this.machines.forEach((m, id) => {
      if (!m.alive || m.stalledUntil > this.now) return;
      // The read is taken now and delivered later, as a slow disk read would be: it may arrive
      // after this member's own later writes have settled.
      const snapshot = [...this.disk.values()].map((r) => ({ ...r }));
      const epoch = m.core.epoch;
      this.later(id, this.rng.chance(0.3) ? this.rng.int(50, 600) : 0, () =>
        this.apply(id, m.core.step({ kind: "records", records: snapshot, epoch })),
      );
      this.apply(
        id,
        m.core.step({ kind: "tick", nowMs: this.now, members, healthy: true, isFenced: this.isFenced }),
      );
    });
    this.checkInvariant();
  }
}

function runSeed(seed: number): ServiceWorld {
  const rng = new Random(seed);
  const specs = [
    spec(0, { preferred: 0, failback: true }),
    spec(1, { preferred: 1 }),
    spec(2),
    spec(3, { disabled: seed % 7 === 0 }),
  ];
  const w = new ServiceWorld(rng, specs, 3, { failStart: 0.05, failStop: 0.03, failCheck: 0.05 });
  for (let t = 0; t < 60_000; t += 100) {
    if (rng.chance(0.004)) {
      const id = rng.int(0, 2);
      if ((w.machines[id] as Machine).alive) w.crashAndFence(id, rng.int(500, 8_000));
    }
    if (rng.chance(0.004)) (w.machines[rng.int(0, 2)] as Machine).stalledUntil = w.now + rng.int(100, 3_000);
    if (rng.chance(0.01)) {
      // An administrator, at any member, asks anything of any service.
      const id = rng.int(0, 2);
      const m = w.machines[id] as Machine;
      const op = rng.pick(["enable", "disable", "relocate", "restart"] as const);
      const target = rng.chance(0.5) ? rng.int(0, 2) : undefined;
      if (m.alive && m.stalledUntil <= w.now)
        w.request(id, { op, service: rng.int(0, 3), ...(target !== undefined ? { target } : {}) });
    }
    w.step(100);
  }
  return w;
}

describe("service cores over one disk", () => {
  it("never run a service on two machines, through crashes, stalls, fences and failing resources", () => {
    let starts = 0;
    let failedStops = 0;
    let requests = 0;
    let forwarded = 0;
    for (let seed = 1; seed <= 300; seed++) {
      try {
        const w = runSeed(seed);
        starts += w.stats.starts;
        failedStops += w.stats.failedStops;
        requests += w.stats.requests;
        forwarded += w.stats.forwarded;
      } catch (err) {
        throw new Error(`seed ${seed}: ${(err as Error).message}`);
      }
    }
    expect(starts).toBeGreaterThan(300);
    expect(failedStops).toBeGreaterThan(0);
    expect(requests).toBeGreaterThan(300);
    expect(forwarded).toBeGreaterThan(100);
  });

  it("once faults stop and every member is back, every enabled service runs somewhere", () => {
    const rng = new Random(4242);
    const specs = [spec(0, { preferred: 2 }), spec(1), spec(2)];
    const w = new ServiceWorld(rng, specs, 3, { failStart: 0, failStop: 0, failCheck: 0 });
    for (let t = 0; t < 5_000; t += 100) w.step(100);
    expect([...w.disk.values()].map((r) => r.state)).toEqual([
      ServiceState.Running,
      ServiceState.Running,
      ServiceState.Running,
    ]);
    expect(w.disk.get(0)?.owner).toBe(2);
    // Its owner hangs and is fenced: the service moves, and only after the fence.
    w.crashAndFence(2, 3_000);
    for (let t = 0; t < 2_500; t += 100) {
      w.step(100);
      expect(w.disk.get(0)?.owner).toBe(2);
    }
    for (let t = 0; t < 5_000; t += 100) w.step(100);
    const moved = w.disk.get(0) as ServiceRecord;
    expect(moved.state).toBe(ServiceState.Running);
    expect(
      moved.owner === 0 || moved.owner === 1 || (moved.owner === 2 && moved.ownerIncarnation === 2),
    ).toBe(true);
    expect(moved.owner).not.toBe(NO_OWNER);
  });

  it("carries out an administrator's requests wherever they are asked", () => {
    const rng = new Random(99);
    const specs = [spec(0, { preferred: 0, failback: true })];
    const w = new ServiceWorld(rng, specs, 3, { failStart: 0, failStop: 0, failCheck: 0 });
    const run = (ms: number) => {
      for (let t = 0; t < ms; t += 100) w.step(100);
    };
    const on = () => {
      const r = w.disk.get(0) as ServiceRecord;
      return r.state === ServiceState.Running ? r.owner : undefined;
    };
    run(5_000);
    expect(on()).toBe(0);
    // Asked at m1, carried out by the owner m0, taken by m2; failback leaves it there.
    expect(w.request(1, { op: "relocate", service: 0, target: 2 })).toMatchObject({
      ok: true,
      message: "svc0: asked member 0, which has it",
    });
    run(3_000);
    expect(on()).toBe(2);
    run(10_000);
    expect(on()).toBe(2);
    // Refused at once where it cannot be done.
    w.machines[1] = { ...(w.machines[1] as Machine), alive: false };
    run(200);
    expect(w.request(0, { op: "relocate", service: 0, target: 1 })).toMatchObject({
      ok: false,
      message: "svc0: member 1 is not up to take it",
    });
    expect(w.request(0, { op: "enable", service: 0 }).message).toBe("svc0: already enabled; member 2 has it");
    // Disabled, it stays disabled, although the configuration says enabled.
    expect(w.request(0, { op: "disable", service: 0 }).ok).toBe(true);
    run(3_000);
    expect(w.disk.get(0)).toMatchObject({ state: ServiceState.Disabled, owner: NO_OWNER });
    run(5_000);
    expect(w.disk.get(0)?.state).toBe(ServiceState.Disabled);
    expect(w.request(2, { op: "restart", service: 0 }).message).toBe(
      "svc0: is disabled, not running; nothing to restart",
    );
    // Enabled at m2: it starts on its preferred member again.
    expect(w.request(2, { op: "enable", service: 0 }).ok).toBe(true);
    run(3_000);
    expect(on()).toBe(0);
    // A restart that cannot stop leaves it failed with its owner, and nobody else takes it...
    const restartsBefore = (w.disk.get(0) as ServiceRecord).restarts;
    w.faults.failStop = 1;
    expect(w.request(2, { op: "restart", service: 0 }).ok).toBe(true);
    run(3_000);
    expect(w.disk.get(0)).toMatchObject({ state: ServiceState.Failed, owner: 0 });
    run(5_000);
    expect(w.disk.get(0)).toMatchObject({ state: ServiceState.Failed, owner: 0 });
    expect(w.request(2, { op: "relocate", service: 0 }).message).toBe(
      "svc0: failed to stop on member 0; disable it first",
    );
    // ...until an administrator disables it, which stops it again, then enables it.
    w.faults.failStop = 0;
    w.request(2, { op: "disable", service: 0 });
    run(3_000);
    expect(w.disk.get(0)?.state).toBe(ServiceState.Disabled);
    w.request(2, { op: "enable", service: 0 });
    run(3_000);
    expect(on(), w.trace.slice(-30).join("\n")).toBe(0);
    // A restart in place counts.
    w.request(0, { op: "restart", service: 0 });
    run(3_000);
    expect(on()).toBe(0);
    expect((w.disk.get(0) as ServiceRecord).restarts).toBeGreaterThan(restartsBefore);
  });
});
