import { describe, expect, it } from "vitest";
import type { DiskStatus } from "../../src/core/liveness.js";
import { type MemberAction, MemberCore, type MemberCoreConfig } from "../../src/core/member.js";
import { emptyMail, MailKind } from "../../src/disk/mailbox-block.js";
import { MemberState } from "../../src/disk/status-block.js";

const STEP_MS = 100;
const base = { intervalMs: 1000, tko: 7, tkoNetup: 12, ioTimeoutMs: 3000, twoMemberDelayMs: 0 };

/**
 * A few cores over a perfect shared disk and a switch that always confirms: enough to check the
 * wiring of the core. Faults and many seeds are the simulator's job.
 */
class Bench {
  readonly cores: MemberCore[];
  readonly disk = new Map<number, DiskStatus>();
  readonly frozen = new Set<number>();
  readonly log: { by: number; action: MemberAction; atMs: number }[] = [];
  private lockHolder: number | undefined;
  private readonly lockQueue: number[] = [];
  /** Fenced notices written so far, as the mailboxes on the disk would hold them. */
  readonly notices: { member: number; incarnation: number }[] = [];
  now = 0;

  constructor(members: number) {
    this.cores = Array.from(
      { length: members },
      (_, me) => new MemberCore({ ...base, me, members, incarnation: 1 } satisfies MemberCoreConfig, 0),
    );
  }

  run(untilMs: number): void {
    for (; this.now <= untilMs; this.now += STEP_MS) {
      this.cores.forEach((core, me) => {
        if (!this.frozen.has(me)) this.apply(me, core.step({ kind: "tick", nowMs: this.now }));
      });
    }
  }

  /** Per sender and receiver, the last packet sequence delivered: it must only grow. */
  private readonly lastPacket = new Map<string, number>();

  private apply(me: number, actions: MemberAction[]): void {
    const core = this.cores[me] as MemberCore;
    // A status write lands after the step's other actions have gone out, as in the daemon.
    let landed = false;
    for (const action of actions) {
      this.log.push({ by: me, action, atMs: this.now });
      switch (action.kind) {
        case "write-status":
          this.disk.set(me, {
            state: action.state,
            incarnation: action.incarnation,
            heartbeat: action.heartbeat,
            ...(action.fenced !== undefined ? { fenced: action.fenced } : {}),
          });
          if (action.state === MemberState.Up) landed = true;
          break;
        case "send-heartbeat":
          // The network delivers every packet at once, to every member still running.
          this.cores.forEach((peer, to) => {
            if (to === me || this.frozen.has(to)) return;
            const link = `${me}>${to}`;
            expect(action.sequence, `packet from ${me} to ${to}`).toBeGreaterThan(
              this.lastPacket.get(link) ?? 0,
            );
            this.lastPacket.set(link, action.sequence);
            const heard = { kind: "net-heard", member: me, nowMs: this.now } as const;
            this.apply(to, peer.step(action.nudge === true ? { ...heard, nudge: true } : heard));
          });
          break;
        case "read-cluster":
          for (const [member, status] of this.disk) {
            this.apply(me, core.step({ kind: "status-read", member, status, nowMs: this.now }));
          }
          break;
        case "acquire-fence-lock":
          this.lockQueue.push(me);
          this.grantNext();
          break;
        case "release-fence-lock":
          expect(this.lockHolder).toBe(me);
          this.lockHolder = undefined;
          this.grantNext();
          break;
        case "write-fenced-notice":
          this.notices.push({ member: action.member, incarnation: action.incarnation });
          this.apply(
            me,
            core.step({
              kind: "notice-written",
              member: action.member,
              incarnation: action.incarnation,
              ok: true,
              nowMs: this.now,
            }),
          );
          break;
        case "fence":
          expect(this.lockHolder).toBe(me);
          this.apply(
            me,
            core.step({
              kind: "fence-result",
              member: action.member,
              confirmedOff: true,
              detail: "off",
              nowMs: this.now,
            }),
          );
          break;
        default:
          break;
      }
    }
    if (landed)
      this.apply(me, core.step({ kind: "status-written", ok: true, readOk: true, nowMs: this.now }));
  }

  /** Grants the lock in order of asking, with the notices read under it, as the bakery does. */
  private grantNext(): void {
    const next = this.lockHolder === undefined ? this.lockQueue.shift() : undefined;
    if (next === undefined) return;
    this.lockHolder = next;
    const core = this.cores[next] as MemberCore;
    this.apply(next, core.step({ kind: "fence-lock-granted", notices: [...this.notices] }));
  }

  actions(kind: MemberAction["kind"]) {
    return this.log.filter((e) => e.action.kind === kind);
  }
}

describe("member core", () => {
  it("keeps a healthy three-member cluster quiet: no hung peer, no fence", () => {
    const b = new Bench(3);
    b.run(60_000);
    expect(b.actions("fence")).toEqual([]);
    expect(b.log.filter((e) => e.action.kind === "membership" && e.action.transition.to === "hung")).toEqual(
      [],
    );
    // Every member beat about once a second.
    expect(b.actions("write-status").filter((e) => e.by === 1).length).toBeGreaterThanOrEqual(60);
  });

  it("fences a member whose heartbeat stops, exactly once, after tko intervals", () => {
    const b = new Bench(3);
    b.run(5_000);
    b.frozen.add(2);
    const stoppedAt = b.now;
    b.run(20_000);
    const fences = b.actions("fence");
    expect(fences).toHaveLength(1);
    const [fence] = fences;
    expect(fence?.action).toMatchObject({ member: 2, incarnation: 1 });
    const detectedMs = (fence?.atMs as number) - stoppedAt;
    expect(detectedMs).toBeGreaterThan(base.tko * base.intervalMs);
    expect(detectedMs).toBeLessThanOrEqual((base.tko + 2) * base.intervalMs);
    expect(b.actions("write-fenced-notice")).toHaveLength(1);
    // The lowest live id fenced at once; the other survivor, staggered behind it, learned of the
    // fence from its status block and never even asked for the lock.
    expect(b.cores[0]?.isFenced(2, 1)).toBe(true);
    expect(b.cores[1]?.isFenced(2, 1)).toBe(true);
    expect(b.actions("acquire-fence-lock").map((e) => e.by)).toEqual([0]);
    expect(fence?.by).toBe(0);
    // The fencer wrote its status, naming the fenced life, at once rather than an interval on.
    const announced = b
      .actions("write-status")
      .find((e) => e.by === 0 && e.atMs >= (fence?.atMs as number) && "fenced" in e.action);
    expect(announced?.atMs).toBeLessThanOrEqual((fence?.atMs as number) + STEP_MS);
  });

  it("nudges its peers once the write announcing a fence lands, and they read it at once", () => {
    const b = new Bench(3);
    b.run(5_000);
    b.frozen.add(2);
    b.run(20_000);
    const [fence] = b.actions("fence");
    const nudges = b
      .actions("send-heartbeat")
      .filter((e) => e.action.kind === "send-heartbeat" && e.action.nudge);
    expect(nudges).toHaveLength(1);
    const [nudge] = nudges;
    expect(nudge?.by).toBe(0);
    // Sent after the write naming the fenced life, in the same step: it reached the disk first.
    const announcing = b.log.findIndex(
      (e) => e.by === 0 && e.action.kind === "write-status" && "fenced" in e.action,
    );
    expect(announcing).toBeGreaterThan(-1);
    expect(b.log.indexOf(nudge as (typeof b.log)[number])).toBeGreaterThan(announcing);
    expect(nudge?.atMs).toBeLessThanOrEqual((fence?.atMs as number) + STEP_MS);
    // Member 1 began a heartbeat on the nudge, well before its schedule, and so knew of the fence.
    const nudgeAt = b.log.indexOf(nudge as (typeof b.log)[number]);
    expect(b.log[nudgeAt + 1]).toMatchObject({ by: 1, action: { kind: "write-status" } });
    expect(b.cores[1]?.isFenced(2, 1)).toBe(true);
    // Every packet a member sends has a sequence of its own, one up from the last: receivers drop
    // any they have seen.
    for (const by of [0, 1]) {
      const sequences = b
        .actions("send-heartbeat")
        .flatMap((e) => (e.by === by && e.action.kind === "send-heartbeat" ? [e.action.sequence] : []));
      expect(sequences).toEqual(sequences.map((_, i) => i + 1));
    }
  });

  it("does not fence a member that stopped cleanly", () => {
    const b = new Bench(2);
    b.run(3_000);
    const core = b.cores[1] as MemberCore;
    const out = core.step({ kind: "stop" });
    expect(out.map((a) => a.kind)).toEqual(["write-status", "exit"]);
    const [down] = out;
    if (down?.kind === "write-status")
      b.disk.set(1, { state: down.state, incarnation: down.incarnation, heartbeat: down.heartbeat });
    expect(core.finished).toBe("stopped");
    b.run(30_000);
    expect(b.actions("fence")).toEqual([]);
  });

  it("self-fences on a failed status write and then never acts again", () => {
    const core = new MemberCore({ ...base, me: 0, members: 2, incarnation: 3 }, 0);
    expect(core.step({ kind: "tick", nowMs: 0 }).map((a) => a.kind)).toContain("write-status");
    expect(core.step({ kind: "status-written", ok: false, readOk: false, nowMs: 10 })).toMatchObject([
      { kind: "self-fence" },
    ]);
    expect(core.finished).toBe("self-fenced");
    expect(core.step({ kind: "tick", nowMs: 5000 })).toEqual([]);
    expect(core.step({ kind: "stop" })).toEqual([]);
  });

  it("self-fences when its status write hangs past io_timeout", () => {
    const core = new MemberCore({ ...base, me: 0, members: 2, incarnation: 3 }, 0);
    core.step({ kind: "tick", nowMs: 0 });
    for (let t = 100; t <= 3000; t += 100) expect(core.step({ kind: "tick", nowMs: t })).toEqual([]);
    expect(core.step({ kind: "tick", nowMs: 3100 })).toMatchObject([
      { kind: "self-fence", reason: { kind: "io-timeout" } },
    ]);
  });

  it("self-fences on reading that it was fenced in this incarnation", () => {
    const core = new MemberCore({ ...base, me: 1, members: 2, incarnation: 3 }, 0);
    const notice = { ...emptyMail(1, 0), kind: MailKind.Fenced, sequence: 1, incarnation: 3 };
    expect(core.step({ kind: "mail", mail: { ...notice, incarnation: 2 }, nowMs: 5 })).toEqual([]);
    expect(core.step({ kind: "mail", mail: notice, nowMs: 6 })).toEqual([
      { kind: "self-fence", reason: { kind: "fenced-notice", by: 0, incarnation: 3 } },
    ]);
  });

  describe("one core driven by hand", () => {
    const up = (heartbeat: number): DiskStatus => ({ state: MemberState.Up, incarnation: 1, heartbeat });
    /** Runs member 0 of three from 0 to `untilMs`, every write landing at once, member 1 frozen
     * from the start and member 2 writing; returns every action. */
    function drive(
      core: MemberCore,
      fromMs: number,
      untilMs: number,
      readOk = true,
      mailOk = readOk,
    ): MemberAction[] {
      const all: MemberAction[] = [];
      for (let t = fromMs; t <= untilMs; t += STEP_MS) {
        const out = core.step({ kind: "tick", nowMs: t });
        all.push(...out);
        if (out.some((a) => a.kind === "write-status")) {
          all.push(...core.step({ kind: "status-written", ok: true, readOk, mailOk, nowMs: t }));
          if (readOk) {
            all.push(...core.step({ kind: "status-read", member: 1, status: up(1), nowMs: t }));
            all.push(...core.step({ kind: "status-read", member: 2, status: up(t), nowMs: t }));
          }
        }
      }
      return all;
    }
    const kinds = (actions: MemberAction[]) =>
      actions.map((a) => a.kind).filter((k) => k !== "send-heartbeat");

    it("a stop during a fence finishes the fence and its notice first, heartbeating meanwhile", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 1 }, 0);
      const before = drive(core, 0, 9_000);
      expect(kinds(before)).toContain("acquire-fence-lock");
      core.step({ kind: "fence-lock-granted", notices: [] });
      const fired = core.step({ kind: "tick", nowMs: 9_100 });
      expect(fired).toContainEqual({ kind: "fence", member: 1, incarnation: 1, attempt: 1 });
      expect(core.step({ kind: "stop" })).toEqual([]);
      // Still heartbeating, so peers do not find this member hung while it waits.
      expect(kinds(drive(core, 9_200, 12_000))).toContain("write-status");
      expect(core.finished).toBeUndefined();
      const result = core.step({
        kind: "fence-result",
        member: 1,
        confirmedOff: true,
        detail: "off",
        nowMs: 12_050,
      });
      expect(kinds(result)).toEqual(["write-fenced-notice", "report"]);
      // The fence is announced at once in an UP status; DOWN waits for the notice.
      const announcing = core.step({ kind: "tick", nowMs: 12_100 });
      expect(announcing).toContainEqual(
        expect.objectContaining({
          kind: "write-status",
          state: MemberState.Up,
          fenced: { member: 1, incarnation: 1 },
        }),
      );
      core.step({ kind: "status-written", ok: true, readOk: true, nowMs: 12_120 });
      core.step({ kind: "notice-written", member: 1, incarnation: 1, ok: true, nowMs: 12_150 });
      expect(core.step({ kind: "tick", nowMs: 12_200 })).toEqual([
        { kind: "release-fence-lock" },
        { kind: "write-status", state: MemberState.Down, incarnation: 1, heartbeat: expect.any(Number) },
        { kind: "exit" },
      ]);
      expect(core.finished).toBe("stopped");
    });

    it("a nudge brings the next heartbeat forward, never closer than a quarter interval to the last", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 1 }, 0);
      drive(core, 0, 1_000);
      const nudge = (nowMs: number) => core.step({ kind: "net-heard", member: 2, nowMs, nudge: true });
      // The last heartbeat began at 1000: a nudge at 1100 waits for 1250, then beats once.
      expect(kinds(nudge(1_100))).toEqual([]);
      expect(kinds(core.step({ kind: "tick", nowMs: 1_200 }))).toEqual([]);
      expect(kinds(core.step({ kind: "tick", nowMs: 1_250 }))).toEqual(["write-status", "read-cluster"]);
      // A nudge while that write is in flight is kept, and served once it lands.
      expect(kinds(nudge(1_600))).toEqual([]);
      core.step({ kind: "status-written", ok: true, readOk: true, nowMs: 1_650 });
      expect(kinds(core.step({ kind: "tick", nowMs: 1_660 }))).toEqual(["write-status", "read-cluster"]);
      core.step({ kind: "status-written", ok: true, readOk: true, nowMs: 1_670 });
      // Served: no nudge is pending, and the schedule runs from the nudged beat.
      expect(kinds(core.step({ kind: "tick", nowMs: 2_600 }))).toEqual([]);
      expect(kinds(core.step({ kind: "tick", nowMs: 2_660 }))).toEqual(["write-status", "read-cluster"]);
      // A plain heartbeat from a peer never brings a beat forward.
      core.step({ kind: "status-written", ok: true, readOk: true, nowMs: 2_670 });
      expect(core.step({ kind: "net-heard", member: 2, nowMs: 3_200 })).toEqual([]);
    });

    it("nudges its peers when it lets a service go, with a sequence of its own", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 1 }, 0);
      const sent = drive(core, 0, 2_000).flatMap((a) => (a.kind === "send-heartbeat" ? [a.sequence] : []));
      expect(core.step({ kind: "service-released" })).toEqual([
        { kind: "send-heartbeat", incarnation: 1, sequence: (sent.at(-1) as number) + 1, nudge: true },
      ]);
      core.step({ kind: "stop" });
      expect(core.finished).toBe("stopped");
      expect(core.step({ kind: "service-released" })).toEqual([]);
    });

    it("nudges nobody when the write announcing its fence fails, and heeds no nudge once stopped", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 1 }, 0);
      drive(core, 0, 9_000);
      core.step({ kind: "fence-lock-granted", notices: [] });
      core.step({ kind: "tick", nowMs: 9_100 });
      core.step({ kind: "fence-result", member: 1, confirmedOff: true, detail: "off", nowMs: 9_150 });
      expect(core.step({ kind: "tick", nowMs: 9_200 })).toContainEqual(
        expect.objectContaining({ kind: "write-status", fenced: { member: 1, incarnation: 1 } }),
      );
      expect(core.step({ kind: "status-written", ok: false, readOk: true, nowMs: 9_210 })).toEqual([
        { kind: "self-fence", reason: expect.objectContaining({ kind: "io-timeout" }) },
      ]);
      expect(core.step({ kind: "net-heard", member: 2, nowMs: 9_300, nudge: true })).toEqual([]);
      expect(core.step({ kind: "tick", nowMs: 20_000 })).toEqual([]);
    });

    it("a member that cannot read its peers' status never fences, and gives up a lock it holds", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 1 }, 0);
      drive(core, 0, 6_900);
      core.step({ kind: "fence-lock-granted", notices: [] });
      // Its reads of the status blocks fail from now on: it keeps writing, but it must not act on
      // what it cannot see. (Its mailbox still reads.)
      const blind = drive(core, 7_000, 30_000, false, true);
      expect(kinds(blind)).not.toContain("fence");
      expect(kinds(blind)).toContain("release-fence-lock");
      expect(core.healthy(30_000)).toBe(false);
      expect(core.finished).toBeUndefined();
    });

    it("a member that cannot read its own mailbox for tko intervals self-fences", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 1 }, 0);
      drive(core, 0, 2_000);
      const blind = drive(core, 2_100, 10_000, true, false);
      expect(core.finished).toBeUndefined();
      expect(blind.filter((a) => a.kind === "self-fence")).toEqual([]);
      const out = drive(core, 10_100, 11_000, true, false);
      expect(out).toContainEqual({
        kind: "self-fence",
        reason: {
          kind: "mailbox-unreadable",
          detail: expect.stringMatching(/could not be read for 7\d{3} ms/),
        },
      });
      expect(core.finished).toBe("self-fenced");
    });

    it("stops at once when a peer's status names its current life as fenced, not an earlier one", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 4 }, 0);
      drive(core, 0, 2_000);
      const fencer = (incarnation: number) => ({ ...up(50), fenced: { member: 0, incarnation } });
      expect(core.step({ kind: "status-read", member: 2, status: fencer(3), nowMs: 2_100 })).toEqual([]);
      expect(core.finished).toBeUndefined();
      expect(core.step({ kind: "status-read", member: 2, status: fencer(4), nowMs: 2_200 })).toEqual([
        { kind: "self-fence", reason: { kind: "fenced-status", by: 2, incarnation: 4 } },
      ]);
      expect(core.step({ kind: "tick", nowMs: 2_300 })).toEqual([]);
    });

    it("stops at once when its own status block holds a newer life of it", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 4 }, 0);
      drive(core, 0, 2_000);
      const own = (incarnation: number) => ({ state: MemberState.Up, incarnation, heartbeat: 9 });
      expect(core.step({ kind: "status-read", member: 0, status: own(4), nowMs: 2_100 })).toEqual([]);
      expect(core.step({ kind: "status-read", member: 0, status: own(5), nowMs: 2_200 })).toEqual([
        { kind: "self-fence", reason: { kind: "superseded", incarnation: 5 } },
      ]);
    });

    it("a watchdog's assumed off does not count when the member wrote its heartbeat during the wait", () => {
      const core = new MemberCore({ ...base, me: 0, members: 3, incarnation: 1 }, 0);
      drive(core, 0, 9_000);
      core.step({ kind: "fence-lock-granted", notices: [] });
      expect(core.step({ kind: "tick", nowMs: 9_100 })).toContainEqual(
        expect.objectContaining({ kind: "fence", member: 1 }),
      );
      // Member 1 was only stalled: it writes again while the wait for its watchdog runs.
      core.step({ kind: "status-read", member: 1, status: up(2), nowMs: 9_500 });
      const out = core.step({
        kind: "fence-result",
        member: 1,
        confirmedOff: true,
        detail: "off assumed",
        nowMs: 30_000,
        byTime: true,
      });
      expect(kinds(out)).toEqual(["report"]);
      expect(out[0]).toMatchObject({ message: expect.stringContaining("its watchdog was being fed") });
      expect(core.isFenced(1, 1)).toBe(false);
    });
  });
});
