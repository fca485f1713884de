// Wall-clock times stored on the partitions are for people only, and a damaged or hostile block
// may hold any number: format them without ever throwing.

/** An ISO 8601 time, or a note saying the stored value is not a valid time. */
export function wallClock(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `(invalid time ${ms})` : date.toISOString();
}
