// Remembers the last decoded version of the blocks a member reads every heartbeat. A block whose
// bytes equal bytes that already passed every check needs no second decode; mailbox rows, which
// rarely change, then cost a memcmp per block instead of a CRC and a parse. Keyed on the exact
// bytes, so it can never return something the disk does not hold.
import type { Block } from "./block.js";

/** Enough for the status region and one mailbox row of the largest layout. */
export const MAX_CACHED_BLOCKS = 256;

export class BlockCache {
  private readonly entries = new Map<number, { raw: Buffer; block: Block }>();

  lookup(slot: number, raw: Buffer): Block | undefined {
    const hit = this.entries.get(slot);
    return hit?.raw.equals(raw) ? hit.block : undefined;
  }

  remember(slot: number, raw: Buffer, block: Block): void {
    if (this.entries.size >= MAX_CACHED_BLOCKS && !this.entries.has(slot)) this.entries.clear();
    this.entries.set(slot, { raw, block });
  }
}
