import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { blockCrc, crcOffset, decodeBlock, encodeBlock } from "../../src/disk/block.js";
import {
  BlockType,
  ENVELOPE,
  ENVELOPE_SIZE,
  FORMAT_VERSION,
  UPGRADABLE_FORMAT_VERSION,
} from "../../src/disk/format.js";

const uuid = Buffer.from("00112233445566778899aabbccddeeff", "hex");
const blockSizes = fc.constantFrom(512, 1024, 2048, 4096);
const types = fc.constantFrom(
  ...(Object.values(BlockType).filter((v) => typeof v === "number") as BlockType[]),
);

describe("block envelope", () => {
  it("round-trips every field", () => {
    fc.assert(
      fc.property(
        blockSizes,
        types,
        fc.nat(1 << 20),
        fc.nat(Number.MAX_SAFE_INTEGER),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 460 }),
        (size, type, slot, generation, id, payload) => {
          const block = {
            type,
            slot,
            generation,
            clusterUuid: Buffer.from(id),
            payload: Buffer.from(payload),
          };
          const raw = encodeBlock(block, size);
          expect(raw.length).toBe(size);
          const decoded = decodeBlock(raw, { type, slot, clusterUuid: Buffer.from(id) });
          expect(decoded).toEqual({ ok: true, value: { ...block, version: FORMAT_VERSION } });
        },
      ),
    );
  });

  it("is little-endian with the documented offsets", () => {
    const raw = encodeBlock(
      {
        type: BlockType.Status,
        slot: 0x01020304,
        generation: 0x0a0b0c0d,
        clusterUuid: uuid,
        payload: Buffer.from("hi"),
      },
      512,
    );
    expect(raw.subarray(0, 4).toString("latin1")).toBe("CLUQ");
    expect(raw.readUInt16LE(ENVELOPE.type)).toBe(BlockType.Status);
    expect([...raw.subarray(ENVELOPE.slot, ENVELOPE.slot + 4)]).toEqual([4, 3, 2, 1]);
    expect(raw.readBigUInt64LE(ENVELOPE.generation)).toBe(0x0a0b0c0dn);
    expect(raw.subarray(ENVELOPE.clusterUuid, ENVELOPE.clusterUuid + 16)).toEqual(uuid);
    expect(raw.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + 2).toString()).toBe("hi");
    // The CRC trailer covers every byte before it.
    expect(raw.readUInt32LE(508)).toBe(blockCrc(raw));
    expect(blockCrc(raw)).toBe(crc32(raw.subarray(0, 508)));
  });

  it("detects any single corrupted byte anywhere in the block, padding included", () => {
    fc.assert(
      fc.property(blockSizes, fc.nat(), fc.integer({ min: 1, max: 255 }), (size, at, xor) => {
        const raw = encodeBlock(
          { type: BlockType.Lock, slot: 7, generation: 3, clusterUuid: uuid, payload: Buffer.alloc(26, 1) },
          size,
        );
        const i = at % size;
        raw[i] = (raw[i] ?? 0) ^ xor;
        expect(decodeBlock(raw).ok).toBe(false);
      }),
    );
  });

  it("detects a torn write: the new first half over the old block", () => {
    const old = encodeBlock(
      { type: BlockType.Status, slot: 3, generation: 5, clusterUuid: uuid, payload: Buffer.alloc(3000, 5) },
      4096,
    );
    const next = encodeBlock(
      { type: BlockType.Status, slot: 3, generation: 6, clusterUuid: uuid, payload: Buffer.alloc(3000, 6) },
      4096,
    );
    const torn = Buffer.concat([next.subarray(0, 2048), old.subarray(2048)]);
    const decoded = decodeBlock(torn);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.problem).toMatch(/checksum mismatch/);
  });

  it("names what is wrong: wrong place, wrong type, another cluster, never written", () => {
    const raw = encodeBlock(
      { type: BlockType.Mailbox, slot: 9, generation: 1, clusterUuid: uuid, payload: Buffer.alloc(0) },
      512,
    );
    const problem = (r: ReturnType<typeof decodeBlock>) => (r.ok ? "ok" : r.problem);
    expect(problem(decodeBlock(raw, { slot: 10 }))).toMatch(/wrong place/);
    expect(problem(decodeBlock(raw, { type: BlockType.Status }))).toMatch(
      /mailbox block where a status block belongs/,
    );
    expect(problem(decodeBlock(raw, { clusterUuid: Buffer.alloc(16, 1) }))).toMatch(/another cluster/);
    expect(problem(decodeBlock(Buffer.alloc(512)))).toMatch(/never written/);
  });

  it("refuses to encode a payload that does not fit", () => {
    expect(() =>
      encodeBlock(
        { type: BlockType.Config, slot: 0, generation: 0, clusterUuid: uuid, payload: Buffer.alloc(465) },
        512,
      ),
    ).toThrow(/does not fit a 512-byte block/);
  });

  it("only ever answers with a problem when fed random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 5000 }), (bytes) => {
        const result = decodeBlock(Buffer.from(bytes));
        expect(typeof result.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("only ever answers with a problem for random bytes behind a valid magic and checksum", () => {
    // Random bytes rarely pass the CRC, so fix it up: this drives the field checks behind it.
    fc.assert(
      fc.property(blockSizes, fc.uint8Array({ minLength: 4096, maxLength: 4096 }), (size, bytes) => {
        const raw = Buffer.from(bytes.subarray(0, size));
        raw.write("CLUQ", 0, "latin1");
        raw.writeUInt16LE(FORMAT_VERSION, ENVELOPE.version);
        raw.writeUInt32LE(blockCrc(raw), crcOffset(size));
        const result = decodeBlock(raw);
        if (result.ok) expect(result.value.payload.length).toBeLessThanOrEqual(size - ENVELOPE_SIZE);
        else expect(result.problem.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads a block of the earlier format only when asked, and otherwise says to upgrade", () => {
    const block = {
      type: BlockType.Status,
      slot: 3,
      generation: 7,
      clusterUuid: uuid,
      payload: Buffer.from("x"),
    };
    const old = encodeBlock({ ...block, version: UPGRADABLE_FORMAT_VERSION }, 512);
    const refused = decodeBlock(old);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.problem).toMatch(/format version 3, .*run cludiskutil --upgrade$/);
    expect(decodeBlock(old, { versions: [UPGRADABLE_FORMAT_VERSION, FORMAT_VERSION] })).toEqual({
      ok: true,
      value: { ...block, version: UPGRADABLE_FORMAT_VERSION },
    });
  });
});
