// The outlets of a simulated power switch: their states, a JSON state file rewritten after every
// change (so a test can see what the switch did), and actions run when an outlet goes off or on
// (the lab wires off to killing a member's process group and on to starting it again).
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { renameSync, writeFileSync } from "node:fs";

export type State = "on" | "off";

export interface OutletChange {
  outlet: string;
  state: State;
}

export interface OutletBankOptions {
  /** Outlet names in order, e.g. ["0".."9"] for an RPS-10 chain, ["1".."8"] for an NPS. */
  names: string[];
  initial?: State;
  stateFile?: string;
  /** A shell command run on every change, with OUTLET and STATE in its environment. */
  hook?: string;
}

export class OutletBank extends EventEmitter<{ change: [OutletChange] }> {
  private readonly states = new Map<string, State>();
  private hooks: Promise<void> = Promise.resolve();

  constructor(private readonly options: OutletBankOptions) {
    super();
    for (const name of options.names) this.states.set(name, options.initial ?? "on");
    this.save();
  }

  get names(): string[] {
    return [...this.states.keys()];
  }

  has(outlet: string): boolean {
    return this.states.has(outlet);
  }

  get(outlet: string): State {
    const state = this.states.get(outlet);
    if (state === undefined) throw new RangeError(`no outlet ${outlet}`);
    return state;
  }

  set(outlet: string, state: State): void {
    if (!this.states.has(outlet)) throw new RangeError(`no outlet ${outlet}`);
    const before = this.states.get(outlet);
    this.states.set(outlet, state);
    this.save();
    if (before === state) return;
    this.emit("change", { outlet, state });
    const hook = this.options.hook;
    if (hook !== undefined) {
      // One at a time, in the order the outlets changed: an "on" must never overtake the "off"
      // before it, or the lab would start a member before the old one was killed.
      this.hooks = this.hooks.then(
        () =>
          new Promise<void>((resolve) => {
            spawn("/bin/sh", ["-c", hook], {
              stdio: "ignore",
              env: { ...process.env, OUTLET: outlet, STATE: state },
            })
              .on("error", () => resolve())
              .on("exit", () => resolve());
          }),
      );
    }
  }

  /**
   * Resolves once every outlet change so far has had its effect (the hook ran to its end). A real
   * switch reports an outlet off only once the relay has cut it: a simulator that answers before
   * its hook killed the member's processes lets a peer take over while they still run.
   */
  settled(): Promise<void> {
    return this.hooks;
  }

  snapshot(): Record<string, State> {
    return Object.fromEntries(this.states);
  }

  /** Written to a temporary name and renamed, so a reader never sees half a file. */
  private save(): void {
    const file = this.options.stateFile;
    if (file === undefined) return;
    writeFileSync(`${file}.tmp`, `${JSON.stringify(this.snapshot())}\n`);
    renameSync(`${file}.tmp`, file);
  }
}
