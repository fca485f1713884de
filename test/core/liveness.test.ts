import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Liveness } from "../../src/core/liveness.js";
import { MemberState } from "../../src/disk/status-block.js";

const config = { intervalMs: 1000, tko: 7, tkoNetup: 12 };
const up = (heartbeat: number, incarnation = 1) => ({ state: MemberState.Up, incarnation, heartbeat });

describe("liveness", () => {
  it("declares a peer hung only after tko intervals without its counter moving", () => {
    const l = new Liveness(config, 0);
    expect(l.observeDisk(1, up(1), 0)).toEqual([
      { member: 1, from: "unknown", to: "up", reason: "first seen" },
    ]);
    expect(l.observeDisk(1, up(2), 1000)).toEqual([]);
    // The same block read again and again: the counter is still.
    for (let t = 2000; t <= 8000; t += 1000) {
      l.observeDisk(1, up(2), t);
      expect(l.tick(t)).toEqual([]);
    }
    const hung = l.tick(8001);
    expect(hung).toMatchObject([{ member: 1, from: "up", to: "hung" }]);
    expect(l.state(1)).toBe("hung");
    // Reading the stale block again does not revive it; a moving counter does.
    expect(l.observeDisk(1, up(2), 9000)).toEqual([]);
    expect(l.observeDisk(1, up(3), 10_000)).toMatchObject([
      { member: 1, from: "hung", to: "up", reason: "heartbeat moves again" },
    ]);
  });

  it("gives a peer whose network heartbeat is still heard the longer tko_netup window", () => {
    const l = new Liveness(config, 0);
    l.observeDisk(2, up(5), 0);
    for (let t = 1000; t <= 12_000; t += 1000) {
      l.observeNet(2, t);
      expect(l.tick(t)).toEqual([]);
    }
    l.observeNet(2, 12_500);
    expect(l.tick(12_001)).toMatchObject([
      { member: 2, to: "hung", reason: expect.stringContaining("network still heard") },
    ]);
  });

  it("never declares hung a peer that shut down cleanly, nor one that never joined", () => {
    const l = new Liveness(config, 0);
    l.observeDisk(1, up(1), 0);
    expect(l.observeDisk(1, { state: MemberState.Down, incarnation: 1, heartbeat: 1 }, 500)).toMatchObject([
      { to: "down", reason: "clean shutdown" },
    ]);
    l.observeDisk(3, { state: MemberState.None, incarnation: 0, heartbeat: 0 }, 0);
    expect(l.tick(1_000_000)).toEqual([]);
    expect([l.state(1), l.state(3)]).toEqual(["down", "unknown"]);
  });

  it("sees a restart as a new incarnation, even with a lower counter", () => {
    const l = new Liveness(config, 0);
    l.observeDisk(1, up(500, 1), 0);
    l.tick(9000);
    expect(l.state(1)).toBe("hung");
    expect(l.observeDisk(1, up(1, 2), 20_000)).toMatchObject([
      { from: "hung", to: "up", reason: "new incarnation" },
    ]);
  });

  it("never judges this member itself", () => {
    const l = new Liveness(config, 4);
    expect(l.observeDisk(4, up(1), 0)).toEqual([]);
    expect(l.tick(1_000_000)).toEqual([]);
    expect(() => new Liveness({ intervalMs: 1000, tko: 7, tkoNetup: 3 }, 0)).toThrow(/tko_netup >= tko/);
  });

  it("never declares hung a peer whose disk counter keeps moving, whatever the network does", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ gap: fc.integer({ min: 1, max: config.tko * config.intervalMs }), net: fc.boolean() }),
          { minLength: 1, maxLength: 200 },
        ),
        (steps) => {
          const l = new Liveness(config, 0);
          let now = 0;
          let beat = 0;
          l.observeDisk(1, up(beat), now);
          for (const { gap, net } of steps) {
            now += gap;
            if (net) l.observeNet(1, now);
            expect(l.tick(now)).toEqual([]);
            l.observeDisk(1, up(++beat), now);
          }
          expect(l.state(1)).toBe("up");
        },
      ),
      { numRuns: 500 },
    );
  });

  it("declares a still peer hung within tko_netup intervals, whatever the network does", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 100 }),
        fc.boolean(),
        (gaps, net) => {
          const l = new Liveness(config, 0);
          l.observeDisk(1, up(1), 0);
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            if (net) l.observeNet(1, now);
            l.tick(now);
            if (now > config.tkoNetup * config.intervalMs) expect(l.state(1)).toBe("hung");
            if (now <= config.tko * config.intervalMs) expect(l.state(1)).toBe("up");
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
