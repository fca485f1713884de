import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  channelKey,
  MAX_MEMBER_ID,
  openHeartbeat,
  PACKET_BYTES,
  ReplayGuard,
  sealHeartbeat,
} from "../../src/heartbeat/packet.js";

const key = Buffer.from("0123456789abcdef0123456789abcdef");
const otherKey = Buffer.from("fedcba9876543210fedcba9876543210");

describe("heartbeat packet", () => {
  it("round-trips any member, incarnation and sequence, as a heartbeat or a nudge", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_MEMBER_ID }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        (member, incarnation, sequence, nudge) => {
          const hb = { member, incarnation, sequence, ...(nudge ? { nudge } : {}) };
          const packet = sealHeartbeat(key, hb);
          expect(packet.length).toBe(PACKET_BYTES);
          expect(openHeartbeat(key, packet)).toEqual({ ok: true, heartbeat: hb });
        },
      ),
    );
  });

  it("refuses a well-sealed packet of a kind it does not know as malformed", () => {
    const packet = sealHeartbeat(key, { member: 1, incarnation: 2, sequence: 3 });
    const KIND_OFFSET = 5;
    const MAC_OFFSET = 24;
    for (const kind of [0, 3, 255]) {
      packet.writeUInt8(kind, KIND_OFFSET);
      createHmac("sha256", key).update(packet.subarray(0, MAC_OFFSET)).digest().copy(packet, MAC_OFFSET);
      expect(openHeartbeat(key, packet)).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("refuses a packet sealed under another key", () => {
    const packet = sealHeartbeat(otherKey, { member: 1, incarnation: 3, sequence: 9 });
    expect(openHeartbeat(key, packet)).toEqual({ ok: false, reason: "unauthenticated" });
  });

  it("refuses the packet whatever single bit is flipped, seal included", () => {
    const packet = sealHeartbeat(key, { member: 2, incarnation: 5, sequence: 77 });
    for (let bit = 0; bit < PACKET_BYTES * 8; bit++) {
      const bad = Buffer.from(packet);
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
      const r = openHeartbeat(key, bad);
      expect(r.ok, `bit ${bit}`).toBe(false);
    }
  });

  it("refuses truncated, padded and random packets as malformed or unauthenticated", () => {
    const packet = sealHeartbeat(key, { member: 2, incarnation: 5, sequence: 77 });
    expect(openHeartbeat(key, packet.subarray(0, PACKET_BYTES - 1))).toEqual({
      ok: false,
      reason: "malformed",
    });
    expect(openHeartbeat(key, Buffer.concat([packet, Buffer.alloc(1)]))).toEqual({
      ok: false,
      reason: "malformed",
    });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2 * PACKET_BYTES }), (bytes) => {
        expect(openHeartbeat(key, Buffer.from(bytes)).ok).toBe(false);
      }),
    );
  });

  it("refuses short keys and out-of-range fields when sealing", () => {
    expect(() => sealHeartbeat(Buffer.from("short"), { member: 0, incarnation: 1, sequence: 1 })).toThrow(
      /at least 16 bytes/,
    );
    expect(() => sealHeartbeat(key, { member: MAX_MEMBER_ID + 1, incarnation: 1, sequence: 1 })).toThrow(
      /member id/,
    );
    expect(() => sealHeartbeat(key, { member: 0, incarnation: -1, sequence: 1 })).toThrow(/incarnation/);
    expect(() => sealHeartbeat(key, { member: 0, incarnation: 1, sequence: 2 ** 60 })).toThrow(/sequence/);
  });
});

describe("channel keys", () => {
  it("seal a packet for one cluster and one channel only: it fails the seal on any other", () => {
    const a = Buffer.alloc(16, 1);
    const b = Buffer.alloc(16, 2);
    const packet = sealHeartbeat(channelKey(key, a, 0), { member: 1, incarnation: 3, sequence: 9 });
    expect(openHeartbeat(channelKey(key, a, 0), packet)).toEqual({
      ok: true,
      heartbeat: { member: 1, incarnation: 3, sequence: 9 },
    });
    // Replayed from the network onto the serial line, or to another cluster sharing the key.
    expect(openHeartbeat(channelKey(key, a, 1), packet)).toEqual({ ok: false, reason: "unauthenticated" });
    expect(openHeartbeat(channelKey(key, b, 0), packet)).toEqual({ ok: false, reason: "unauthenticated" });
    expect(openHeartbeat(key, packet)).toEqual({ ok: false, reason: "unauthenticated" });
    expect(() => channelKey(key, a, 256)).toThrow(/channel 256 is outside 0..255/);
  });
});

describe("replay guard", () => {
  it("accepts each packet once, only forward, and counts every drop by reason", () => {
    const guard = new ReplayGuard(key);
    const p = (incarnation: number, sequence: number, member = 1) =>
      sealHeartbeat(key, { member, incarnation, sequence });
    expect(guard.receive(p(4, 1)).ok).toBe(true);
    expect(guard.receive(p(4, 1))).toEqual({ ok: false, reason: "replayed" });
    expect(guard.receive(p(4, 3)).ok).toBe(true);
    // A late packet from before the high-water mark is a replay as far as liveness is concerned.
    expect(guard.receive(p(4, 2))).toEqual({ ok: false, reason: "replayed" });
    // The sender restarted: a new incarnation starts its sequence again.
    expect(guard.receive(p(5, 1)).ok).toBe(true);
    // A packet recorded in the previous life is refused however high its sequence.
    expect(guard.receive(p(4, 1000))).toEqual({ ok: false, reason: "replayed" });
    // Senders are tracked apart.
    expect(guard.receive(p(1, 1, 2)).ok).toBe(true);
    expect(guard.receive(sealHeartbeat(otherKey, { member: 1, incarnation: 9, sequence: 9 }))).toEqual({
      ok: false,
      reason: "unauthenticated",
    });
    expect(guard.receive(Buffer.from("hello"))).toEqual({ ok: false, reason: "malformed" });
    expect(guard.accepted).toBe(4);
    expect(guard.dropped).toEqual({ malformed: 1, unauthenticated: 1, replayed: 3 });
  });

  it("never accepts the same (member, incarnation, sequence) twice, in any order of arrival", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            member: fc.integer({ min: 0, max: 3 }),
            incarnation: fc.integer({ min: 1, max: 3 }),
            sequence: fc.integer({ min: 1, max: 5 }),
          }),
          { maxLength: 60 },
        ),
        (arrivals) => {
          const guard = new ReplayGuard(key);
          const accepted = new Set<string>();
          const lastPerMember = new Map<number, [number, number]>();
          for (const hb of arrivals) {
            const r = guard.receive(sealHeartbeat(key, hb));
            if (!r.ok) continue;
            const id = `${hb.member}/${hb.incarnation}/${hb.sequence}`;
            expect(accepted.has(id)).toBe(false);
            accepted.add(id);
            const last = lastPerMember.get(hb.member);
            if (last !== undefined) {
              expect(hb.incarnation > last[0] || (hb.incarnation === last[0] && hb.sequence > last[1])).toBe(
                true,
              );
            }
            lastPerMember.set(hb.member, [hb.incarnation, hb.sequence]);
          }
          expect(guard.accepted + guard.dropped.replayed).toBe(arrivals.length);
        },
      ),
    );
  });
});
