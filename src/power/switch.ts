// One interface for every kind of power switch. A member is fenced only once a switch has
// confirmed the outlet is off; every driver's off() returns only after that confirmation.

export type OutletState = "on" | "off";

export const SWITCH_TYPES = ["rps10", "wti_nps", "apc_snmp", "fence_agent", "watchdog", "none"] as const;
export type SwitchType = (typeof SWITCH_TYPES)[number];

/** One step of talking to a switch, reported as it finishes (clustonith prints them). */
export interface StepEvent {
  /** What happened: "connecting", "banner", "off sent", "off confirmed", ... */
  step: string;
  durationMs: number;
  detail?: string;
}

export type StepObserver = (event: StepEvent) => void;

/** How a switch knows an outlet is off: the switch says so, enough time has passed for a
 * watchdog to have fired, or it does not know at all (type none). */
export type Confirmation = "switch" | "time" | "none";

export interface PowerSwitch {
  readonly type: SwitchType;
  readonly confirmation: Confirmation;
  /** Names the switch in messages, without secrets: "rps10 /dev/ttyS0", "wti_nps 10.0.0.5:23". */
  readonly name: string;
  /** Proves the switch itself answers (banner, login, a status read); outlets are not touched. */
  health(): Promise<void>;
  status(outlet: string): Promise<OutletState>;
  /** Switches the outlet on and returns once the switch confirms it is on. */
  on(outlet: string): Promise<void>;
  /** Switches the outlet off and returns once the switch confirms it is off. */
  off(outlet: string): Promise<void>;
  /** Off, confirmed off, on, confirmed on. Never reports success before off is confirmed. */
  reboot(outlet: string): Promise<void>;
  /** Releases the line or connection. */
  close(): Promise<void>;
}

/**
 * A switch whose reboot is its own off, then on: the off is seen confirmed before the on is
 * sent, which a switch's one-step reboot command does not let us see.
 */
export abstract class OffThenOnSwitch implements PowerSwitch {
  abstract readonly type: SwitchType;
  abstract readonly confirmation: Confirmation;
  abstract readonly name: string;
  abstract health(): Promise<void>;
  abstract status(outlet: string): Promise<OutletState>;
  abstract close(): Promise<void>;
  /** Switches the outlet and returns once the switch confirms the new state. */
  protected abstract switchTo(outlet: string, state: OutletState): Promise<void>;

  on(outlet: string): Promise<void> {
    return this.switchTo(outlet, "on");
  }

  off(outlet: string): Promise<void> {
    return this.switchTo(outlet, "off");
  }

  async reboot(outlet: string): Promise<void> {
    await this.switchTo(outlet, "off");
    await this.switchTo(outlet, "on");
  }
}
