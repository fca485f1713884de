import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BakeryAction,
  BakeryCore,
  judgeSlot,
  LOCK_RELEASE_RETRY_MAX_MS,
  type LockKnowledge,
} from "../../src/disk/bakery-core.js";
import { emptyLock, type LockSlot } from "../../src/disk/lock-block.js";

const slot = (member: number, over: Partial<LockSlot> = {}): LockSlot => ({
  ...emptyLock(member),
  incarnation: 1,
  ...over,
});

const nobodyKnown: LockKnowledge = { status: () => undefined, isFenced: () => false };

describe("judging another member's lock slot", () => {
  const up = (incarnation: number) => ({ down: false, incarnation });
  const down = (incarnation: number) => ({ down: true, incarnation });
  const knows = (status: { down: boolean; incarnation: number } | undefined, fenced = 0): LockKnowledge => ({
    status: () => status,
    isFenced: (_m, i) => i <= fenced,
  });

  it("counts a slot whose life may still act, however long it has stood still", () => {
    expect(judgeSlot(slot(1, { incarnation: 3, ticket: 9 }), knows(up(3)))).toBe("live");
    expect(judgeSlot(slot(1, { incarnation: 3, choosing: true }), knows(undefined))).toBe("live");
  });

  it("gives up a slot whose life is over: DOWN, fenced, or followed by a newer life", () => {
    expect(judgeSlot(slot(1, { incarnation: 3, ticket: 9 }), knows(down(3)))).toBe("gone");
    expect(judgeSlot(slot(1, { incarnation: 3, ticket: 9 }), knows(up(4)))).toBe("gone");
    expect(judgeSlot(slot(1, { incarnation: 3, ticket: 9 }), knows(up(3), 3))).toBe("gone");
    expect(judgeSlot(slot(1, { incarnation: 3, ticket: 9 }), knows(up(3), 2))).toBe("live");
  });

  it("keeps a tool's slot while its member is DOWN, and frees it with a newer life or a fence", () => {
    const tool = slot(1, { incarnation: 3, ticket: 9, tool: true });
    expect(judgeSlot(tool, knows(down(3)))).toBe("live");
    expect(judgeSlot(tool, knows(up(4)))).toBe("gone");
    expect(judgeSlot(tool, knows(up(3), 3))).toBe("gone");
    // A tool on a member that never joined names no life, and nothing can fence it.
    expect(judgeSlot(slot(1, { incarnation: 0, ticket: 9, tool: true }), knows(undefined, 5))).toBe("live");
  });

  it("goes past a live life only when this waiter is about to fence it", () => {
    const k: LockKnowledge = { ...knows(up(3)), condemned: (m, i) => m === 1 && i === 3 };
    expect(judgeSlot(slot(1, { incarnation: 3, ticket: 9 }), k)).toBe("condemned");
    expect(judgeSlot(slot(2, { incarnation: 3, ticket: 9 }), k)).toBe("live");
  });
});

/** Drives one core through a script of outcomes; returns the actions it asked for. */
function drive(core: BakeryCore, outcomes: ((a: BakeryAction) => Parameters<BakeryCore["step"]>[0])[]) {
  const actions: BakeryAction[] = [core.step({ kind: "begin", nowMs: 0 })];
  for (const next of outcomes) actions.push(core.step(next(actions[actions.length - 1] as BakeryAction)));
  return actions;
}

describe("the bakery, step by step", () => {
  it("chooses, takes a ticket above every other, waits for those ahead, then holds and releases", () => {
    const core = new BakeryCore({ me: 1, pollMs: 20, waitMs: 1000 });
    const others = [slot(0, { ticket: 4 }), slot(1), slot(2, { ticket: 7 })];
    const actions = drive(core, [
      () => ({ kind: "written", ok: true, nowMs: 1 }),
      () => ({ kind: "read", slots: others, judge: () => "live", nowMs: 2 }),
      () => ({ kind: "written", ok: true, nowMs: 3 }),
      // Member 0's ticket 4 is ahead of mine (8); member 2's 7 too.
      () => ({ kind: "read", slots: others, judge: () => "live", nowMs: 4 }),
      () => ({ kind: "woke", nowMs: 24 }),
      () => ({
        kind: "read",
        slots: [slot(0), slot(1, { ticket: 8 }), slot(2)],
        judge: () => "live",
        nowMs: 25,
      }),
      () => ({ kind: "release", nowMs: 30 }),
      () => ({ kind: "written", ok: true, nowMs: 31 }),
    ]);
    expect(actions).toEqual([
      { kind: "write", slot: { choosing: true, ticket: 0 } },
      { kind: "read" },
      { kind: "write", slot: { choosing: false, ticket: 8 } },
      { kind: "read" },
      { kind: "sleep", ms: 20 },
      { kind: "read" },
      { kind: "granted", condemned: [] },
      { kind: "write", slot: { choosing: false, ticket: 0 } },
      { kind: "done", granted: true, released: true },
    ]);
    expect(core.blockers).toEqual([]);
  });

  it("waits for a member still choosing, however long it takes", () => {
    const core = new BakeryCore({ me: 0, pollMs: 20, waitMs: 100_000 });
    drive(core, [
      () => ({ kind: "written", ok: true, nowMs: 1 }),
      () => ({ kind: "read", slots: [slot(0), slot(1)], judge: () => "live", nowMs: 2 }),
      () => ({ kind: "written", ok: true, nowMs: 3 }),
    ]);
    // Member 1 stalled in its doorway for 50 s: it is still "choosing", so member 0 waits.
    let t = 4;
    for (; t < 50_000; t += 20) {
      const a = core.step({
        kind: "read",
        slots: [slot(0, { ticket: 1 }), slot(1, { choosing: true })],
        judge: () => "live",
        nowMs: t,
      });
      expect(a).toEqual({ kind: "sleep", ms: 20 });
      core.step({ kind: "woke", nowMs: t + 20 });
    }
    expect(core.blockers).toEqual([1]);
    // It wakes and writes the ticket it chose before: 1, like mine. The lower id goes first.
    expect(
      core.step({
        kind: "read",
        slots: [slot(0, { ticket: 1 }), slot(1, { ticket: 1 })],
        judge: () => "live",
        nowMs: t,
      }),
    ).toEqual({
      kind: "granted",
      condemned: [],
    });
  });

  it("goes past a condemned life's ticket and names it in the grant", () => {
    const core = new BakeryCore({ me: 2, pollMs: 20, waitMs: 1000 });
    const slots = [slot(0, { ticket: 1, incarnation: 6 }), slot(1), slot(2, { ticket: 2 })];
    const actions = drive(core, [
      () => ({ kind: "written", ok: true, nowMs: 1 }),
      () => ({ kind: "read", slots, judge: () => "live", nowMs: 2 }),
      () => ({ kind: "written", ok: true, nowMs: 3 }),
      () => ({ kind: "read", slots, judge: (s) => (s.member === 0 ? "condemned" : "live"), nowMs: 4 }),
    ]);
    expect(actions.at(-1)).toEqual({
      kind: "granted",
      condemned: [{ member: 0, incarnation: 6, tool: false }],
    });
  });

  it("gives up when its slot cannot be written, clearing what may have reached the primary", () => {
    const core = new BakeryCore({ me: 0, pollMs: 20, waitMs: 1000 });
    const actions = drive(core, [
      () => ({ kind: "written", ok: true, nowMs: 1 }),
      () => ({ kind: "read", slots: [slot(0), slot(1)], judge: () => "live", nowMs: 2 }),
      () => ({ kind: "written", ok: false, error: "EIO on the backup", nowMs: 3 }),
      () => ({ kind: "written", ok: true, nowMs: 4 }),
    ]);
    expect(actions.slice(-2)).toEqual([
      { kind: "write", slot: { choosing: false, ticket: 0 } },
      {
        kind: "done",
        granted: false,
        released: true,
        failure: { why: "io", message: "could not write this member's ticket: EIO on the backup" },
      },
    ]);
  });

  it("keeps trying to clear its slot, backing off, for at most the wait", () => {
    const core = new BakeryCore({ me: 0, pollMs: 20, waitMs: 10_000 });
    drive(core, [
      () => ({ kind: "written", ok: true, nowMs: 1 }),
      () => ({ kind: "read", slots: [slot(0)], judge: () => "live", nowMs: 2 }),
      () => ({ kind: "written", ok: true, nowMs: 3 }),
      () => ({ kind: "read", slots: [slot(0, { ticket: 1 })], judge: () => "live", nowMs: 4 }),
    ]);
    let a = core.step({ kind: "release", nowMs: 5 });
    let t = 5;
    const sleeps: number[] = [];
    while (a.kind !== "done") {
      expect(a).toEqual({ kind: "write", slot: { choosing: false, ticket: 0 } });
      a = core.step({ kind: "written", ok: false, error: "EIO", nowMs: t });
      if (a.kind === "sleep") {
        sleeps.push(a.ms);
        t += a.ms;
        a = core.step({ kind: "woke", nowMs: t });
      }
    }
    expect(sleeps.slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
    expect(Math.max(...sleeps)).toBe(LOCK_RELEASE_RETRY_MAX_MS);
    expect(t).toBeGreaterThan(10_000);
    expect(a).toMatchObject({ kind: "done", granted: true, released: false, failure: { why: "io" } });
  });

  it("times out naming the members ahead of it, and gives up when asked, even mid-read", () => {
    const late = new BakeryCore({ me: 0, pollMs: 20, waitMs: 100 });
    drive(late, [
      () => ({ kind: "written", ok: true, nowMs: 0 }),
      () => ({ kind: "read", slots: [slot(0), slot(3, { ticket: 5 })], judge: () => "live", nowMs: 0 }),
      () => ({ kind: "written", ok: true, nowMs: 0 }),
    ]);
    const held = [slot(0, { ticket: 6 }), slot(3, { ticket: 5 })];
    expect(late.step({ kind: "read", slots: held, judge: () => "live", nowMs: 50 })).toEqual({
      kind: "sleep",
      ms: 20,
    });
    late.step({ kind: "woke", nowMs: 101 });
    expect(late.step({ kind: "read", slots: held, judge: () => "live", nowMs: 101 })).toEqual({
      kind: "write",
      slot: { choosing: false, ticket: 0 },
    });
    expect(late.step({ kind: "written", ok: true, nowMs: 102 })).toMatchObject({
      kind: "done",
      granted: false,
      failure: { why: "timeout", message: expect.stringMatching(/still held by member 3 after 100 ms/) },
    });
    // Asked to give up while a read is under way: the read's end clears the slot.
    const asked = new BakeryCore({ me: 0, pollMs: 20, waitMs: 10_000 });
    drive(asked, [
      () => ({ kind: "written", ok: true, nowMs: 0 }),
      () => ({ kind: "read", slots: [slot(0)], judge: () => "live", nowMs: 0 }),
      () => ({ kind: "written", ok: true, nowMs: 0 }),
    ]);
    expect(asked.abort("no longer wanted", 5)).toBeUndefined();
    expect(
      asked.step({ kind: "read", slots: [slot(0, { ticket: 1 })], judge: () => "live", nowMs: 6 }),
    ).toEqual({
      kind: "write",
      slot: { choosing: false, ticket: 0 },
    });
    expect(asked.step({ kind: "written", ok: true, nowMs: 7 })).toMatchObject({
      granted: false,
      failure: { why: "aborted" },
    });
  });

  it("never grants two members at once, whatever the interleaving and the stalls", () => {
    // Each step of the run lets one member's pending I/O land, or advances time (a stall of the
    // others); writes land on the shared slots when they complete, reads see them at once.
    const member = fc.integer({ min: 0, max: 2 });
    const event = fc.oneof(
      { weight: 8, arbitrary: fc.record({ e: fc.constant("io" as const), member }) },
      { weight: 1, arbitrary: fc.record({ e: fc.constant("fail" as const), member }) },
      {
        weight: 1,
        arbitrary: fc.record({ e: fc.constant("time" as const), ms: fc.integer({ min: 1, max: 500 }) }),
      },
      { weight: 2, arbitrary: fc.record({ e: fc.constant("release" as const), member }) },
    );
    fc.assert(
      fc.property(fc.array(event, { minLength: 50, maxLength: 400 }), (events) => {
        const n = 3;
        const slots = Array.from({ length: n }, (_, m) => slot(m));
        const cores = Array.from({ length: n }, (_, me) => new BakeryCore({ me, pollMs: 20, waitMs: 5_000 }));
        let now = 0;
        const pending: (BakeryAction | undefined)[] = cores.map((c) => c.step({ kind: "begin", nowMs: 0 }));
        const holding = new Set<number>();
        const restart = (m: number) => {
          const fresh = new BakeryCore({ me: m, pollMs: 20, waitMs: 5_000 });
          cores[m] = fresh;
          pending[m] = fresh.step({ kind: "begin", nowMs: now });
        };
        for (const ev of events) {
          if (ev.e === "time") {
            now += ev.ms;
            continue;
          }
          const m = ev.member;
          const core = cores[m] as BakeryCore;
          const a = pending[m];
          if (a === undefined) continue;
          if (ev.e === "release") {
            if (a.kind !== "granted") continue;
            holding.delete(m);
            pending[m] = core.step({ kind: "release", nowMs: now });
            continue;
          }
          const ok = ev.e === "io";
          let next: BakeryAction;
          switch (a.kind) {
            case "write":
              // A failed write may still have reached the copy readers see.
              if (ok || now % 2 === 0) slots[m] = { ...(slots[m] as LockSlot), ...a.slot };
              next = core.step({ kind: "written", ok, nowMs: now });
              break;
            case "read":
              next = ok
                ? core.step({
                    kind: "read",
                    slots: slots.map((s) => ({ ...s })),
                    judge: () => "live",
                    nowMs: now,
                  })
                : core.step({ kind: "read", error: "EIO", nowMs: now });
              break;
            case "sleep":
              next = core.step({ kind: "woke", nowMs: now });
              break;
            case "granted":
              continue;
            case "done":
              restart(m);
              continue;
          }
          if (next.kind === "granted") {
            expect([...holding], `member ${m} granted while others hold`).toEqual([]);
            holding.add(m);
          }
          pending[m] = next;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("the bakery's knowledge", () => {
  it("judges nothing without a status: a slot is live until its life is known to be over", () => {
    expect(judgeSlot(slot(1, { ticket: 3 }), nobodyKnown)).toBe("live");
  });
});
