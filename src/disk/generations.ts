// Generations that only grow, per block, across processes, lives and writers.
//
// Every block has one writer at a time: a member's status and lock blocks and the mailboxes it
// sends are written only by that member, whose daemon holds its slot lock for its whole life (and
// cluadmin takes that slot only when no daemon does); a service block is written only under the
// disk lock. That writer, before its first write of a block, reads the block's generation on both
// copies and writes one more than the larger; after that it counts on from its own last write,
// which nobody else can have passed (for a service block it reads both copies again under every
// lock, since the last holder may have been someone else). A generation is never used twice by
// one writer, even for a write that failed: the failed write may have landed on one copy.
//
// So each write's generation exceeds that of every earlier write of the block that reached either
// copy, and a reader that compares generations orders the copies by when they were written, not
// by which process or life wrote them.

/** The generation for the next write of a block, given what is known of its earlier ones (the
 * generations on the copies that could be read, the writer's own last write). */
export function nextGeneration(known: readonly (number | undefined)[]): number {
  let highest = 0;
  for (const g of known) if (g !== undefined && g > highest) highest = g;
  if (!Number.isSafeInteger(highest + 1)) throw new RangeError(`generation ${highest} cannot grow further`);
  return highest + 1;
}

/**
 * What a reader has already seen of each block: never hand back an older version than one
 * already handed back, so a copy that goes away and comes back stale, or a write that reached
 * one copy only, cannot move a member's view of a block backwards. Keyed by slot, so bounded by
 * the layout.
 */
export class NewestSeen<T extends { generation: number }> {
  private readonly seen = new Map<number, T>();

  /** The newer of `read` and the newest seen before, which it then remembers. */
  keep(slot: number, read: T): T {
    const before = this.seen.get(slot);
    if (before !== undefined && before.generation > read.generation) return before;
    this.seen.set(slot, read);
    return read;
  }

  generation(slot: number): number | undefined {
    return this.seen.get(slot)?.generation;
  }
}
