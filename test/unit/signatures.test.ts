import { describe, expect, it } from "vitest";
import { findSignature, SIGNATURE_SCAN_BYTES } from "../../src/disk/signatures.js";

function withBytes(offset: number, bytes: Buffer | string): Buffer {
  const head = Buffer.alloc(SIGNATURE_SCAN_BYTES);
  (typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes).copy(head, offset);
  return head;
}

describe("foreign content signatures", () => {
  it.each([
    ["an ext2/ext3/ext4 filesystem", withBytes(1080, Buffer.from([0x53, 0xef]))],
    ["an XFS filesystem", withBytes(0, "XFSB")],
    ["a btrfs filesystem", withBytes(0x10040, "_BHRfS_M")],
    ["swap space", withBytes(4086, "SWAPSPACE2")],
    ["a LUKS encrypted volume", withBytes(0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]))],
    ["an LVM physical volume", withBytes(512, "LABELONE")],
    ["a GPT partition table", withBytes(512, "EFI PART")],
    ["an MBR partition table or boot sector", withBytes(510, Buffer.from([0x55, 0xaa]))],
  ])("recognises %s", (name, head) => {
    expect(findSignature(head)).toBe(name);
  });

  it("finds nothing in zeros or in a short read", () => {
    expect(findSignature(Buffer.alloc(SIGNATURE_SCAN_BYTES))).toBeUndefined();
    expect(findSignature(Buffer.alloc(10))).toBeUndefined();
  });
});
