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

  private apply(me: number, actions: MemberAction[]): void {
    const core = this.cores[me] as MemberCore;
    for (const action of actions) {
      this.log.push({ by: me, action, atMs: this.now });
      switch (action.kind) {
        case "write-status":
          this.disk.set(me, {
            state: action.state,
            incarnation: action.incarnation,
            heartbeat: action.heartbeat,
          });
          if (action.state === MemberState.Up)
            this.apply(me, core.step({ kind: "status-written", ok: true, nowMs: this.now }));
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
    // The other survivor waited for the lock, found the notice under it and did not fire again.
    expect(b.cores[0]?.isFenced(2, 1)).toBe(true);
    expect(b.cores[1]?.isFenced(2, 1)).toBe(true);
    expect(
      b
        .actions("acquire-fence-lock")
        .map((e) => e.by)
        .sort(),
    ).toEqual([0, 1]);
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
    expect(core.step({ kind: "status-written", ok: false, nowMs: 10 })).toMatchObject([
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
});
