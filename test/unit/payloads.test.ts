import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Decoded } from "../../src/disk/block.js";
import { decodeConfig, encodeConfig } from "../../src/disk/config-region.js";
import { MAX_WALL_CLOCK_MS } from "../../src/disk/fields.js";
import { BlockType, FORMAT_VERSION } from "../../src/disk/format.js";
import { decodeHeader, encodeHeader } from "../../src/disk/header-block.js";
import { computeLayout } from "../../src/disk/layout.js";
import { decodeLock, encodeLock, NO_TARGET as NO_LOCK_TARGET } from "../../src/disk/lock-block.js";
import { decodeMail, encodeMail, MailKind } from "../../src/disk/mailbox-block.js";
import { decodeScratch, encodeScratch } from "../../src/disk/scratch-block.js";
import { decodeService, encodeService, ServiceState } from "../../src/disk/service-block.js";
import { decodeStatus, encodeStatus, MemberState, RequestOp } from "../../src/disk/status-block.js";

const name = fc.string({ maxLength: 20 }).filter((s) => !s.includes("\0"));
const u64 = fc.nat(Number.MAX_SAFE_INTEGER);
/** A wall-clock time a Date can hold: the decoders refuse any later one as damage. */
const wallClock = fc.nat(MAX_WALL_CLOCK_MS);
const enumOf = <E extends object>(e: E) =>
  fc.constantFrom(...(Object.values(e).filter((v) => typeof v === "number") as number[]));

const decoders: Record<string, (b: Buffer) => Decoded<unknown>> = {
  header: decodeHeader,
  status: decodeStatus,
  mailbox: decodeMail,
  lock: decodeLock,
  service: decodeService,
  scratch: decodeScratch,
};

describe("payload codecs", () => {
  it("status round-trips", () => {
    fc.assert(
      fc.property(
        fc.record({
          member: fc.nat(127),
          state: enumOf(MemberState),
          incarnation: u64,
          heartbeat: u64,
          wallClockMs: wallClock,
          nodeName: name,
          configView: u64,
          services: fc.uniqueArray(fc.nat(1023), { maxLength: 40 }).map((a) => a.sort((x, y) => x - y)),
          request: fc.option(
            fc.record({
              to: fc.nat(127),
              toIncarnation: u64,
              sequence: fc.nat(0xffffffff),
              op: enumOf(RequestOp),
              service: fc.nat(1023),
              target: fc.integer({ min: -1, max: 127 }),
            }),
            { nil: undefined },
          ),
          fenced: fc.option(fc.record({ member: fc.nat(127), incarnation: u64 }), { nil: undefined }),
        }),
        (generated) => {
          const { request, fenced, ...rest } = generated;
          const s = {
            ...rest,
            ...(request !== undefined ? { request } : {}),
            ...(fenced !== undefined ? { fenced } : {}),
          };
          expect(decodeStatus(encodeStatus(s))).toEqual({ ok: true, value: s });
        },
      ),
    );
  });

  it("a status block with 1024 services still fits a 512-byte block", () => {
    const payload = encodeStatus({
      member: 1,
      state: MemberState.Up,
      incarnation: 1,
      heartbeat: 1,
      wallClockMs: 1,
      nodeName: "x".repeat(64),
      configView: 2 ** 40,
      services: [1023],
      request: { to: 1, toIncarnation: 1, sequence: 1, op: RequestOp.Relocate, service: 1023, target: 127 },
      fenced: { member: 127, incarnation: Number.MAX_SAFE_INTEGER },
    });
    expect(payload.length).toBeLessThanOrEqual(512 - 52);
  });

  it("mailbox round-trips", () => {
    fc.assert(
      fc.property(
        fc.record({
          to: fc.nat(127),
          from: fc.nat(127),
          kind: enumOf(MailKind),
          sequence: u64,
          incarnation: u64,
          wallClockMs: wallClock,
          argument: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)),
        }),
        (m) => {
          expect(decodeMail(encodeMail(m))).toEqual({ ok: true, value: m });
        },
      ),
    );
  });

  it("lock round-trips", () => {
    fc.assert(
      fc.property(
        fc.record({
          member: fc.nat(127),
          choosing: fc.boolean(),
          ticket: u64,
          incarnation: u64,
          target: fc.oneof(fc.nat(127), fc.constant(NO_LOCK_TARGET)),
          tool: fc.boolean(),
        }),
        (l) => {
          expect(decodeLock(encodeLock(l))).toEqual({ ok: true, value: l });
        },
      ),
    );
  });

  it("service round-trips", () => {
    fc.assert(
      fc.property(
        fc.record({
          index: fc.nat(1023),
          name,
          state: enumOf(ServiceState),
          owner: fc.integer({ min: -1, max: 127 }),
          ownerIncarnation: u64,
          lastOwner: fc.integer({ min: -1, max: 127 }),
          restarts: fc.nat(0xffffffff),
          adminTarget: fc.integer({ min: -2, max: 127 }),
          transitionWallMs: wallClock,
        }),
        (s) => {
          expect(decodeService(encodeService(s))).toEqual({ ok: true, value: s });
        },
      ),
    );
  });

  it("scratch round-trips", () => {
    fc.assert(
      fc.property(
        name,
        u64,
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (host, wallClockMs, pattern) => {
          const s = { host, wallClockMs, pattern: Buffer.from(pattern) };
          expect(decodeScratch(encodeScratch(s))).toEqual({ ok: true, value: s });
        },
      ),
    );
  });

  it("header round-trips, layout included", () => {
    fc.assert(
      fc.property(
        fc.record({
          blockSize: fc.constantFrom(512, 4096),
          maxMembers: fc.integer({ min: 2, max: 128 }),
          maxServices: fc.integer({ min: 1, max: 1024 }),
          configBlocks: fc.integer({ min: 1, max: 300 }),
        }),
        name.filter((n) => n.length > 0),
        wallClock,
        name,
        (p, clusterName, initialisedAtMs, initialisedBy) => {
          const layout = computeLayout({ ...p, slotBlocks: 1 });
          const h = { clusterName, layout, initialisedAtMs, initialisedBy };
          expect(decodeHeader(encodeHeader(h))).toEqual({ ok: true, value: h });
        },
      ),
    );
  });

  it("the configuration stream round-trips across blocks", () => {
    const layout = computeLayout({
      blockSize: 512,
      slotBlocks: 1,
      maxMembers: 2,
      maxServices: 1,
      configBlocks: 10,
    });
    fc.assert(
      fc.property(fc.string({ maxLength: 4000 }), u64, (text, view) => {
        const payloads = encodeConfig({ view, text }, layout);
        expect(payloads).toHaveLength(10);
        const blocks = payloads.map((payload, slot) => ({
          version: FORMAT_VERSION,
          type: BlockType.Config,
          slot,
          generation: view,
          clusterUuid: Buffer.alloc(16),
          payload,
        }));
        expect(decodeConfig(blocks)).toEqual({ ok: true, value: { view, text } });
      }),
    );
  });

  it("an interrupted configuration write is detected from mixed generations", () => {
    const layout = computeLayout({
      blockSize: 512,
      slotBlocks: 1,
      maxMembers: 2,
      maxServices: 1,
      configBlocks: 4,
    });
    const older = encodeConfig({ view: 1, text: "a".repeat(1500) }, layout);
    const newer = encodeConfig({ view: 2, text: "b".repeat(1500) }, layout);
    const blocks = [newer[0]!, newer[1]!, older[2]!, older[3]!].map((payload, slot) => ({
      version: FORMAT_VERSION,
      type: BlockType.Config,
      slot,
      generation: slot < 2 ? 2 : 1,
      clusterUuid: Buffer.alloc(16),
      payload,
    }));
    const result = decodeConfig(blocks);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).toMatch(/interrupted update/);
  });

  it("refuses a configuration larger than the region", () => {
    const layout = computeLayout({
      blockSize: 512,
      slotBlocks: 1,
      maxMembers: 2,
      maxServices: 1,
      configBlocks: 2,
    });
    expect(() => encodeConfig({ view: 1, text: "x".repeat(1000) }, layout)).toThrow(/at most 904/);
  });

  for (const [which, decode] of Object.entries(decoders)) {
    it(`${which} decoder only ever answers with a problem for random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
          const result = decode(Buffer.from(bytes));
          expect(typeof result.ok).toBe("boolean");
        }),
        { numRuns: 1000 },
      );
    });
  }

  it("config decoder only ever answers with a problem for random blocks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ generation: fc.nat(3), payload: fc.uint8Array({ maxLength: 100 }) }), {
          maxLength: 6,
        }),
        (parts) => {
          const blocks = parts.map((p, slot) => ({
            version: FORMAT_VERSION,
            type: BlockType.Config,
            slot,
            generation: p.generation,
            clusterUuid: Buffer.alloc(16),
            payload: Buffer.from(p.payload),
          }));
          expect(typeof decodeConfig(blocks).ok).toBe("boolean");
        },
      ),
      { numRuns: 1000 },
    );
  });
});
