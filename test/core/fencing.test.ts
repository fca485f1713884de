import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FENCE_LOCK_RETRY_MAX_MS,
  FENCE_RETRY_MAX_MS,
  type FenceAction,
  Fencing,
} from "../../src/core/fencing.js";

const three = { me: 0, members: 3, twoMemberDelayMs: 5000, staggerMs: 400 };
const kinds = (actions: FenceAction[]) => actions.map((a) => a.kind);

describe("fencing", () => {
  it("fences a hung peer only under the lock, then leaves a notice and lets the lock go", () => {
    const f = new Fencing(three);
    f.hung(2, 7, 0);
    expect(f.tick(0, true)).toEqual([{ kind: "acquire-fence-lock" }]);
    expect(f.tick(100, true)).toEqual([]); // asked once, waiting for the bakery
    f.lockGranted([]);
    expect(f.tick(200, true)).toEqual([{ kind: "fence", member: 2, incarnation: 7, attempt: 1 }]);
    expect(f.isFenced(2, 7)).toBe(false); // issued is not confirmed
    expect(f.fenceResult(2, true, "outlet 2 off", 900)).toEqual([
      { kind: "write-fenced-notice", member: 2, incarnation: 7 },
      {
        kind: "report",
        member: 2,
        incarnation: 7,
        message: "fenced: outlet 2 off",
      },
    ]);
    expect(f.isFenced(2, 7)).toBe(true);
    expect(f.isFenced(2, 8)).toBe(false);
    // The lock is held until the notice is on the disk, so the next holder finds it.
    expect(f.tick(1000, true)).toEqual([]);
    f.noticeWritten(2, 7, true, 1000);
    expect(f.tick(1000, true)).toEqual([{ kind: "release-fence-lock" }]);
    // That life stays dead whatever happens next; a new life is not fenced by it.
    f.resolved(2, 1000);
    expect(f.isFenced(2, 7)).toBe(true);
    f.rejoined(2, 8);
    expect(f.isFenced(2, 7)).toBe(true);
    expect(f.isFenced(2, 8)).toBe(false);
  });

  it("asks for the lock again after the lock could not be taken, backing off each time", () => {
    const f = new Fencing(three);
    f.hung(1, 3, 0);
    expect(f.tick(0, true)).toEqual([{ kind: "acquire-fence-lock" }]);
    expect(f.tick(100, true)).toEqual([]);
    // Every tick would be ten lock cycles a second against a broken lock region.
    let now = 200;
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      f.lockFailed(now);
      const failedAt = now;
      while (f.tick(now, true).length === 0) now += 50;
      waits.push(now - failedAt);
    }
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
    expect(Math.max(...waits)).toBe(FENCE_LOCK_RETRY_MAX_MS);
    // A grant starts the backoff over.
    f.lockGranted([]);
    expect(kinds(f.tick(now, true))).toEqual(["fence"]);
    f.fenceResult(1, false, "no answer", now);
    expect(kinds(f.tick(now, true))).toEqual(["release-fence-lock"]);
    now += 2000;
    expect(kinds(f.tick(now, true))).toEqual(["acquire-fence-lock"]);
    f.lockFailed(now);
    expect(f.tick(now + 249, true)).toEqual([]);
    expect(kinds(f.tick(now + 250, true))).toEqual(["acquire-fence-lock"]);
  });

  it("never fences while this member is unhealthy, and gives the lock back", () => {
    const f = new Fencing(three);
    f.hung(1, 3, 0);
    expect(f.tick(0, false)).toEqual([]);
    expect(f.tick(0, true)).toEqual([{ kind: "acquire-fence-lock" }]);
    f.lockGranted([]);
    expect(f.tick(10, false)).toEqual([{ kind: "release-fence-lock" }]);
  });

  it("keeps the lock while a fence it fired is in flight, even when it turns unhealthy", () => {
    const f = new Fencing(three);
    f.hung(1, 3, 0);
    f.tick(0, true);
    f.lockGranted([]);
    expect(kinds(f.tick(10, true))).toEqual(["fence"]);
    // One failed read makes it unhealthy: it fires nothing new, but letting the lock go now would
    // let the next holder find no notice and power-cycle member 1 again.
    f.hung(2, 5, 20);
    expect(f.tick(20, false)).toEqual([]);
    expect(f.tick(5_000, false)).toEqual([]);
    expect(kinds(f.fenceResult(1, true, "off", 6_000))).toEqual(["write-fenced-notice", "report"]);
    expect(f.tick(6_000, false)).toEqual([]);
    f.noticeWritten(1, 3, true, 6_010);
    expect(f.tick(6_010, false)).toEqual([{ kind: "release-fence-lock" }]);
  });

  it("writes a fenced notice again, holding the lock, until it is on the disk", () => {
    const f = new Fencing(three);
    f.hung(1, 3, 0);
    f.tick(0, true);
    f.lockGranted([]);
    f.tick(0, true);
    f.fenceResult(1, true, "off", 100);
    f.noticeWritten(1, 3, false, 110);
    expect(f.busy).toBe(true);
    expect(f.tick(609, true)).toEqual([]);
    expect(f.tick(610, false)).toEqual([{ kind: "write-fenced-notice", member: 1, incarnation: 3 }]);
    // Asked once: not again until it settles.
    expect(f.tick(2_000, true)).toEqual([]);
    f.noticeWritten(1, 3, false, 2_000);
    expect(f.tick(2_999, true)).toEqual([]);
    expect(kinds(f.tick(3_000, true))).toEqual(["write-fenced-notice"]);
    f.noticeWritten(1, 3, true, 3_010);
    expect(f.busy).toBe(false);
    expect(f.tick(3_010, true)).toEqual([{ kind: "release-fence-lock" }]);
    expect(() => f.noticeWritten(1, 3, true, 3_020)).toThrow(/never asked for/);
  });

  it("counts a watchdog member off only twice its timeout after it last moved, however often it hangs again", () => {
    // T = 60 s: off 120 s after its last sign of life.
    const f = new Fencing({ ...three, watchdogWaitMs: (m) => (m === 1 ? 120_000 : undefined) });
    f.hung(1, 3, 0);
    f.tick(0, true);
    f.lockGranted([]);
    expect(kinds(f.tick(0, true))).toEqual(["fence"]); // the wait starts: off assumed at 120 s
    // It wakes and feeds its watchdog at 30 s, then hangs again; declared hung at 38 s, having
    // last moved at 31 s.
    f.resolved(1, 30_000);
    f.hung(1, 3, 38_000, 0, 31_000);
    // The wait it was fenced with ends: its watchdog, fed at 31 s, fires only near 91 s.
    const [report] = f.fenceResult(1, true, "waited 120000 ms", 120_000, true);
    expect(report).toMatchObject({
      kind: "report",
      message: expect.stringMatching(/only 120000 ms after it last moved/),
    });
    expect(f.isFenced(1, 3)).toBe(false);
    expect(f.busy).toBe(true);
    // A later report of it hung changes nothing now.
    f.hung(1, 3, 140_000, 0, 31_000);
    expect(f.tick(150_999, false)).toEqual([]);
    expect(kinds(f.tick(151_000, false))).toEqual(["write-fenced-notice", "report"]);
    expect(f.isFenced(1, 3)).toBe(true);
  });

  it("never counts off a watchdog member whose heartbeat moves during the wait", () => {
    const waits = { ...three, watchdogWaitMs: () => 120_000 };
    // Alive when the wait ends: not off, and not fenced again while it lives.
    const alive = new Fencing(waits);
    alive.hung(1, 3, 0);
    alive.tick(0, true);
    alive.lockGranted([]);
    alive.tick(0, true);
    alive.resolved(1, 50_000);
    expect(alive.fenceResult(1, true, "waited", 120_000, true)).toMatchObject([
      { kind: "report", message: expect.stringMatching(/watchdog was being fed/) },
    ]);
    expect(alive.isFenced(1, 3)).toBe(false);
    // Hung again after it moved, then moving once more during the extra wait: alive after all.
    const again = new Fencing(waits);
    again.hung(1, 3, 0);
    again.tick(0, true);
    again.lockGranted([]);
    again.tick(0, true);
    again.resolved(1, 30_000);
    again.hung(1, 3, 38_000, 0, 31_000);
    again.fenceResult(1, true, "waited", 120_000, true);
    again.resolved(1, 130_000);
    expect(again.busy).toBe(false);
    expect(again.tick(200_000, true)).toEqual([{ kind: "release-fence-lock" }]);
    expect(again.isFenced(1, 3)).toBe(false);
  });

  it("writes one notice at a time to a member's mailbox block, the newest life owed", () => {
    const f = new Fencing(three);
    f.hung(1, 3, 0);
    f.tick(0, true);
    f.lockGranted([]);
    f.tick(0, true);
    expect(kinds(f.fenceResult(1, true, "off", 10))).toEqual(["write-fenced-notice", "report"]);
    // Its next life hung and was fenced too while that write was under way: the newer notice
    // waits for it, and then covers both lives.
    f.hung(1, 4, 100);
    f.tick(100, true);
    expect(kinds(f.fenceResult(1, true, "off", 200))).toEqual(["report"]);
    f.noticeWritten(1, 3, true, 210);
    expect(f.tick(210, true)).toEqual([{ kind: "write-fenced-notice", member: 1, incarnation: 4 }]);
    // A failed write is retried with the newest life, never an older one.
    f.noticeWritten(1, 4, false, 220);
    expect(f.tick(719, true)).toEqual([]);
    expect(f.tick(720, true)).toEqual([{ kind: "write-fenced-notice", member: 1, incarnation: 4 }]);
    expect(() => f.noticeWritten(1, 3, true, 730)).toThrow(/never asked for/);
    f.noticeWritten(1, 4, true, 740);
    expect(f.busy).toBe(false);
  });

  it("granted past a hung holder's slot, fences that life and nothing else until it is off", () => {
    const f = new Fencing({ me: 0, members: 4, twoMemberDelayMs: 0, staggerMs: 0 });
    f.hung(1, 3, 0);
    f.hung(2, 8, 0);
    expect(f.aboutToFence(1, 3)).toBe(true);
    expect(f.aboutToFence(1, 2)).toBe(true);
    expect(f.aboutToFence(1, 4)).toBe(false);
    expect(f.aboutToFence(3, 1)).toBe(false);
    f.tick(0, true);
    // Member 1 held the lock when it hung: the grant went past its slot.
    f.lockGranted([], [{ member: 1, incarnation: 3, tool: false }]);
    expect(f.grantedPast).toEqual([{ member: 1, incarnation: 3, tool: false }]);
    expect(f.tick(10, true)).toEqual([{ kind: "fence", member: 1, incarnation: 3, attempt: 1 }]);
    // Member 2 waits: member 1 may still believe it holds the lock, and may be fencing it.
    expect(f.tick(20, true)).toEqual([]);
    f.fenceResult(1, true, "off", 30);
    f.noticeWritten(1, 3, true, 40);
    // Member 1 is off: the grant is whole, and member 2 may be fenced.
    expect(f.tick(50, true)).toEqual([{ kind: "fence", member: 2, incarnation: 8, attempt: 1 }]);
    expect(f.grantedPast).toEqual([]);
  });

  it("granted past a hung fencer and a tool, fences the fencer first: its fences end with it", () => {
    const f = new Fencing({ me: 0, members: 4, twoMemberDelayMs: 0, staggerMs: 0 });
    f.hung(1, 3, 0);
    f.hung(2, 8, 0);
    f.tick(0, true);
    // Member 1's daemon held the lock, fencing member 2 perhaps; member 2's cluadmin waited.
    f.lockGranted(
      [],
      [
        { member: 2, incarnation: 8, tool: true },
        { member: 1, incarnation: 3, tool: false },
      ],
    );
    expect(f.tick(10, true)).toEqual([{ kind: "fence", member: 1, incarnation: 3, attempt: 1 }]);
    f.fenceResult(1, true, "off", 20);
    f.noticeWritten(1, 3, true, 30);
    expect(f.tick(40, true)).toEqual([{ kind: "fence", member: 2, incarnation: 8, attempt: 1 }]);
  });

  it("lets a grant past a hung holder go when that holder moves again before it is fired at", () => {
    const f = new Fencing({ me: 0, members: 4, twoMemberDelayMs: 0, staggerMs: 0 });
    f.hung(1, 3, 0);
    f.hung(2, 8, 0);
    f.tick(0, true);
    f.lockGranted([], [{ member: 1, incarnation: 3, tool: false }]);
    f.resolved(1, 5);
    expect(f.tick(10, true)).toEqual([{ kind: "release-fence-lock" }]);
    expect(f.tick(20, true)).toEqual([{ kind: "acquire-fence-lock" }]);
    f.lockGranted([]);
    expect(f.tick(30, true)).toEqual([{ kind: "fence", member: 2, incarnation: 8, attempt: 1 }]);
  });

  it("in a two-member cluster only the higher id waits before fencing", () => {
    const low = new Fencing({ me: 0, members: 2, twoMemberDelayMs: 5000, staggerMs: 400 });
    low.hung(1, 1, 0);
    expect(kinds(low.tick(0, true))).toEqual(["acquire-fence-lock"]);
    const high = new Fencing({ me: 1, members: 2, twoMemberDelayMs: 5000, staggerMs: 400 });
    high.hung(0, 1, 0);
    expect(high.tick(4999, true)).toEqual([]);
    expect(kinds(high.tick(5000, true))).toEqual(["acquire-fence-lock"]);
    // With three or more, the two-member delay does not apply: the lowest live id goes first.
    const f = new Fencing({ me: 2, members: 3, twoMemberDelayMs: 5000, staggerMs: 400 });
    f.hung(0, 1, 0);
    expect(kinds(f.tick(0, true))).toEqual(["acquire-fence-lock"]);
  });

  it("announces each confirmed off in turn, one a status write, until a write carrying it lands", () => {
    const f = new Fencing({ me: 0, members: 4, twoMemberDelayMs: 0, staggerMs: 0 });
    f.hung(1, 5, 0);
    f.hung(2, 7, 0);
    f.tick(0, true);
    f.lockGranted([]);
    f.tick(0, true);
    f.fenceResult(1, true, "off", 10);
    f.fenceResult(2, true, "off", 20);
    expect(f.lastFenced).toEqual({ member: 1, incarnation: 5 });
    // Not the one carried: nothing changes, and nothing new is on the disk.
    expect(f.announced({ member: 2, incarnation: 7 })).toBe(false);
    expect(f.lastFenced).toEqual({ member: 1, incarnation: 5 });
    expect(f.announced({ member: 1, incarnation: 5 })).toBe(true);
    expect(f.lastFenced).toEqual({ member: 2, incarnation: 7 });
    expect(f.announced({ member: 2, incarnation: 7 })).toBe(true);
    // The last one stays in the status block: a late reader still learns of it, but writing it
    // again is no news.
    expect(f.lastFenced).toEqual({ member: 2, incarnation: 7 });
    expect(f.announced({ member: 2, incarnation: 7 })).toBe(false);
  });

  it("with more members, waits a stagger per live member with a lower id", () => {
    // Member 3 of 16 sees member 9 hung, with members 0 and 2 alive below it.
    const f = new Fencing({ me: 3, members: 16, twoMemberDelayMs: 5000, staggerMs: 400 });
    f.hung(9, 1, 0, 2);
    expect(f.tick(799, true)).toEqual([]);
    expect(kinds(f.tick(800, true))).toEqual(["acquire-fence-lock"]);
    // A peer's status saying it fenced that life already: this member stands down at once.
    const g = new Fencing({ me: 3, members: 16, twoMemberDelayMs: 5000, staggerMs: 400 });
    g.hung(9, 1, 0, 2);
    g.fencedSeen(9, 1);
    expect(g.isFenced(9, 1)).toBe(true);
    expect(g.isFenced(9, 2)).toBe(false);
    expect(g.tick(1_000, true)).toEqual([]);
    // News once: read again, or a fence of one of this member's own lives, is not.
    expect(g.fencesLearned).toBe(1);
    g.fencedSeen(9, 1);
    g.fencedSeen(3, 1);
    expect(g.fencesLearned).toBe(1);
    // ...and stands down if, under the lock, the notice of whoever went first is there.
    f.lockGranted([{ member: 9, incarnation: 1 }]);
    expect(f.isFenced(9, 1)).toBe(true);
    expect(kinds(f.tick(900, true))).toEqual(["release-fence-lock"]);
  });

  it("retries a failed fence with doubling backoff up to a cap, never counting it fenced", () => {
    const f = new Fencing(three);
    f.lockGranted([]);
    f.hung(1, 4, 0);
    let now = 0;
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      let actions = f.tick(now, true);
      if (attempt > 1) {
        expect(actions).toEqual([{ kind: "acquire-fence-lock" }]);
        f.lockGranted([]);
        actions = f.tick(now, true);
      }
      expect(actions).toEqual([{ kind: "fence", member: 1, incarnation: 4, attempt }]);
      const [report] = f.fenceResult(1, false, "no answer from the switch", now);
      expect(report).toMatchObject({ kind: "report", message: expect.stringMatching(/stay where they are/) });
      const delay = Number(/retrying in (\d+) ms/.exec((report as { message: string }).message)?.[1]);
      delays.push(delay);
      expect(f.isFenced(1, 4)).toBe(false);
      // The lock goes back while it waits, so another member may try its own path to the switch.
      expect(f.tick(now + delay - 1, true)).toEqual([{ kind: "release-fence-lock" }]);
      now += delay;
    }
    expect(delays).toEqual([2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(Math.max(...delays)).toBe(FENCE_RETRY_MAX_MS);
  });

  it("drops a waiting case when the peer moves again, but not one whose fence is in flight", () => {
    const f = new Fencing(three);
    f.lockGranted([]);
    f.hung(1, 4, 0);
    f.resolved(1, 0);
    expect(f.tick(0, true)).toEqual([{ kind: "release-fence-lock" }]);
    f.lockGranted([]);
    f.hung(2, 4, 0);
    expect(kinds(f.tick(0, true))).toEqual(["fence"]);
    f.resolved(2, 5);
    expect(kinds(f.fenceResult(2, true, "off", 10))).toEqual(["write-fenced-notice", "report"]);
  });

  it("does not fire at a peer whose notice it finds under the lock, and counts it fenced", () => {
    const f = new Fencing(three);
    f.hung(1, 4, 0);
    f.hung(2, 6, 0);
    expect(f.tick(0, true)).toEqual([{ kind: "acquire-fence-lock" }]);
    // A notice about member 1's earlier life does not count for its current one.
    f.lockGranted([
      { member: 2, incarnation: 6 },
      { member: 1, incarnation: 3 },
    ]);
    expect(f.tick(10, true)).toEqual([{ kind: "fence", member: 1, incarnation: 4, attempt: 1 }]);
    expect(f.isFenced(2, 6)).toBe(true);
  });

  it("does not retry a failed fence at a peer that came back while it was in flight", () => {
    const f = new Fencing(three);
    f.lockGranted([]);
    f.hung(1, 4, 0);
    expect(kinds(f.tick(0, true))).toEqual(["fence"]);
    f.resolved(1, 100); // its counter moved again
    expect(f.fenceResult(1, false, "no answer", 500)).toMatchObject([
      { kind: "report", message: expect.stringMatching(/alive again, so it is not retried/) },
    ]);
    expect(f.tick(60_000, true)).toEqual([{ kind: "release-fence-lock" }]);
    // Hung again while a second fence is in flight: a failure is retried as usual.
    f.hung(1, 4, 61_000);
    f.lockGranted([]);
    expect(kinds(f.tick(61_000, true))).toEqual(["fence"]);
    f.resolved(1, 61_200);
    f.hung(1, 4, 61_500);
    expect(f.fenceResult(1, false, "no answer", 62_000)).toMatchObject([
      { kind: "report", message: expect.stringMatching(/retrying in 2000 ms/) },
    ]);
  });

  it("a fence in flight counts only for the life it was fired at; a newer hung life is fenced afresh", () => {
    const f = new Fencing(three);
    f.lockGranted([]);
    f.hung(1, 4, 0);
    expect(kinds(f.tick(0, true))).toEqual(["fence"]);
    // Its machine rebooted and the new life hung too, all before the result reached us: the off
    // may have come before that life began, so it cannot count for it.
    f.rejoined(1, 5);
    f.hung(1, 5, 10);
    f.hung(1, 3, 10); // an older report changes nothing
    expect(f.tick(20, true)).toEqual([]); // the lock stays while the power cycle is in flight
    expect(f.fenceResult(1, true, "off", 30)[0]).toEqual({
      kind: "write-fenced-notice",
      member: 1,
      incarnation: 4,
    });
    expect(f.isFenced(1, 4)).toBe(true);
    expect(f.isFenced(1, 3)).toBe(true); // an earlier life ran on that machine before the off
    expect(f.isFenced(1, 5)).toBe(false);
    expect(f.tick(40, true)).toEqual([{ kind: "fence", member: 1, incarnation: 5, attempt: 1 }]);
  });

  it("a newer life that rejoined and keeps writing is never counted fenced by the old fence", () => {
    const f = new Fencing(three);
    f.lockGranted([]);
    f.hung(1, 4, 0);
    expect(kinds(f.tick(0, true))).toEqual(["fence"]);
    f.rejoined(1, 5);
    f.resolved(1, 20);
    f.fenceResult(1, true, "off", 30);
    f.noticeWritten(1, 4, true, 35);
    expect(f.isFenced(1, 5)).toBe(false);
    expect(f.tick(40, true)).toEqual([{ kind: "release-fence-lock" }]);
  });

  it("after a failed fence, the retry aims at the newer hung life, since it fires after seeing it", () => {
    const f = new Fencing(three);
    f.lockGranted([]);
    f.hung(1, 4, 0);
    f.tick(0, true);
    f.hung(1, 5, 10);
    f.fenceResult(1, false, "no answer", 20);
    f.lockGranted([]);
    expect(f.tick(2_020, true)).toEqual([{ kind: "fence", member: 1, incarnation: 5, attempt: 2 }]);
  });

  it("whatever happens, fences only when healthy and holding the lock, keeps it while anything is under way, and counts fenced only on confirmation", () => {
    const event = fc.oneof(
      fc.record({
        e: fc.constant("hung" as const),
        member: fc.integer({ min: 1, max: 3 }),
        inc: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({ e: fc.constant("resolved" as const), member: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ e: fc.constant("grant" as const), past: fc.boolean() }),
      fc.record({ e: fc.constant("lock-failed" as const) }),
      fc.record({
        e: fc.constant("tick" as const),
        healthy: fc.boolean(),
        advance: fc.integer({ min: 0, max: 70_000 }),
      }),
      fc.record({ e: fc.constant("result" as const), ok: fc.boolean() }),
      fc.record({ e: fc.constant("notice" as const), ok: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(event, { minLength: 30, maxLength: 150 }), (events) => {
        const f = new Fencing({ me: 0, members: 4, twoMemberDelayMs: 0, staggerMs: 0 });
        let now = 0;
        let lockHeld = false;
        let requested = false;
        let past: { member: number; incarnation: number; tool: boolean }[] = [];
        const inFlight = new Map<number, number>();
        // Notice writes under way, and the newest life owed a notice, per member.
        const noticeWrites = new Map<number, number>();
        const owed = new Map<number, number>();
        const confirmed = new Set<string>();
        const noticeAsked = (member: number, incarnation: number) => {
          expect(lockHeld).toBe(true);
          // One write at a time to a member's mailbox block, of the newest life owed.
          expect(noticeWrites.has(member)).toBe(false);
          expect(incarnation).toBe(owed.get(member));
          noticeWrites.set(member, incarnation);
        };
        for (const ev of events) {
          if (ev.e === "hung") {
            f.hung(ev.member, ev.inc, now);
          } else if (ev.e === "resolved") f.resolved(ev.member, now);
          else if (ev.e === "grant") {
            if (!requested) continue; // the bakery grants only what was asked for
            // The bakery goes past a slot only of a life this member is about to fence.
            past = ev.past
              ? [1, 2, 3].flatMap((m) =>
                  f.aboutToFence(m, 1) ? [{ member: m, incarnation: 1, tool: m === 3 }] : [],
                )
              : [];
            f.lockGranted([], past);
            lockHeld = true;
            requested = false;
          } else if (ev.e === "lock-failed") {
            if (!requested) continue;
            f.lockFailed(now);
            requested = false;
          } else if (ev.e === "tick") {
            now += ev.advance;
            for (const a of f.tick(now, ev.healthy)) {
              if (a.kind === "acquire-fence-lock") {
                expect(lockHeld || requested).toBe(false);
                requested = true;
              } else if (a.kind === "release-fence-lock") {
                expect(lockHeld).toBe(true);
                // Never with a power cycle or its notice under way, healthy or not.
                expect(inFlight.size).toBe(0);
                expect(noticeWrites.size + owed.size).toBe(0);
                lockHeld = false;
                past = [];
              } else if (a.kind === "fence") {
                expect(ev.healthy && lockHeld).toBe(true);
                expect(inFlight.has(a.member)).toBe(false);
                // A grant past hung lives fences those lives only, until they are off.
                const off = (l: { member: number; incarnation: number }) =>
                  [0, 1, 2, 3].some((d) => confirmed.has(`${l.member}/${l.incarnation + d}`));
                const open = past.filter((l) => !off(l));
                if (open.length > 0) expect(open.some((l) => l.member === a.member)).toBe(true);
                // ...hung holders that may be fencing first, the tools' lives after them.
                if (open.some((l) => !l.tool))
                  expect(open.some((l) => l.member === a.member && !l.tool)).toBe(true);
                inFlight.set(a.member, a.incarnation);
              } else if (a.kind === "write-fenced-notice") noticeAsked(a.member, a.incarnation);
            }
          } else if (ev.e === "result") {
            const first = inFlight.entries().next();
            if (first.done) continue;
            const [member, inc] = first.value;
            inFlight.delete(member);
            if (ev.ok) {
              confirmed.add(`${member}/${inc}`);
              owed.set(member, Math.max(owed.get(member) ?? 0, inc));
            }
            const out = f.fenceResult(member, ev.ok, "sim", now);
            for (const a of out) if (a.kind === "write-fenced-notice") noticeAsked(a.member, a.incarnation);
            // Asked now, or after the write already under way for that member.
            if (ev.ok) expect(noticeWrites.has(member)).toBe(true);
          } else {
            const first = noticeWrites.entries().next();
            if (first.done) continue;
            const [member, inc] = first.value;
            noticeWrites.delete(member);
            f.noticeWritten(member, inc, ev.ok, now);
            if (ev.ok && inc >= (owed.get(member) ?? 0)) owed.delete(member);
          }
          // Fenced only by a confirmation for that life or a later one on the same machine.
          for (let m = 1; m <= 3; m++) {
            for (let inc = 1; inc <= 3; inc++) {
              const covered = [inc, inc + 1, inc + 2, inc + 3].some((i) => confirmed.has(`${m}/${i}`));
              if (f.isFenced(m, inc)) expect(covered).toBe(true);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
