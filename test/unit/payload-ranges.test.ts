// Every decoder range-checks every field: a block whose checksum is valid but which holds a value
// no writer of this format produces is damage, named by its field, never a number that makes a
// later step throw (a service block's time of 2^53 - 1 once took both daemons down in `cluster
// status`). The offsets are the documented format's (see each *-block.ts).
import { describe, expect, it } from "vitest";
import { decodeBlock, encodeBlock, payloadCapacity } from "../../src/disk/block.js";
import { decodeConfig, encodeConfig } from "../../src/disk/config-region.js";
import { BlockType } from "../../src/disk/format.js";
import { decodeHeader, encodeHeader } from "../../src/disk/header-block.js";
import { computeLayout, type Layout, type RegionName } from "../../src/disk/layout.js";
import { decodeLock, emptyLock, encodeLock } from "../../src/disk/lock-block.js";
import { decodeMail, emptyMail, encodeMail, MailKind } from "../../src/disk/mailbox-block.js";
import { decodeRegionBlock } from "../../src/disk/region-payload.js";
import { decodeService, emptyService, encodeService, ServiceState } from "../../src/disk/service-block.js";
import { decodeStatus, emptyStatus, encodeStatus, RequestOp } from "../../src/disk/status-block.js";

const TOO_BIG_U64 = 2n ** 53n;
const layout: Layout = computeLayout({
  blockSize: 512,
  slotBlocks: 1,
  maxMembers: 4,
  maxServices: 8,
  configBlocks: 4,
});
const uuid = Buffer.alloc(16, 7);

type Poke = (b: Buffer) => void;
const u8 =
  (at: number, v: number): Poke =>
  (b) =>
    b.writeUInt8(v, at);
const u16 =
  (at: number, v: number): Poke =>
  (b) =>
    b.writeUInt16LE(v, at);
const i16 =
  (at: number, v: number): Poke =>
  (b) =>
    b.writeInt16LE(v, at);
const u64 =
  (at: number, v: bigint): Poke =>
  (b) =>
    b.writeBigUInt64LE(v, at);
const bytes =
  (at: number, v: number[]): Poke =>
  (b) =>
    Buffer.from(v).copy(b, at);

/** The payload with one field overwritten, sealed in a block whose checksum is valid. */
function sealed(payload: Buffer, poke: Poke, type: BlockType, slot: number): Buffer {
  const changed = Buffer.from(payload);
  poke(changed);
  return encodeBlock({ type, slot, generation: 3, clusterUuid: uuid, payload: changed }, layout.blockSize);
}

/** Decodes a CRC-valid block with `decode`, after checking its envelope really is valid. */
function decodeSealed<T>(raw: Buffer, decode: (p: Buffer) => { ok: boolean } & T) {
  const envelope = decodeBlock(raw);
  if (!envelope.ok) throw new Error(`the test built a block with a bad envelope: ${envelope.problem}`);
  return decode(envelope.value.payload);
}

/** The same block, judged as the pair and verify judge it: envelope, payload and layout. */
function asRegionBlock(raw: Buffer, region: RegionName, index: number) {
  const r = layout.regions[region];
  return decodeRegionBlock(raw, layout, r, r.firstSlot + index, uuid).block;
}

describe("each decoder refuses a CRC-valid block with a field out of range", () => {
  const service = encodeService({
    ...emptyService(2),
    name: "web",
    state: ServiceState.Running,
    owner: 1,
    lastOwner: 0,
    transitionWallMs: Date.UTC(2024, 0, 1),
  });
  it.each([
    ["index", u16(0, 1024), /field index holds 1024, outside 0 to 1023/],
    ["state", u8(2, 7), /unknown service state 7/],
    ["owner below", i16(4, -2), /field owner holds -2, outside -1 to 127/],
    ["owner above", i16(4, 128), /field owner holds 128, outside -1 to 127/],
    ["lastOwner", i16(6, 300), /field lastOwner holds 300, outside -1 to 127/],
    ["adminTarget below", i16(12, -3), /field adminTarget holds -3, outside -2 to 127/],
    ["adminTarget above", i16(12, 128), /field adminTarget holds 128, outside -2 to 127/],
    [
      "transitionWallMs",
      u64(16, 2n ** 53n - 1n),
      /field transitionWallMs holds 9007199254740991, outside 0 to 8640000000000000/,
    ],
    ["transitionWallMs beyond 2^53", u64(16, TOO_BIG_U64), /field transitionWallMs holds 9007199254740992/],
    ["ownerIncarnation", u64(24, TOO_BIG_U64), /field ownerIncarnation holds 9007199254740992, beyond/],
    ["name", bytes(32, [0xff, 0xfe]), /field name is not NUL-padded UTF-8/],
  ])("service block: %s", (_field, poke, problem) => {
    const raw = sealed(service, poke, BlockType.Service, layout.regions.service.firstSlot + 2);
    expect(decodeSealed(raw, decodeService)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
    expect(asRegionBlock(raw, "service", 2)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
  });

  const status = encodeStatus({
    ...emptyStatus(1),
    state: 1,
    incarnation: 4,
    heartbeat: 10,
    wallClockMs: Date.UTC(2024, 0, 1),
    nodeName: "clu2",
    services: [0, 3],
    fenced: { member: 2, incarnation: 1 },
    request: { to: 0, toIncarnation: 2, sequence: 1, op: RequestOp.Relocate, service: 3, target: 2 },
  });
  it.each([
    ["member", u16(0, 128), /field member holds 128, outside 0 to 127/],
    ["state", u8(2, 3), /unknown member state 3/],
    ["incarnation", u64(8, TOO_BIG_U64), /field incarnation holds 9007199254740992, beyond/],
    ["heartbeat", u64(16, TOO_BIG_U64), /field heartbeat holds 9007199254740992, beyond/],
    ["wallClockMs", u64(24, 8_640_000_000_000_001n), /field wallClockMs holds 8640000000000001, outside/],
    ["nodeName", bytes(32, [0x63, 0, 0x63]), /field nodeName is not NUL-padded UTF-8/],
    ["requestTo", u16(96, 128), /field requestTo holds 128, outside 0 to 127/],
    ["requestOp", u8(98, 9), /unknown service request 9/],
    ["requestService", u16(100, 1024), /field requestService holds 1024, outside 0 to 1023/],
    ["requestTarget", i16(102, -2), /field requestTarget holds -2, outside -1 to 127/],
    ["requestIncarnation", u64(108, TOO_BIG_U64), /field requestIncarnation holds 9007199254740992/],
    ["fencedMember", u16(116, 128), /field fencedMember holds 128, outside 0 to 127/],
    ["fencedIncarnation", u64(120, TOO_BIG_U64), /field fencedIncarnation holds 9007199254740992/],
    ["configView", u64(128, TOO_BIG_U64), /field configView holds 9007199254740992, beyond/],
    ["mapLength", u16(136, 200), /service map length 200 is inconsistent/],
  ])("status block: %s", (_field, poke, problem) => {
    const raw = sealed(status, poke, BlockType.Status, layout.regions.status.firstSlot + 1);
    expect(decodeSealed(raw, decodeStatus)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
    expect(asRegionBlock(raw, "status", 1)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
  });

  const lock = encodeLock({ ...emptyLock(3), ticket: 5, incarnation: 2 });
  it.each([
    ["member", u16(0, 128), /field member holds 128, outside 0 to 127/],
    ["choosing", u8(2, 2), /choosing flag 2 is not 0 or 1/],
    ["ticket", u64(8, TOO_BIG_U64), /field ticket holds 9007199254740992, beyond/],
    ["incarnation", u64(16, TOO_BIG_U64), /field incarnation holds 9007199254740992, beyond/],
    ["target", u16(24, 128), /field target holds 128, outside 0 to 127/],
    ["tool", u8(26, 2), /tool flag 2 is not 0 or 1/],
  ])("lock block: %s", (_field, poke, problem) => {
    const raw = sealed(lock, poke, BlockType.Lock, layout.regions.lock.firstSlot + 3);
    expect(decodeSealed(raw, decodeLock)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
    expect(asRegionBlock(raw, "lock", 3)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
  });

  // Mailbox 1 * 4 + 2: to member 1, from member 2.
  const mail = encodeMail({ ...emptyMail(1, 2), kind: MailKind.Fenced, sequence: 1, incarnation: 3 });
  it.each([
    ["to", u16(0, 128), /field to holds 128, outside 0 to 127/],
    ["from", u16(2, 128), /field from holds 128, outside 0 to 127/],
    ["kind", u8(4, 3), /unknown mailbox message kind 3/],
    ["sequence", u64(8, TOO_BIG_U64), /field sequence holds 9007199254740992, beyond/],
    ["incarnation", u64(16, TOO_BIG_U64), /field incarnation holds 9007199254740992, beyond/],
    ["wallClockMs", u64(24, 2n ** 53n - 1n), /field wallClockMs holds 9007199254740991, outside 0 to/],
    ["argLength", u16(32, 257), /mailbox argument length 257 is inconsistent/],
  ])("mailbox block: %s", (_field, poke, problem) => {
    const raw = sealed(mail, poke, BlockType.Mailbox, layout.regions.mailbox.firstSlot + 6);
    expect(decodeSealed(raw, decodeMail)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
    expect(asRegionBlock(raw, "mailbox", 6)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
  });

  const header = encodeHeader({
    clusterName: "octane",
    layout,
    initialisedAtMs: Date.UTC(2024, 0, 1),
    initialisedBy: "clu1",
  });
  it.each([
    ["clusterName", bytes(0, [0]), /no valid cluster name/],
    ["blockSize", u16(64, 1000), /impossible layout: a sector size of 1000 bytes/],
    [
      "slotBlocks",
      u16(68, 9),
      /impossible layout: blocks per slot must be a whole number from 1 to 8, not 9/,
    ],
    [
      "maxMembers",
      u16(72, 129),
      /impossible layout: the number of members must be .* from 2 to 128, not 129/,
    ],
    ["maxServices", u16(76, 1025), /the number of services must be .* from 1 to 1024, not 1025/],
    ["configBlocks", u16(80, 0), /configuration blocks must be a whole number from 1 to \d+, not 0/],
    ["totalSlots", u16(84, 1), /total block count does not match its layout/],
    [
      "initialisedAtMs",
      u64(88, 2n ** 53n - 1n),
      /field initialisedAtMs holds 9007199254740991, outside 0 to 8640000000000000/,
    ],
    ["initialisedBy", bytes(96, [0xc3]), /field initialisedBy is not NUL-padded UTF-8/],
    ["region table", u16(160 + 2 * 8, 99), /header's status region does not match its layout/],
  ])("header block: %s", (_field, poke, problem) => {
    const raw = sealed(header, poke, BlockType.Header, 0);
    expect(decodeSealed(raw, decodeHeader)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
    expect(asRegionBlock(raw, "header", 0)).toEqual({ ok: false, problem: expect.stringMatching(problem) });
  });

  /** The configuration region's blocks, each CRC-valid, with the stream's first bytes changed. */
  function configBlocks(poke: Poke, generation = 5) {
    const payloads = encodeConfig({ view: 5, text: "[cluster]\nname = octane\n" }, layout);
    const first = Buffer.from(payloads[0]!);
    poke(first);
    return [first, ...payloads.slice(1)].map((payload, i) => {
      const slot = layout.regions.config.firstSlot + i;
      const raw = encodeBlock(
        { type: BlockType.Config, slot, generation, clusterUuid: uuid, payload },
        layout.blockSize,
      );
      const decoded = decodeBlock(raw);
      if (!decoded.ok) throw new Error(decoded.problem);
      return decoded.value;
    });
  }
  it.each([
    [
      "view beyond 2^53",
      u64(0, TOO_BIG_U64),
      /the configuration's field view holds 9007199254740992, beyond/,
    ],
    ["view unlike its blocks", u64(0, 6n), /field view holds 6 but its blocks carry generation 5/],
    [
      "length",
      (b: Buffer) => b.writeUInt32LE(payloadCapacity(512) * 4, 8),
      /configuration length \d+ does not match/,
    ],
    ["checksum", (b: Buffer) => b.writeUInt32LE(1, 12), /configuration text fails its checksum/],
  ])("configuration region: %s", (_field, poke, problem) => {
    expect(decodeConfig(configBlocks(poke))).toEqual({ ok: false, problem: expect.stringMatching(problem) });
  });

  it("a block whose fields are in range for the format but not for the partition's layout is damage too", () => {
    const at = (region: RegionName, index: number) => layout.regions[region].firstSlot + index;
    const nineServices = encodeStatus({ ...emptyStatus(1), services: [0, 8] });
    const cases: [Buffer, RegionName, number, RegExp][] = [
      // Status block 1 claiming to be member 2's.
      [
        sealed(status, u16(0, 2), BlockType.Status, at("status", 1)),
        "status",
        1,
        /field member holds 2, but/,
      ],
      // A service index the layout has no block for (8 services).
      [
        sealed(nineServices, () => {}, BlockType.Status, at("status", 1)),
        "status",
        1,
        /services holds 8, outside 0 to 7/,
      ],
      [
        sealed(status, u16(116, 4), BlockType.Status, at("status", 1)),
        "status",
        1,
        /fencedMember holds 4, outside 0 to 3/,
      ],
      [
        sealed(service, u16(0, 3), BlockType.Service, at("service", 2)),
        "service",
        2,
        /field index holds 3, but/,
      ],
      [
        sealed(service, i16(4, 4), BlockType.Service, at("service", 2)),
        "service",
        2,
        /field owner holds 4, outside -1 to 3/,
      ],
      [sealed(mail, u16(0, 2), BlockType.Mailbox, at("mailbox", 6)), "mailbox", 6, /field to holds 2, but/],
      [sealed(lock, u16(0, 1), BlockType.Lock, at("lock", 3)), "lock", 3, /field member holds 1, but/],
    ];
    for (const [raw, region, index, problem] of cases)
      expect(asRegionBlock(raw, region, index)).toEqual({
        ok: false,
        problem: expect.stringMatching(problem),
      });
  });

  it("blocks as the format writes them pass", () => {
    const slot = (region: RegionName, index: number) => layout.regions[region].firstSlot + index;
    const seal = (payload: Buffer, type: BlockType, s: number) => sealed(payload, () => {}, type, s);
    expect(asRegionBlock(seal(service, BlockType.Service, slot("service", 2)), "service", 2).ok).toBe(true);
    expect(asRegionBlock(seal(status, BlockType.Status, slot("status", 1)), "status", 1).ok).toBe(true);
    expect(asRegionBlock(seal(lock, BlockType.Lock, slot("lock", 3)), "lock", 3).ok).toBe(true);
    expect(asRegionBlock(seal(mail, BlockType.Mailbox, slot("mailbox", 6)), "mailbox", 6).ok).toBe(true);
    expect(asRegionBlock(seal(header, BlockType.Header, 0), "header", 0).ok).toBe(true);
  });
});
