// Which configuration view says how to fence a member. A daemon runs the view it started with;
// an administrator may since have moved a member to another outlet or switch, and stored that as
// a newer view. Fencing with the old one would switch off the wrong outlet and still "confirm
// off". So the switch and outlet come from the partitions' current view, read under the fencing
// lock, and a fence that cannot read it does not fire.

export interface Viewed<T> {
  view: number;
  value: T;
}

export type FencingView<T> = { ok: true; use: Viewed<T> } | { ok: false; reason: string };

/**
 * `own` is the view this member runs; `stored` the view on the partitions now, whose value is
 * worked out only when needed (parsing may fail).
 */
export function fencingView<T>(own: Viewed<T>, stored: { view: number; value: () => T }): FencingView<T> {
  if (stored.view === own.view) return { ok: true, use: own };
  // Nothing stored yet (no change was ever made): the file this member runs is the configuration.
  if (stored.view === 0 && own.view === 0) return { ok: true, use: own };
  if (stored.view < own.view)
    return {
      ok: false,
      reason: `the quorum partitions hold configuration view ${stored.view}, older than view ${own.view} this member runs: a partition was rolled back, so which outlet is right is not known; check them with cludiskutil --verify`,
    };
  try {
    return { ok: true, use: { view: stored.view, value: stored.value() } };
  } catch (err) {
    return {
      ok: false,
      reason: `configuration view ${stored.view} on the quorum partitions cannot be used to fence: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
