// "No power switch": nothing is ever really switched off. Documented as unsafe: with it, a hung
// member that wakes up can run the same service as its replacement. Every use says so.
import type { OutletState, PowerSwitch, StepObserver } from "./switch.js";

export const NONE_WARNING =
  "power switch type 'none' does not fence: a member treated as off may still be running, and its services may run twice";

export class NoSwitch implements PowerSwitch {
  readonly type = "none" as const;
  readonly confirmation = "none" as const;
  readonly name = "none";

  constructor(
    private readonly warn: (message: string) => void,
    private readonly observer?: StepObserver,
  ) {}

  private use(step: string): void {
    this.warn(NONE_WARNING);
    this.observer?.({ step, durationMs: 0, detail: "no switch: nothing was done" });
  }

  async health(): Promise<void> {
    this.use("health");
  }

  async status(): Promise<OutletState> {
    this.use("status");
    return "on";
  }

  async on(): Promise<void> {
    this.use("on");
  }

  async off(): Promise<void> {
    this.use("off");
  }

  async reboot(): Promise<void> {
    this.use("reboot");
  }

  async close(): Promise<void> {}
}
