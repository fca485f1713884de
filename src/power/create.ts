// Builds a driver from a switch description: what clustonith's flags give, and what a member's
// power block in cluster.conf gives. Secrets kept in files (password_file, arg.NAME_file) are
// read here, each time a driver is built, so no copy of the configuration holds them.

import { isSecretName, MASK } from "../config/secrets.js";
import { ApcSnmpSwitch } from "./apc-snmp.js";
import { PowerSwitchError } from "./errors.js";
import { FenceAgentSwitch } from "./fence-agent.js";
import { NoSwitch } from "./none.js";
import { Rps10Switch } from "./rps10.js";
import { readSecretFile, SecretFileError } from "./secret-file.js";
import type { PowerSwitch, StepObserver } from "./switch.js";
import { WatchdogSwitch } from "./watchdog.js";
import { WtiNpsSwitch } from "./wti-nps.js";

export type SwitchConfig =
  | { type: "rps10"; device: string }
  | {
      type: "wti_nps";
      host: string;
      port?: number;
      username?: string;
      password?: string;
      /** A file whose first line is the password. */
      passwordFile?: string;
    }
  | {
      type: "apc_snmp";
      host: string;
      port?: number;
      community?: string;
      /** A file whose first line is the community. */
      communityFile?: string;
      version?: "1" | "2c";
    }
  | {
      type: "fence_agent";
      agent: string;
      args?: Record<string, string>;
      /** Agent arguments whose values are the first line of a file: name -> path. */
      argFiles?: Record<string, string>;
      timeoutMs?: number;
    }
  | { type: "watchdog"; timeoutSeconds: number }
  | { type: "none" };

export interface CreateOptions {
  observer?: StepObserver;
  /** Where the unsafe-switch warning goes (a log line in the daemon, stderr in clustonith). */
  warn?: (message: string) => void;
  /** The member the switch acts on; fence agents get it as nodename=. */
  nodename?: string;
}

/** The secret in `file`, or a configuration error naming the switch and the file. */
function secretFrom(file: string, what: string, switchName: string): string {
  try {
    return readSecretFile(file, what);
  } catch (err) {
    if (!(err instanceof SecretFileError)) throw err;
    throw new PowerSwitchError("config", switchName, undefined, "reading its secret", err.message);
  }
}

export function createSwitch(config: SwitchConfig, options: CreateOptions = {}): PowerSwitch {
  const observer = options.observer !== undefined ? { observer: options.observer } : {};
  switch (config.type) {
    case "rps10":
      return new Rps10Switch({ device: config.device, ...observer });
    case "wti_nps": {
      const { passwordFile, ...rest } = config;
      const password =
        passwordFile !== undefined
          ? { password: secretFrom(passwordFile, "password", `wti_nps ${config.host}`) }
          : {};
      return new WtiNpsSwitch({ ...rest, ...password, ...observer });
    }
    case "apc_snmp": {
      const { communityFile, ...rest } = config;
      const community =
        communityFile !== undefined
          ? { community: secretFrom(communityFile, "community", `apc_snmp ${config.host}`) }
          : {};
      return new ApcSnmpSwitch({ ...rest, ...community, ...observer });
    }
    case "fence_agent": {
      const { argFiles, args, ...rest } = config;
      const fromFiles = Object.entries(argFiles ?? {}).map(([name, file]) => [
        name,
        secretFrom(file, name, `fence_agent ${config.agent}`),
      ]);
      return new FenceAgentSwitch({
        ...rest,
        args: { ...args, ...Object.fromEntries(fromFiles) },
        ...(options.nodename !== undefined ? { nodename: options.nodename } : {}),
        ...observer,
      });
    }
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
  if ("password" in shown && shown.password !== undefined) shown.password = MASK;
  if ("community" in shown && shown.community !== undefined) shown.community = MASK;
  if (config.type === "fence_agent" && config.args !== undefined) {
    shown.args = Object.fromEntries(
      Object.entries(config.args).map(([k, v]) => [k, isSecretName(k) ? MASK : v]),
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
