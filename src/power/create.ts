// Builds a driver from a switch description: what clustonith's flags give now, and what a
// member's power block in cluster.conf will give.

import { isSecretName } from "../config/secrets.js";
import { ApcSnmpSwitch } from "./apc-snmp.js";
import { PowerSwitchError } from "./errors.js";
import { FenceAgentSwitch } from "./fence-agent.js";
import { NoSwitch } from "./none.js";
import { Rps10Switch } from "./rps10.js";
import type { PowerSwitch, StepObserver } from "./switch.js";
import { WatchdogSwitch } from "./watchdog.js";
import { WtiNpsSwitch } from "./wti-nps.js";

export type SwitchConfig =
  | { type: "rps10"; device: string }
  | { type: "wti_nps"; host: string; port?: number; username?: string; password?: string }
  | { type: "apc_snmp"; host: string; port?: number; community?: string; version?: "1" | "2c" }
  | { type: "fence_agent"; agent: string; args?: Record<string, string>; timeoutMs?: number }
  | { type: "watchdog"; timeoutSeconds: number }
  | { type: "none" };

export interface CreateOptions {
  observer?: StepObserver;
  /** Where the unsafe-switch warning goes (a log line in the daemon, stderr in clustonith). */
  warn?: (message: string) => void;
}

export function createSwitch(config: SwitchConfig, options: CreateOptions = {}): PowerSwitch {
  const observer = options.observer !== undefined ? { observer: options.observer } : {};
  switch (config.type) {
    case "rps10":
      return new Rps10Switch({ device: config.device, ...observer });
    case "wti_nps":
      return new WtiNpsSwitch({ ...config, ...observer });
    case "apc_snmp":
      return new ApcSnmpSwitch({ ...config, ...observer });
    case "fence_agent":
      return new FenceAgentSwitch({ ...config, ...observer });
    case "watchdog":
      return new WatchdogSwitch({ timeoutSeconds: config.timeoutSeconds, ...observer });
    case "none":
      return new NoSwitch(options.warn ?? ((m) => process.stderr.write(`warning: ${m}\n`)), options.observer);
  }
}

/** The switch an outlet is on, whatever the outlet: members on one switch share it. */
export function switchIdentity(config: SwitchConfig): string {
  return JSON.stringify(Object.entries(config).sort(([a], [b]) => a.localeCompare(b)));
}

/** The description without secrets, for --json output and logs. */
export function describeSwitch(config: SwitchConfig): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...config };
  if ("password" in shown && shown.password !== undefined) shown.password = "***";
  if ("community" in shown && shown.community !== undefined) shown.community = "***";
  if (config.type === "fence_agent" && config.args !== undefined) {
    shown.args = Object.fromEntries(
      Object.entries(config.args).map(([k, v]) => [k, isSecretName(k) ? "***" : v]),
    );
  }
  return shown;
}

export function unknownSwitchType(type: string): PowerSwitchError {
  return new PowerSwitchError(
    "config",
    type,
    undefined,
    "configuration",
    `unknown switch type "${type}"; use rps10, wti_nps, apc_snmp, fence_agent, watchdog or none`,
  );
}
