// Runs a driver's steps one at a time, each under its own deadline, and reports each one with
// its duration. A step that misses its deadline becomes a PowerSwitchError naming the switch,
// the outlet and the step, so no switch can hang its caller.
import { performance } from "node:perf_hooks";
import { LineClosed, PowerSwitchError } from "./errors.js";
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
      throw this.error("failed", step, err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reports a step that took no I/O of its own (a decision, a confirmation already in hand). */
  note(step: string, detail?: string): void {
    this.observer?.(detail === undefined ? { step, durationMs: 0 } : { step, durationMs: 0, detail });
  }

  error(kind: PowerSwitchError["kind"], step: string, detail: string): PowerSwitchError {
    return new PowerSwitchError(kind, this.switchName, this.outlet, step, detail);
  }
}
