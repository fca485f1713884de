// A fence as the daemon performs it: off, confirmed off, then on again. The result says whether
// the member may be treated as dead: only a confirmed off (or, for the watchdog, off surely
// reached) counts, whatever happens when it is switched on again.
import { createSwitch, type SwitchConfig } from "./create.js";
import type { StepObserver } from "./switch.js";

export interface PowerCycleResult {
  confirmedOff: boolean;
  /** What happened, for the log and the status view; never holds a secret. */
  detail: string;
  /** Switching it on again failed: the member stays off until someone looks. */
  onFailed?: string;
  /** Off was assumed after a wait (a watchdog), not seen by a switch. */
  byTime: boolean;
}

export interface PowerCycleOptions {
  warn: (message: string) => void;
  /** The member being fenced; fence agents get it as nodename=. */
  nodename?: string;
  observer?: StepObserver;
  /**
   * Told the moment off is confirmed, before the member is switched on again: its services may
   * be recovered from then on, without waiting for the switch to turn it back on.
   */
  onOff?: (result: Omit<PowerCycleResult, "onFailed">) => void;
}

export async function powerCycle(
  config: SwitchConfig,
  outlet: string,
  options: PowerCycleOptions,
): Promise<PowerCycleResult> {
  const sw = createSwitch(config, {
    warn: options.warn,
    ...(options.nodename !== undefined ? { nodename: options.nodename } : {}),
    ...(options.observer !== undefined ? { observer: options.observer } : {}),
  });
  try {
    try {
      await sw.off(outlet);
    } catch (err) {
      return { confirmedOff: false, detail: err instanceof Error ? err.message : String(err), byTime: false };
    }
    const how =
      sw.confirmation === "switch"
        ? "the switch confirmed off"
        : sw.confirmation === "time"
          ? "off assumed: its watchdog has surely fired"
          : "type none: nothing was switched off (unsafe)";
    const detail = `${sw.name} outlet ${outlet}: ${how}`;
    const byTime = sw.confirmation === "time";
    // Whatever the listener does, the member is switched on again; its error comes after.
    let listenerError: { err: unknown } | undefined;
    try {
      options.onOff?.({ confirmedOff: true, detail, byTime });
    } catch (err) {
      listenerError = { err };
    }
    let onFailed: string | undefined;
    try {
      await sw.on(outlet);
    } catch (err) {
      onFailed = err instanceof Error ? err.message : String(err);
    }
    if (listenerError !== undefined) throw listenerError.err;
    return { confirmedOff: true, detail, byTime, ...(onFailed !== undefined ? { onFailed } : {}) };
  } finally {
    await sw.close().catch(() => {});
  }
}
