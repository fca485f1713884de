// Recognises what else might live on a device, so `cludiskutil -I` never erases it unasked.

interface Signature {
  name: string;
  offset: number;
  bytes: Buffer;
}

const SIGNATURES: readonly Signature[] = [
  { name: "an ext2/ext3/ext4 filesystem", offset: 1024 + 56, bytes: Buffer.from([0x53, 0xef]) },
  { name: "an XFS filesystem", offset: 0, bytes: Buffer.from("XFSB", "latin1") },
  { name: "a btrfs filesystem", offset: 0x10040, bytes: Buffer.from("_BHRfS_M", "latin1") },
  { name: "swap space", offset: 4096 - 10, bytes: Buffer.from("SWAPSPACE2", "latin1") },
  { name: "swap space", offset: 4096 - 10, bytes: Buffer.from("SWAP-SPACE", "latin1") },
  { name: "a LUKS encrypted volume", offset: 0, bytes: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { name: "an LVM physical volume", offset: 512, bytes: Buffer.from("LABELONE", "latin1") },
  { name: "a GPT partition table", offset: 512, bytes: Buffer.from("EFI PART", "latin1") },
  { name: "a GPT partition table", offset: 4096, bytes: Buffer.from("EFI PART", "latin1") },
  { name: "an MBR partition table or boot sector", offset: 510, bytes: Buffer.from([0x55, 0xaa]) },
];

/** How many bytes from the start of a device `findSignature` looks at. */
export const SIGNATURE_SCAN_BYTES = 0x10040 + 8;

/** Names the first known signature found in `head` (the first bytes of a device), if any. */
export function findSignature(head: Buffer): string | undefined {
  for (const sig of SIGNATURES) {
    const end = sig.offset + sig.bytes.length;
    if (end <= head.length && head.subarray(sig.offset, end).equals(sig.bytes)) return sig.name;
  }
  return undefined;
}
