import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PartitionError } from "../../src/disk/errors.js";
import { computeLayout, layoutFor, locateSlot, mailboxIndex, REGION_NAMES } from "../../src/disk/layout.js";

describe("layout", () => {
  it("has the default size for 16 members and 64 services on 512-byte sectors", () => {
    const l = layoutFor({ logicalSectorSize: 512, physicalSectorSize: 512 });
    expect(l.maxMembers).toBe(16);
    expect(l.maxServices).toBe(64);
    expect(l.regions.status.slots).toBe(16);
    expect(l.regions.mailbox.slots).toBe(256);
    expect(l.regions.lock.slots).toBe(16);
    expect(l.regions.service.slots).toBe(64);
    expect(l.slotBytes).toBe(512);
    expect(l.totalBytes).toBe(l.totalSlots * 512);
    // cludiskutil(8) quotes these sizes.
    expect(l.totalSlots).toBe(924);
    const size = (sector: number, maxMembers: number) =>
      layoutFor({ logicalSectorSize: sector, physicalSectorSize: sector, maxMembers }).totalBytes;
    expect([size(512, 64), size(512, 128), size(4096, 16), size(4096, 64), size(4096, 128)]).toEqual([
      2488320, 8845312, 1720320, 17842176, 68698112,
    ]);
    expect(size(4096, 64)).toBeLessThan(32 << 20);
  });

  it("places regions in order, back to back, covering every slot exactly once", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(512, 4096),
        fc.integer({ min: 2, max: 128 }),
        fc.integer({ min: 1, max: 1024 }),
        (sector, members, services) => {
          const l = layoutFor({
            logicalSectorSize: sector,
            physicalSectorSize: sector,
            maxMembers: members,
            maxServices: services,
          });
          let next = 0;
          for (const name of REGION_NAMES) {
            expect(l.regions[name].firstSlot).toBe(next);
            next += l.regions[name].slots;
          }
          expect(next).toBe(l.totalSlots);
          const probe = l.totalSlots - 1;
          expect(locateSlot(l, probe).region.name).toBe("savedConfig");
        },
      ),
    );
  });

  it("lays mailboxes out by recipient, so a member's incoming row is contiguous", () => {
    const l = layoutFor({ logicalSectorSize: 512, physicalSectorSize: 512, maxMembers: 8 });
    const row = [...Array(8).keys()].map((from) => mailboxIndex(l, 3, from));
    expect(row).toEqual([24, 25, 26, 27, 28, 29, 30, 31]);
    expect(() => mailboxIndex(l, 8, 0)).toThrow(/outside this layout/);
  });

  it("spaces blocks one physical sector apart on 512e devices, so members never share one", () => {
    const l = layoutFor({ logicalSectorSize: 512, physicalSectorSize: 4096 });
    expect(l.slotBlocks).toBe(8);
    expect(l.slotBytes).toBe(4096);
    const native = layoutFor({ logicalSectorSize: 4096, physicalSectorSize: 4096 });
    expect(native.slotBlocks).toBe(1);
  });

  it("supports 64 members and more, and refuses past the limit with the allowed range", () => {
    expect(
      layoutFor({ logicalSectorSize: 512, physicalSectorSize: 512, maxMembers: 64 }).regions.mailbox.slots,
    ).toBe(4096);
    expect(() => layoutFor({ logicalSectorSize: 512, physicalSectorSize: 512, maxMembers: 129 })).toThrow(
      /members must be a whole number from 2 to 128, not 129/,
    );
    expect(() => layoutFor({ logicalSectorSize: 512, physicalSectorSize: 512, maxServices: 0 })).toThrow(
      PartitionError,
    );
    expect(() => layoutFor({ logicalSectorSize: 520, physicalSectorSize: 520 })).toThrow(
      /520 bytes is not supported/,
    );
  });

  it("rejects impossible parameters however they arrive", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer(),
        fc.integer(),
        fc.integer(),
        fc.integer(),
        (blockSize, slotBlocks, m, s, c) => {
          try {
            const l = computeLayout({
              blockSize,
              slotBlocks,
              maxMembers: m,
              maxServices: s,
              configBlocks: c,
            });
            expect(l.totalSlots).toBeGreaterThan(0);
          } catch (err) {
            expect(err).toBeInstanceOf(PartitionError);
          }
        },
      ),
    );
  });
});
