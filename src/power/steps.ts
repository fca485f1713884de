// Runs a driver's steps one at a time, each under its own deadline, and reports each one with
// its duration. A step that misses its deadline becomes a PowerSwitchError naming the switch,
// the outlet and the step, so no switch can hang its caller.
import { performance } from "node:perf_hooks";
import { Garbled, LineBusy, LineClosed, PowerSwitchError } from "./errors.js";
import type { StepObserver } from "./switch.js";

export class Steps {
  constructor(
    private readonly switchName: string,
    private readonly observer: StepObserver | undefined,
    private readonly outlet?: string,
  ) {}

  forOutlet(outlet: string): Steps {
    return new Steps(this.switchName, this.observer, outlet);
  }

  /** Runs `work` as step `step`, failing it with a timeout after `timeoutMs`. */
  async run<T>(
    step: string,
    timeoutMs: number,
    work: (signal: AbortSignal) => Promise<T>,
    detail?: (value: T) => string,
  ): Promise<T> {
    const started = performance.now();
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(this.error("timeout", step, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const value = await Promise.race([work(abort.signal), deadline]);
      const event = { step, durationMs: performance.now() - started };
      const text = detail?.(value);
      this.observer?.(text === undefined ? event : { ...event, detail: text });
      return value;
    } catch (err) {
      abort.abort();
      if (err instanceof PowerSwitchError) throw err;
      if (err instanceof LineClosed) throw this.error("disconnected", step, err.message);
      if (err instanceof LineBusy) throw this.error("busy", step, err.message);
      if (err instanceof Garbled) throw this.error("garbled", step, err.message);
      throw this.error("failed", step, err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads the outlet until it shows `want`, every `pollMs`, for at most `deadlineMs`. A read that
   * fails or times out is tried again within the deadline (one lost packet must not fail a fence);
   * only the final outcome is reported. A switch that answers but keeps showing the other state
   * ends in "not-confirmed"; one that never answers ends in "timeout".
   */
  async confirm(
    want: "on" | "off",
    deadlineMs: number,
    pollMs: number,
    read: () => Promise<{ state: "on" | "off" | "busy" }>,
  ): Promise<void> {
    const step = `${want} confirmed`;
    const started = performance.now();
    let last: string | undefined;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        const { state } = await read();
        if (state === want) {
          this.observer?.({ step, durationMs: performance.now() - started, detail: `${attempt + 1} reads` });
          return;
        }
        last = state;
      } catch (err) {
        lastError = err;
      }
      if (performance.now() - started + pollMs > deadlineMs) break;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    if (last !== undefined) {
      throw this.error(
        "not-confirmed",
        step,
        `the switch still shows the outlet ${last} after ${deadlineMs} ms`,
      );
    }
    if (lastError instanceof PowerSwitchError) throw this.error(lastError.kind, step, lastError.detail);
    if (lastError instanceof Garbled) throw this.error("garbled", step, lastError.message);
    throw this.error("timeout", step, `no reading of the outlet within ${deadlineMs} ms`);
  }

  /** Reports a step that took no I/O of its own (a decision, a confirmation already in hand). */
  note(step: string, detail?: string): void {
    this.observer?.(detail === undefined ? { step, durationMs: 0 } : { step, durationMs: 0, detail });
  }

  error(kind: PowerSwitchError["kind"], step: string, detail: string): PowerSwitchError {
    return new PowerSwitchError(kind, this.switchName, this.outlet, step, detail);
  }
}

/** Runs `work` with a signal that aborts after `ms`; rejects if it has not finished by then. */
export async function within<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(abort.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abort.abort();
          reject(new Error(`no answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
