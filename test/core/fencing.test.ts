import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FENCE_RETRY_MAX_MS, type FenceAction, Fencing } from "../../src/core/fencing.js";

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
    f.noticeWritten();
    expect(f.tick(1000, true)).toEqual([{ kind: "release-fence-lock" }]);
    // That life stays dead whatever happens next; a new life is not fenced by it.
    f.resolved(2);
    expect(f.isFenced(2, 7)).toBe(true);
    f.rejoined(2, 8);
    expect(f.isFenced(2, 7)).toBe(true);
    expect(f.isFenced(2, 8)).toBe(false);
  });

  it("asks for the lock again after the lock could not be taken", () => {
    const f = new Fencing(three);
    f.hung(1, 3, 0);
    expect(f.tick(0, true)).toEqual([{ kind: "acquire-fence-lock" }]);
    expect(f.tick(100, true)).toEqual([]);
    f.lockFailed();
    expect(f.tick(200, true)).toEqual([{ kind: "acquire-fence-lock" }]);
  });

  it("never fences while this member is unhealthy, and gives the lock back", () => {
    const f = new Fencing(three);
    f.hung(1, 3, 0);
    expect(f.tick(0, false)).toEqual([]);
    expect(f.tick(0, true)).toEqual([{ kind: "acquire-fence-lock" }]);
    f.lockGranted([]);
    expect(f.tick(10, false)).toEqual([{ kind: "release-fence-lock" }]);
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
    f.resolved(1);
    expect(f.tick(0, true)).toEqual([{ kind: "release-fence-lock" }]);
    f.lockGranted([]);
    f.hung(2, 4, 0);
    expect(kinds(f.tick(0, true))).toEqual(["fence"]);
    f.resolved(2);
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
    f.resolved(1); // its counter moved again
    expect(f.fenceResult(1, false, "no answer", 500)).toMatchObject([
      { kind: "report", message: expect.stringMatching(/alive again, so it is not retried/) },
    ]);
    expect(f.tick(60_000, true)).toEqual([{ kind: "release-fence-lock" }]);
    // Hung again while a second fence is in flight: a failure is retried as usual.
    f.hung(1, 4, 61_000);
    f.lockGranted([]);
    expect(kinds(f.tick(61_000, true))).toEqual(["fence"]);
    f.resolved(1);
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
    f.resolved(1);
    f.fenceResult(1, true, "off", 30);
    f.noticeWritten();
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

  it("whatever happens, fences only when healthy and holding the lock, and counts fenced only on confirmation", () => {
    const event = fc.oneof(
      fc.record({
        e: fc.constant("hung" as const),
        member: fc.integer({ min: 1, max: 3 }),
        inc: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({ e: fc.constant("resolved" as const), member: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ e: fc.constant("grant" as const) }),
      fc.record({
        e: fc.constant("tick" as const),
        healthy: fc.boolean(),
        advance: fc.integer({ min: 0, max: 70_000 }),
      }),
      fc.record({ e: fc.constant("result" as const), ok: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(event, { minLength: 30, maxLength: 150 }), (events) => {
        const f = new Fencing({ me: 0, members: 4, twoMemberDelayMs: 0, staggerMs: 0 });
        let now = 0;
        let lockHeld = false;
        let requested = false;
        const inFlight = new Map<number, number>();
        const confirmed = new Set<string>();
        for (const ev of events) {
          if (ev.e === "hung") {
            f.hung(ev.member, ev.inc, now);
          } else if (ev.e === "resolved") f.resolved(ev.member);
          else if (ev.e === "grant") {
            if (!requested) continue; // the bakery grants only what was asked for
            f.lockGranted([]);
            lockHeld = true;
            requested = false;
          } else if (ev.e === "tick") {
            now += ev.advance;
            for (const a of f.tick(now, ev.healthy)) {
              if (a.kind === "acquire-fence-lock") {
                expect(lockHeld || requested).toBe(false);
                requested = true;
              } else if (a.kind === "release-fence-lock") {
                expect(lockHeld).toBe(true);
                // Only a member that is not healthy gives the lock up with a fence in flight.
                if (ev.healthy) expect(inFlight.size).toBe(0);
                lockHeld = false;
              } else if (a.kind === "fence") {
                expect(ev.healthy && lockHeld).toBe(true);
                expect(inFlight.has(a.member)).toBe(false);
                inFlight.set(a.member, a.incarnation);
              }
            }
          } else {
            const first = inFlight.entries().next();
            if (first.done) continue;
            const [member, inc] = first.value;
            inFlight.delete(member);
            const out = f.fenceResult(member, ev.ok, "sim", now);
            if (ev.ok) {
              expect(out[0]).toEqual({ kind: "write-fenced-notice", member, incarnation: inc });
              confirmed.add(`${member}/${inc}`);
              f.noticeWritten();
            }
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
