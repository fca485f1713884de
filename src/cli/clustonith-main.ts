// clustonith: the power-switch test command. Parses arguments, builds one driver, runs one action
// and prints every step as it happens.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Command, CommanderError, Option } from "commander";
import type { MemberConfig } from "../config/model.js";
import { CONFIG_EXIT, ConfigFileError, readClusterConf } from "../config/read.js";
import { formatErrors, validateText } from "../config/validate.js";
import { argumentNameProblem } from "../power/agent-input.js";
import { createSwitch, describeSwitch, type SwitchConfig } from "../power/create.js";
import { PowerSwitchError } from "../power/errors.js";
import { readSecretFile, SecretFileError } from "../power/secret-file.js";
import { type StepEvent, SWITCH_TYPES } from "../power/switch.js";
import { EXIT } from "./exit-codes.js";
import { type CommandIo, processIo, table } from "./io.js";
import { jsonRequested, withJsonErrors } from "./json-errors.js";
import { versionLine } from "./version.js";

/** clustonith's own exit codes, as its man page lists them. */
export const STONITH_EXIT = { ok: 0, failed: 1, off: 2, usage: 64, config: CONFIG_EXIT } as const;

const USAGE =
  "usage: clustonith {-c FILE {-S|--status|--on|--off|-r} [MEMBER] | --type TYPE [switch options] --outlet N {-S|--status|--on|--off|-r}} [--json]; see clustonith(8)";

type Action = "switch-status" | "status" | "on" | "off" | "reboot";

interface Options {
  config?: string;
  type?: string;
  outlet?: string;
  device?: string;
  host?: string;
  port?: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  community?: string;
  communityFile?: string;
  snmpVersion?: string;
  agent?: string;
  nodename?: string;
  arg: string[];
  argFile?: string;
  timeout?: string;
  watchdogTimeout?: string;
  switchStatus?: boolean;
  /** true, or with -c the member to act on. */
  status?: boolean | string;
  on?: boolean | string;
  off?: boolean | string;
  reboot?: boolean | string;
  json?: boolean;
}

class UsageError extends Error {}

function program(io: CommandIo): Command {
  return new Command("clustonith")
    .description("Test a power switch: read an outlet, switch it on or off, or power-cycle it.")
    .option("-c, --config <file>", "take the switches from cluster.conf; the actions then name a member")
    .option("--type <type>", `switch type: ${SWITCH_TYPES.join(", ")}`)
    .option("--outlet <n>", "the outlet (plug) to act on")
    .option("--device <path>", "rps10: the serial device")
    .option("--host <host>", "wti_nps, apc_snmp: the switch's address")
    .option("--port <port>", "wti_nps, apc_snmp: the TCP or UDP port")
    .option("--username <name>", "wti_nps: the login name, if the switch asks for one")
    .option("--password <pw>", "wti_nps, fence_agent: the password (visible to ps; prefer --password-file)")
    .option("--password-file <file>", "wti_nps, fence_agent: read the password from this file's first line")
    .option("--community <c>", "apc_snmp: the read-write community (default private)")
    .option("--community-file <file>", "apc_snmp: read the community from this file")
    .option("--snmp-version <v>", "apc_snmp: 1 or 2c (default 1)")
    .option("--agent <name>", "fence_agent: the agent program, e.g. fence_ipmilan")
    .option(
      "--nodename <name>",
      "fence_agent: the member's name, sent as nodename= (with -c: the member named)",
    )
    .option(
      "--arg <key=value>",
      "fence_agent: an argument for the agent (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option("--arg-file <file>", "fence_agent: key=value lines for the agent, e.g. a password kept out of ps")
    .option("--timeout <seconds>", "fence_agent: the deadline for one agent run (default 60)")
    .option("--watchdog-timeout <seconds>", "watchdog: the member's watchdog timeout")
    .addOption(
      new Option("-S, --switch-status", "check the switch answers, and read the outlet if one is given"),
    )
    .option("--status [member]", "read the outlet (exit 0 on, 2 off)")
    .option("--on [member]", "switch the outlet on and confirm it")
    .option("--off [member]", "switch the outlet off and confirm it")
    .option("-r, --reboot [member]", "power-cycle: off, confirmed off, on, confirmed on")
    .option("--json", "print JSON for scripts")
    .version(versionLine("clustonith"), "--version", "print the version")
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: () => {} })
    .allowExcessArguments(false);
}

function secret(direct: string | undefined, file: string | undefined, what: string): string | undefined {
  if (direct !== undefined && file !== undefined)
    throw new UsageError(`give the ${what} or a ${what} file, not both`);
  if (file === undefined) return direct;
  try {
    return readSecretFile(file, what);
  } catch (err) {
    if (err instanceof SecretFileError) throw new UsageError(err.message);
    throw err;
  }
}

/** The non-blank, non-comment lines of a file the user named. */
function readLines(file: string, what: string): string[] {
  try {
    return readFileSync(file, "utf8")
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
  } catch (err) {
    throw new UsageError(
      `cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function number(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`${flag} needs a number from ${min} to ${max}, not "${value}"`);
  return n;
}

function required(value: string | undefined, flag: string, type: string): string {
  if (value === undefined || value === "") throw new UsageError(`--type ${type} needs ${flag}`);
  return value;
}

/** Which types take which secret: a secret given to a type that has no use for it is refused,
 * not dropped, so no one believes a password is being sent when none is. */
const SECRET_OPTIONS: readonly { flag: string; key: keyof Options; types: readonly string[] }[] = [
  { flag: "--password", key: "password", types: ["wti_nps", "fence_agent"] },
  { flag: "--password-file", key: "passwordFile", types: ["wti_nps", "fence_agent"] },
  { flag: "--community", key: "community", types: ["apc_snmp"] },
  { flag: "--community-file", key: "communityFile", types: ["apc_snmp"] },
];

function refuseUnusedSecrets(o: Options, type: string): void {
  for (const { flag, key, types } of SECRET_OPTIONS) {
    if (o[key] !== undefined && !types.includes(type))
      throw new UsageError(
        `--type ${type} takes no ${flag} (only ${types.join(" and ")} take${types.length === 1 ? "s" : ""} one); leave it out`,
      );
  }
}

/** The switch described by the flags. */
export function switchFromOptions(o: Options): SwitchConfig {
  const type = o.type;
  if (type === undefined)
    throw new UsageError("say which switch with --type, or take it from a cluster.conf with -c FILE");
  refuseUnusedSecrets(o, type);
  const port = number(o.port, "--port", 1, 65535);
  switch (type) {
    case "rps10":
      return { type, device: required(o.device, "--device PATH", type) };
    case "wti_nps": {
      const password = secret(o.password, o.passwordFile, "password");
      return {
        type,
        host: required(o.host, "--host HOST", type),
        ...(port !== undefined ? { port } : {}),
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(password !== undefined ? { password } : {}),
      };
    }
    case "apc_snmp": {
      const community = secret(o.community, o.communityFile, "community");
      if (o.snmpVersion !== undefined && o.snmpVersion !== "1" && o.snmpVersion !== "2c") {
        throw new UsageError(`--snmp-version must be 1 or 2c, not "${o.snmpVersion}"`);
      }
      return {
        type,
        host: required(o.host, "--host HOST", type),
        ...(port !== undefined ? { port } : {}),
        ...(community !== undefined ? { community } : {}),
        ...(o.snmpVersion !== undefined ? { version: o.snmpVersion } : {}),
      };
    }
    case "fence_agent": {
      const args: Record<string, string> = {};
      const fromFile = o.argFile === undefined ? [] : readLines(o.argFile, "argument");
      for (const pair of [...fromFile, ...o.arg]) {
        const at = pair.indexOf("=");
        if (at < 1) throw new UsageError(`--arg needs key=value, not "${pair}"`);
        const key = pair.slice(0, at);
        const problem = argumentNameProblem(key);
        if (problem !== undefined)
          throw new UsageError(
            `--arg ${problem}${key.trim().toLowerCase() === "nodename" ? " (use --nodename)" : ""}`,
          );
        args[key] = pair.slice(at + 1);
      }
      const password = secret(o.password, o.passwordFile, "password");
      if (password !== undefined) {
        if (args.password !== undefined || args.passwd !== undefined)
          throw new UsageError("give the password once: --password-file, or an argument password=, not both");
        args.password = password;
      }
      const timeout = number(o.timeout, "--timeout", 1, 3600);
      return {
        type,
        agent: required(o.agent, "--agent NAME", type),
        args,
        ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
      };
    }
    case "watchdog":
      return {
        type,
        timeoutSeconds: number(
          required(o.watchdogTimeout, "--watchdog-timeout SECONDS", type),
          "--watchdog-timeout",
          1,
          3600,
        )!,
      };
    case "none":
      return { type };
    default:
      throw new UsageError(`unknown switch type "${type}"; use ${SWITCH_TYPES.join(", ")}`);
  }
}

function actionOf(o: Options): Action {
  const chosen = (
    [
      ["switch-status", o.switchStatus],
      ["status", o.status],
      ["on", o.on],
      ["off", o.off],
      ["reboot", o.reboot],
    ] as const
  ).filter(([, set]) => set !== undefined && set !== false);
  if (chosen.length !== 1)
    throw new UsageError(chosen.length === 0 ? "choose what to do" : "choose one action");
  return chosen[0]![0];
}

export function main(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  return withJsonErrors("clustonith", jsonRequested(argv), io, (watched) => parseAndRun(argv, watched));
}

async function parseAndRun(argv: readonly string[], io: CommandIo): Promise<number> {
  let o: Options;
  try {
    o = program(io)
      .parse([...argv], { from: "user" })
      .opts<Options>();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.ok;
      io.err(`clustonith: ${err.message.replace(/^error: /, "")}; ${USAGE}`);
      return STONITH_EXIT.usage;
    }
    throw err;
  }
  let config: SwitchConfig;
  let action: Action;
  try {
    action = actionOf(o);
    if (o.config !== undefined) return await fromClusterConf(o, action, io);
    const value = {
      "switch-status": o.switchStatus,
      status: o.status,
      on: o.on,
      off: o.off,
      reboot: o.reboot,
    }[action];
    if (typeof value === "string")
      throw new UsageError(`naming a member (${value}) needs -c FILE; with --type, give --outlet`);
    config = switchFromOptions(o);
    if (o.nodename !== undefined && config.type !== "fence_agent")
      throw new UsageError("--nodename is for --type fence_agent");
    if (action !== "switch-status" && o.outlet === undefined)
      throw new UsageError(`--${action} needs --outlet N`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`clustonith: ${err.message}; ${USAGE}`);
    return STONITH_EXIT.usage;
  }
  return run(config, action, o.outlet, o.nodename, o.json === true, io);
}

async function run(
  config: SwitchConfig,
  action: Action,
  outlet: string | undefined,
  nodename: string | undefined,
  json: boolean,
  io: CommandIo,
): Promise<number> {
  const steps: StepEvent[] = [];
  const started = performance.now();
  const show = (e: StepEvent) => {
    steps.push(e);
    if (!json)
      io.out(
        `  ${e.step.padEnd(26)} ${`${e.durationMs.toFixed(1)} ms`.padStart(10)}${e.detail ? `  ${e.detail}` : ""}`,
      );
  };
  /** The --json report: the same frame for success and failure, the outcome in between. */
  const printJson = (outcome: Record<string, unknown>, tail: Record<string, unknown> = {}) =>
    io.out(
      JSON.stringify(
        {
          switch: describeSwitch(config),
          outlet,
          action,
          ...outcome,
          steps,
          totalMs: performance.now() - started,
          ...tail,
        },
        null,
        2,
      ),
    );
  let sw: ReturnType<typeof createSwitch>;
  try {
    sw = createSwitch(config, {
      observer: show,
      warn: (m) => io.err(`clustonith: warning: ${m}`),
      ...(nodename !== undefined ? { nodename } : {}),
    });
  } catch (err) {
    if (err instanceof PowerSwitchError) {
      io.err(`clustonith: ${err.message}`);
      return err.kind === "config" ? STONITH_EXIT.usage : STONITH_EXIT.failed;
    }
    throw err;
  }
  if (!json) io.out(`${sw.name}${outlet !== undefined ? ` outlet ${outlet}` : ""}: ${action}`);
  let state: "on" | "off" | undefined;
  let reachable = false;
  try {
    switch (action) {
      case "switch-status":
        await sw.health();
        reachable = true;
        if (outlet !== undefined) state = await sw.status(outlet);
        break;
      case "status":
        state = await sw.status(outlet!);
        break;
      case "on":
        await sw.on(outlet!);
        state = "on";
        break;
      case "off":
        await sw.off(outlet!);
        state = "off";
        break;
      case "reboot":
        await sw.reboot(outlet!);
        state = "on";
        break;
    }
  } catch (caught) {
    // Anything a driver lets through untyped is still a failed switch, not a crash.
    const err =
      caught instanceof PowerSwitchError
        ? caught
        : new PowerSwitchError(
            "failed",
            sw.name,
            outlet,
            action,
            caught instanceof Error ? caught.message : String(caught),
          );
    const exitCode = err.kind === "config" ? STONITH_EXIT.usage : STONITH_EXIT.failed;
    if (json)
      printJson({ ok: false }, { error: { kind: err.kind, step: err.step, message: err.message, exitCode } });
    else io.err(`clustonith: ${err.message}`);
    if (action === "switch-status" && !json)
      printTable(io, sw.name, config.type, reachable, outlet, undefined);
    return exitCode;
  } finally {
    await sw.close();
  }
  const totalMs = performance.now() - started;
  if (json) {
    printJson({
      ok: true,
      state,
      confirmation: action === "status" || action === "switch-status" ? undefined : sw.confirmation,
    });
  } else if (action === "switch-status") {
    printTable(io, sw.name, config.type, true, outlet, state);
  } else {
    const what =
      action === "status"
        ? `is ${state}`
        : sw.confirmation === "none"
          ? "was not switched: type none does nothing"
          : sw.confirmation === "time" && action !== "on"
            ? "is assumed off: its watchdog has surely fired by now"
            : action === "reboot"
              ? "was power-cycled (off confirmed, then on confirmed)"
              : `is ${state} (confirmed)`;
    io.out(`Outlet ${outlet} ${what}; ${totalMs.toFixed(0)} ms in all.`);
  }
  return action === "status" && state === "off" ? STONITH_EXIT.off : STONITH_EXIT.ok;
}

/** The actions with -c: -S for every member's switch, or one action on the member it names. */
async function fromClusterConf(o: Options, action: Action, io: CommandIo): Promise<number> {
  const file = o.config!;
  if (o.type !== undefined || o.outlet !== undefined)
    throw new UsageError("with -c the switches come from the file: drop --type and --outlet");
  if (o.nodename !== undefined)
    throw new UsageError("with -c the nodename is the member's name: drop --nodename");
  let text: string;
  try {
    text = readClusterConf(file);
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    io.err(`clustonith: ${err.message}`);
    return STONITH_EXIT.config;
  }
  const checked = validateText(text);
  if (!checked.ok) {
    io.err([`clustonith: ${file} is not valid:`, ...formatErrors(file, checked.errors)].join("\n"));
    return STONITH_EXIT.usage;
  }
  const members = checked.config.members;
  if (action === "switch-status") return allSwitches(members, o.json === true, io);
  const value = { status: o.status, on: o.on, off: o.off, reboot: o.reboot }[action];
  if (typeof value !== "string") throw new UsageError(`--${action} with -c needs the member's name`);
  const member = members.find((m) => m.name === value);
  if (member === undefined)
    throw new UsageError(
      `${file} has no member "${value}"; the members are ${members.map((m) => m.name).join(", ")}`,
    );
  return run(member.power, action, member.power.outlet, member.name, o.json === true, io);
}

/** -S with -c: is every member's switch reachable, and what is its outlet's state? Exit 1 if any is not. */
async function allSwitches(members: readonly MemberConfig[], json: boolean, io: CommandIo): Promise<number> {
  const rows: {
    member: string;
    switch: string;
    type: string;
    reachable: boolean;
    outlet: string;
    state?: string;
    error?: string;
  }[] = [];
  for (const m of members) {
    let sw: ReturnType<typeof createSwitch>;
    try {
      sw = createSwitch(m.power, { warn: () => {}, nodename: m.name });
    } catch (err) {
      // A member whose switch cannot even be set up (an agent that is not installed) is a row too.
      const detail = err instanceof Error ? err.message : String(err);
      rows.push({
        member: m.name,
        switch: m.power.type,
        type: m.power.type,
        reachable: false,
        outlet: m.power.outlet,
        error: detail,
      });
      continue;
    }
    const row: (typeof rows)[number] = {
      member: m.name,
      switch: sw.name,
      type: m.power.type,
      reachable: false,
      outlet: m.power.outlet,
    };
    try {
      await sw.health();
      row.reachable = true;
      if (sw.confirmation === "switch") row.state = await sw.status(m.power.outlet);
    } catch (err) {
      row.error = err instanceof Error ? err.message : String(err);
    } finally {
      await sw.close();
    }
    rows.push(row);
  }
  if (json) io.out(JSON.stringify(rows, null, 2));
  else {
    io.out(
      table([
        ["MEMBER", "SWITCH", "TYPE", "REACHABLE", "OUTLET", "STATE"],
        ...rows.map((r) => [
          r.member,
          r.switch,
          r.type,
          r.reachable ? "yes" : "no",
          r.outlet,
          r.state ?? "-",
        ]),
      ]),
    );
    for (const r of rows) if (r.error !== undefined) io.err(`clustonith: ${r.error}`);
  }
  return rows.every((r) => r.reachable && r.error === undefined) ? STONITH_EXIT.ok : STONITH_EXIT.failed;
}

function printTable(
  io: CommandIo,
  name: string,
  type: string,
  reachable: boolean,
  outlet: string | undefined,
  state: string | undefined,
): void {
  io.out(
    table([
      ["SWITCH", "TYPE", "REACHABLE", "OUTLET", "STATE"],
      [name, type, reachable ? "yes" : "no", outlet ?? "-", state ?? "-"],
    ]),
  );
}
