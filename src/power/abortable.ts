// A wait that also ends when a signal aborts, and takes its abort listener off the signal when it
// ends either way. A driver waits many times on one step's signal (once per line or chunk the
// switch sends); a listener left behind by each wait piles up on that signal until Node warns
// (MaxListenersExceededWarning) and keeps every finished wait's closure alive.

/**
 * Runs `start`, which calls `settle` when the wait is over and may return a cleanup (a timer to
 * clear, a wake-up hook to drop). Resolves with the settled value, or with `aborted` once
 * `signal` aborts; whichever comes first wins, and the cleanup and the abort listener are removed
 * in both cases.
 */
export function abortableWait<T>(
  signal: AbortSignal,
  aborted: T,
  start: (settle: (value: T) => void) => (() => void) | undefined,
): Promise<T> {
  if (signal.aborted) return Promise.resolve(aborted);
  return new Promise<T>((resolve) => {
    let done = false;
    let cleanup: (() => void) | undefined;
    const settle = (value: T) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      cleanup?.();
      resolve(value);
    };
    const onAbort = () => settle(aborted);
    signal.addEventListener("abort", onAbort, { once: true });
    cleanup = start(settle);
    // `start` may have settled at once, before its cleanup was known.
    if (done) cleanup?.();
  });
}
