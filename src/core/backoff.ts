// Waits that double with each failure in a row, up to a cap: retries of fences, claims and starts.

/** The wait after the `failures`-th failure in a row (1 = the first): base, 2 x base, ... max. */
export function doublingWait(baseMs: number, maxMs: number, failures: number): number {
  if (!Number.isInteger(failures) || failures < 1)
    throw new RangeError(`failures ${failures} is not a count from 1`);
  return Math.min(baseMs * 2 ** (failures - 1), maxMs);
}
