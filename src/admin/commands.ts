// The cluadmin commands, one table for the interactive shell, the one-shot form and scripts on
// standard input. Each command is a few words ("service show config") then its arguments; the
// commands that need the running daemon join this table when the daemon exists.

import { join } from "node:path";
import { table } from "../cli/io.js";
import { type Block, type ConfDocument, parseDocument } from "../config/document.js";
import { addBlock, removeBlock, setEntry } from "../config/edit.js";
import { type ClusterConfig, LOG_LEVELS } from "../config/model.js";
import { noFencingWarning } from "../config/no-fencing.js";
import { CONFIG_EXIT, ConfigFileError, readClusterConf, readConfigFile } from "../config/read.js";
import { maskConfigText, redact, secretValues } from "../config/redact.js";
import { checkExposure } from "../config/secret-exposure.js";
import { isSecretName, MASK } from "../config/secrets.js";
import { writeFileAtomic } from "../config/store.js";
import { formatErrors, validateDocument } from "../config/validate.js";
import {
  didYouMean,
  integer,
  name as nameType,
  nearest,
  seconds,
  type ValueType,
  yesNo,
} from "../config/values.js";
import type { AdminOp } from "../core/services.js";
import { SOCKET_FILE } from "../daemon/paths.js";
import { describeSwitch } from "../power/create.js";
import {
  backupConfig,
  type ChangeOptions,
  ChangeRefused,
  type ChangeResult,
  changeConfig,
  currentConfigText,
  type DiskFacts,
  readConfigText,
  restoreConfig,
  slotReusable,
} from "./change.js";
import { renderStatus } from "./cluster-status.js";
import { DaemonUnreachable } from "./daemon-client.js";
import { controlService, SERVICE_WAIT_MS, type ServiceControl } from "./service-control.js";
import { clusterStatus } from "./status-source.js";

export interface CommandContext {
  configPath: string;
  member?: string;
  /** Where the local daemon's admin socket is. */
  runDir: string;
  json: boolean;
  /** Output goes to a terminal: cluster monitor redraws the screen instead of appending. */
  terminal?: boolean;
  /** Whether questions may be asked (an interactive shell without -n). */
  mayAsk: boolean;
  ask: (question: string) => Promise<string>;
  out: (text: string) => void;
  err: (text: string) => void;
  /** The secret values of every configuration text a command has read: runLine masks them in
   * all it prints, whichever key they sit under. */
  secrets?: Set<string>;
}

/** What the argument after the command names, for tab completion. */
export type Completes = "service" | "member" | "command" | "file" | "level";

export interface CommandSpec {
  words: readonly string[];
  usage: string;
  help: string;
  completes?: Completes;
  run(ctx: CommandContext, args: string[]): Promise<number>;
}

/** config: the configuration file (-c) cannot be read; unavailable: the local daemon could not be asked (none runs, it hung up, or it did not answer). */
export const ADMIN_EXIT = { ok: 0, failed: 1, usage: 64, unavailable: 69, config: CONFIG_EXIT } as const;
const MONITOR_DEFAULT_S = 2;
/** Home and clear: each refresh of cluster monitor replaces the last on a terminal. */
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/** "1 service", "2 services". */
function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function readArg<T>(text: string, type: ValueType<T>, what: string): T {
  const r = type.read(text);
  if (!r.ok) throw new UsageError(`${what} must be ${r.expected}, not ${text}`);
  return r.value;
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** Splits a command line into words: spaces separate, quotes group, backslash escapes. */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new UsageError(`a ${quote} quote is not closed`);
  if (inWord) words.push(word);
  return words;
}

/** The command the words start with (the longest match), or the nearest one as a suggestion. */
export function findCommand(
  words: readonly string[],
): { spec: CommandSpec; args: string[] } | { suggestion: string | undefined } {
  let best: CommandSpec | undefined;
  for (const spec of COMMANDS) {
    if (
      spec.words.every((w, i) => words[i] === w) &&
      (best === undefined || spec.words.length > best.words.length)
    )
      best = spec;
  }
  if (best !== undefined) return { spec: best, args: words.slice(best.words.length) };
  // Compare like with like: the words typed against commands cut to as many words.
  for (let n = Math.min(words.length, 3); n >= 1; n--) {
    const typed = words.slice(0, n).join(" ");
    const prefixes = [
      ...new Set(COMMANDS.filter((c) => c.words.length >= n).map((c) => c.words.slice(0, n).join(" "))),
    ];
    const near = nearest(typed, prefixes);
    if (near !== undefined) {
      return {
        suggestion: COMMANDS.map((c) => c.words.join(" ")).find(
          (c) => c === near || c.startsWith(`${near} `),
        ),
      };
    }
  }
  return { suggestion: undefined };
}

/** Notes the secrets of a configuration text before anything of it can be printed. */
function learned(ctx: CommandContext, text: string): string {
  if (ctx.secrets !== undefined) for (const s of secretValues(text)) ctx.secrets.add(s);
  return text;
}

/** The configuration in use (the partitions' copy, else the file), its secrets noted. */
async function currentText(ctx: CommandContext): Promise<string> {
  return learned(ctx, (await currentConfigText(ctx.configPath, ctx.member)).text);
}

async function documentOf(ctx: CommandContext): Promise<ConfDocument> {
  return parseDocument(await currentText(ctx));
}

/** The services block named NAME ("start serviceN" with name = NAME). */
function serviceBlock(doc: ConfDocument, serviceName: string): Block | undefined {
  const services = doc.sections.find((s) => s.name === "services");
  return services?.children.find(
    (b): b is Block =>
      b.kind === "block" &&
      b.children.some((c) => c.kind === "entry" && c.key === "name" && c.value === serviceName),
  );
}

export function serviceNames(doc: ConfDocument): string[] {
  const services = doc.sections.find((s) => s.name === "services");
  return (services?.children ?? []).flatMap((b) =>
    b.kind === "block"
      ? b.children.flatMap((c) => (c.kind === "entry" && c.key === "name" ? [c.value] : []))
      : [],
  );
}

export function memberNames(doc: ConfDocument): string[] {
  const members = doc.sections.find((s) => s.name === "members");
  return (members?.children ?? []).flatMap((b) =>
    b.kind === "block"
      ? b.children.flatMap((c) => (c.kind === "entry" && c.key === "name" ? [c.value] : []))
      : [],
  );
}

/** The configuration in use, validated; or undefined after printing every error. */
async function validConfig(ctx: CommandContext): Promise<ClusterConfig | undefined> {
  const result = validateDocument(await documentOf(ctx));
  if (result.ok) return result.config;
  ctx.err(
    [`cluadmin: ${ctx.configPath} is not valid:`, ...formatErrors(ctx.configPath, result.errors)].join("\n"),
  );
  return undefined;
}

function changeOptions(ctx: CommandContext): ChangeOptions {
  return { configPath: ctx.configPath, runDir: ctx.runDir, ...(ctx.member ? { member: ctx.member } : {}) };
}

/** Applies an edit as a change of the configuration, and reports it. */
function change(
  ctx: CommandContext,
  what: string,
  edit: (doc: ConfDocument, disk: DiskFacts) => ConfDocument,
): Promise<number> {
  return applyAndReport(ctx, what, () => changeConfig(changeOptions(ctx), edit));
}

/** Runs a change and reports it; a refused change names every error and writes nothing. */
async function applyAndReport(
  ctx: CommandContext,
  what: string,
  apply: () => Promise<ChangeResult>,
): Promise<number> {
  try {
    const result = await apply();
    if (ctx.json) ctx.out(JSON.stringify({ ok: true, change: what, view: result.view }));
    else ctx.out(`${what}: done (configuration view ${result.view}).`);
    return ADMIN_EXIT.ok;
  } catch (err) {
    if (!(err instanceof ChangeRefused)) throw err;
    const lines = formatErrors(ctx.configPath, err.errors);
    if (ctx.json)
      ctx.out(JSON.stringify({ ok: false, change: what, message: err.message, errors: err.errors }));
    else ctx.err([`cluadmin: ${what}: ${err.message}`, ...lines].join("\n"));
    return ADMIN_EXIT.failed;
  }
}

// ---- the service fields that service add asks for and service modify sets ----

interface Field {
  key: string;
  question: string;
  type: ValueType<unknown>;
  default?: string;
}

const SERVICE_FIELDS: readonly Field[] = [
  { key: "preferred_member", question: "Preferred member (empty for none)", type: nameType },
  {
    key: "failback",
    question: "Move back to the preferred member when it rejoins (yes/no)",
    type: yesNo,
    default: "no",
  },
  { key: "check_interval", question: "Seconds between checks", type: seconds(1, 3600), default: "10" },
  {
    key: "max_restarts",
    question: "Restarts in place before relocating",
    type: integer(0, 1000),
    default: "3",
  },
  {
    key: "restart_window",
    question: "Seconds those restarts are counted over",
    type: seconds(1, 86400),
    default: "300",
  },
  { key: "disabled", question: "Disabled (yes/no)", type: yesNo, default: "no" },
];

/** key=value arguments; resourceN.key=value ones go into resource blocks. */
function assignments(args: readonly string[]): {
  fields: [string, string][];
  resources: Map<string, [string, string][]>;
} {
  const fields: [string, string][] = [];
  const resources = new Map<string, [string, string][]>();
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at < 1) throw new UsageError(`expected key=value, not "${arg}"`);
    const key = arg.slice(0, at);
    const value = arg.slice(at + 1);
    const resource = /^(resource\d+)\.(.+)$/.exec(key);
    if (resource) {
      const list = resources.get(resource[1]!) ?? [];
      list.push([resource[2]!, value]);
      resources.set(resource[1]!, list);
    } else fields.push([key, value]);
  }
  return { fields, resources };
}

async function askFields(ctx: CommandContext): Promise<[string, string][]> {
  const answers: [string, string][] = [];
  for (const field of SERVICE_FIELDS) {
    for (;;) {
      const shown = field.default !== undefined ? ` [${field.default}]` : "";
      const answer = (await ctx.ask(`${field.question}${shown}: `)).trim() || field.default || "";
      if (answer === "") break;
      const read = field.type.read(answer);
      if (read.ok) {
        if (answer !== field.default) answers.push([field.key, answer]);
        break;
      }
      ctx.err(`  ${field.key} must be ${read.expected}`);
    }
  }
  return answers;
}

/** The lowest service slot that no service uses and that may hold a new one (slotReusable). */
function freeServiceBlock(doc: ConfDocument, disk: DiskFacts): string {
  const services = doc.sections.find((s) => s.name === "services");
  const used = new Set((services?.children ?? []).flatMap((b) => (b.kind === "block" ? [b.name] : [])));
  for (let n = 0; n < disk.services.length; n++)
    if (!used.has(`service${n}`) && slotReusable(n, disk)) return `service${n}`;
  throw new ChangeRefused(
    `no service slot is free: the partitions hold ${disk.services.length}, and those of deleted services are kept while members that run an older configuration view are UP; restart those members, or re-initialise the partitions with more services`,
  );
}

/** Passwords, communities and secret agent arguments, masked for --json. */
function masked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(masked);
  if (value === null || typeof value !== "object") return value;
  const record = value as Record<string, unknown>;
  if (
    typeof record.type === "string" &&
    ["rps10", "wti_nps", "apc_snmp", "fence_agent", "watchdog", "none"].includes(record.type)
  ) {
    return describeSwitch(record as Parameters<typeof describeSwitch>[0]);
  }
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [k, isSecretName(k) && typeof v === "string" ? MASK : masked(v)]),
  );
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    words: ["help"],
    usage: "help [COMMAND]",
    help: "list the commands, or explain one",
    completes: "command",
    async run(ctx, args) {
      if (args.length > 0) {
        const found = findCommand(args);
        if ("spec" in found) {
          ctx.out(`${found.spec.usage}\n  ${found.spec.help}`);
          return ADMIN_EXIT.ok;
        }
        ctx.err(
          `cluadmin: no command "${args.join(" ")}"${found.suggestion ? `; did you mean "${found.suggestion}"?` : ""}`,
        );
        return ADMIN_EXIT.usage;
      }
      ctx.out(table(COMMANDS.map((c) => [c.usage, c.help])));
      return ADMIN_EXIT.ok;
    },
  },
  {
    words: ["config", "check"],
    usage: "config check [FILE]",
    help: "validate a cluster.conf (exit 0 valid, 1 invalid) and list every error",
    completes: "file",
    async run(ctx, args) {
      if (args.length > 1) throw new UsageError("config check takes at most one file");
      const file = args[0] ?? ctx.configPath;
      let text: string;
      try {
        // The file checked is this command's subject: one it cannot read is not valid (exit 1).
        text = args[0] === undefined ? readClusterConf(file) : readConfigFile(file);
      } catch (err) {
        if (!(err instanceof ConfigFileError)) throw err;
        ctx.err(`cluadmin: ${err.message}`);
        return ADMIN_EXIT.failed;
      }
      const doc = parseDocument(learned(ctx, text));
      const result = validateDocument(doc);
      const exposed = checkExposure(file, doc);
      if (exposed !== undefined) ctx.err(`cluadmin: warning: ${exposed}`);
      const unfenced = result.ok ? noFencingWarning(result.config) : undefined;
      if (unfenced !== undefined) ctx.err(`cluadmin: warning: ${unfenced}`);
      if (ctx.json) {
        ctx.out(JSON.stringify({ file, valid: result.ok, errors: result.ok ? [] : result.errors }));
      } else if (result.ok) {
        const { members, services } = result.config;
        ctx.out(`${file}: valid (${count(members.length, "member")}, ${count(services.length, "service")}).`);
      } else ctx.out(formatErrors(file, result.errors).join("\n"));
      return result.ok ? ADMIN_EXIT.ok : ADMIN_EXIT.failed;
    },
  },
  {
    words: ["cluster", "status"],
    usage: "cluster status",
    help: "members UP/DOWN with incarnations, heartbeat channels and power switches (from the daemon, else the partitions)",
    async run(ctx, args) {
      if (args.length > 0) throw new UsageError("cluster status takes no arguments");
      const status = await clusterStatus(ctx.configPath, ctx.member, ctx.runDir);
      ctx.out(ctx.json ? JSON.stringify(status) : renderStatus(status));
      return ADMIN_EXIT.ok;
    },
  },
  {
    words: ["cluster", "monitor"],
    usage: "cluster monitor [SECONDS [COUNT]]",
    help: "cluster status again every SECONDS (default 2), COUNT times or until interrupted",
    async run(ctx, args) {
      if (args.length > 2) throw new UsageError("cluster monitor takes at most SECONDS and COUNT");
      const every =
        args[0] === undefined ? MONITOR_DEFAULT_S : readArg(args[0], seconds(0.1, 3600), "SECONDS");
      const count =
        args[1] === undefined ? Number.POSITIVE_INFINITY : readArg(args[1], integer(1, 1e9), "COUNT");
      for (let i = 0; i < count; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, every * 1000));
        const status = await clusterStatus(ctx.configPath, ctx.member, ctx.runDir);
        if (ctx.json) ctx.out(JSON.stringify(status));
        else
          ctx.out(
            `${ctx.terminal ? CLEAR_SCREEN : `--- ${new Date().toISOString()}\n`}${renderStatus(status)}\n`,
          );
      }
      return ADMIN_EXIT.ok;
    },
  },
  {
    words: ["cluster", "show", "config"],
    usage: "cluster show config",
    help: "print the configuration (--json: as data, secrets masked)",
    async run(ctx, args) {
      if (args.length > 0) throw new UsageError("cluster show config takes no arguments");
      const text = await currentText(ctx);
      if (!ctx.json) {
        ctx.out(maskConfigText(text, ctx.secrets ?? secretValues(text)).trimEnd());
        return ADMIN_EXIT.ok;
      }
      const result = validateDocument(parseDocument(text));
      ctx.out(
        JSON.stringify(
          result.ok
            ? { valid: true, config: masked(result.config) }
            : { valid: false, errors: result.errors },
        ),
      );
      return result.ok ? ADMIN_EXIT.ok : ADMIN_EXIT.failed;
    },
  },
  {
    words: ["cluster", "name"],
    usage: "cluster name NAME",
    help: "rename the cluster",
    async run(ctx, args) {
      if (args.length !== 1) throw new UsageError("cluster name takes the new name");
      return change(ctx, `cluster name ${args[0]}`, (doc) => setEntry(doc, ["cluster"], "name", args[0]!));
    },
  },
  {
    words: ["cluster", "loglevel"],
    usage: `cluster loglevel {${LOG_LEVELS.join("|")}}`,
    help: "set how much the members log",
    completes: "level",
    async run(ctx, args) {
      if (args.length !== 1) throw new UsageError("cluster loglevel takes a level");
      return change(ctx, `cluster loglevel ${args[0]}`, (doc) =>
        setEntry(doc, ["cluster"], "loglevel", args[0]!),
      );
    },
  },
  {
    words: ["cluster", "saveas"],
    usage: "cluster saveas FILE",
    help: "copy the configuration to FILE",
    completes: "file",
    async run(ctx, args) {
      if (args.length !== 1) throw new UsageError("cluster saveas takes a file");
      // A copy holds switch passwords: root-only, whatever a file of that name allowed before.
      writeFileAtomic(args[0]!, await currentText(ctx), 0o600);
      ctx.out(
        ctx.json ? JSON.stringify({ ok: true, file: args[0] }) : `Saved the configuration to ${args[0]}.`,
      );
      return ADMIN_EXIT.ok;
    },
  },
  {
    words: ["cluster", "restorefrom"],
    usage: "cluster restorefrom FILE",
    help: "make FILE the configuration (checked first)",
    completes: "file",
    async run(ctx, args) {
      if (args.length !== 1) throw new UsageError("cluster restorefrom takes a file");
      const replacement = parseDocument(learned(ctx, readConfigText(args[0]!)));
      return change(ctx, `cluster restorefrom ${args[0]}`, () => replacement);
    },
  },
  {
    words: ["cluster", "backup"],
    usage: "cluster backup",
    help: "keep a copy of the configuration on the quorum partitions",
    async run(ctx, args) {
      if (args.length > 0) throw new UsageError("cluster backup takes no arguments");
      try {
        const r = await backupConfig(changeOptions(ctx));
        ctx.out(
          ctx.json
            ? JSON.stringify({ ok: true, ...r })
            : `Saved configuration view ${r.view} on the quorum partitions (backup ${r.backup}).`,
        );
        return ADMIN_EXIT.ok;
      } catch (err) {
        if (!(err instanceof ChangeRefused)) throw err;
        ctx.err(`cluadmin: cluster backup: ${err.message}`);
        return ADMIN_EXIT.failed;
      }
    },
  },
  {
    words: ["cluster", "restore"],
    usage: "cluster restore",
    help: "make the copy saved by cluster backup the configuration again (checked first)",
    async run(ctx, args) {
      if (args.length > 0) throw new UsageError("cluster restore takes no arguments");
      return applyAndReport(ctx, "cluster restore", () => restoreConfig(changeOptions(ctx)));
    },
  },
  {
    words: ["member", "show"],
    usage: "member show",
    help: "list the members, their power switches and heartbeat channels",
    async run(ctx, args) {
      if (args.length > 0) throw new UsageError("member show takes no arguments");
      const config = await validConfig(ctx);
      if (config === undefined) return ADMIN_EXIT.failed;
      const members = config.members;
      if (ctx.json) ctx.out(JSON.stringify(masked(members)));
      else {
        ctx.out(
          table([
            ["ID", "NAME", "POWER", "OUTLET", "CHANNELS"],
            ...members.map((m) => [
              String(m.id),
              m.name,
              m.power.type,
              // Only a real switch has outlets; for these the block's name stands in.
              m.power.type === "none" || m.power.type === "watchdog" ? "-" : m.power.outlet,
              m.channels
                .map((c) => (c.type === "net" ? `net ${c.address}:${c.port}` : `serial ${c.device}`))
                .join(", ") || "-",
            ]),
          ]),
        );
      }
      return ADMIN_EXIT.ok;
    },
  },
  {
    words: ["service", "show", "config"],
    usage: "service show config [NAME]",
    help: "list the services, or show one with its resources",
    completes: "service",
    async run(ctx, args) {
      if (args.length > 1) throw new UsageError("service show config takes at most one service");
      const config = await validConfig(ctx);
      if (config === undefined) return ADMIN_EXIT.failed;
      const services = config.services.filter((s) => args[0] === undefined || s.name === args[0]);
      if (args[0] !== undefined && services.length === 0) {
        const near = nearest(
          args[0],
          config.services.map((s) => s.name),
        );
        ctx.err(`cluadmin: no service "${args[0]}"${near ? `; did you mean "${near}"?` : ""}`);
        return ADMIN_EXIT.failed;
      }
      if (ctx.json) {
        ctx.out(JSON.stringify(masked(services)));
        return ADMIN_EXIT.ok;
      }
      ctx.out(
        table([
          ["NAME", "PREFERRED", "FAILBACK", "CHECK", "RESTARTS", "DISABLED", "RESOURCES"],
          ...services.map((s) => [
            s.name,
            s.preferredMember ?? "-",
            s.failback ? "yes" : "no",
            `${s.checkInterval} s`,
            `${s.maxRestarts} in ${s.restartWindow} s`,
            s.disabled ? "yes" : "no",
            s.resources
              .map((r) =>
                r.type === "script"
                  ? `script ${r.path}`
                  : r.type === "ocf"
                    ? `ocf ${r.agent}`
                    : r.type === "ip"
                      ? `ip ${r.address}`
                      : `fs ${r.mountPoint}`,
              )
              .join(", ") || "-",
          ]),
        ]),
      );
      return ADMIN_EXIT.ok;
    },
  },
  {
    words: ["service", "show", "state"],
    usage: "service show state [NAME]",
    help: "each service's state, owner, last transition and restarts (from the daemon, else the partitions)",
    completes: "service",
    async run(ctx, args) {
      if (args.length > 1) throw new UsageError("service show state takes at most one service name");
      const status = await clusterStatus(ctx.configPath, ctx.member, ctx.runDir);
      const rows = (status.services ?? []).filter((s) => args[0] === undefined || s.name === args[0]);
      if (args[0] !== undefined && rows.length === 0) {
        const names = (status.services ?? []).map((s) => s.name);
        ctx.err(`cluadmin: no service ${args[0]}${didYouMean(args[0], names)}`);
        return ADMIN_EXIT.failed;
      }
      if (ctx.json) ctx.out(JSON.stringify(rows));
      else
        ctx.out(
          table([
            ["service", "state", "owner", "since", "restarts"],
            ...rows.map((s) => [s.name, s.state, s.owner ?? "-", s.since ?? "-", String(s.restarts)]),
          ]),
        );
      return ADMIN_EXIT.ok;
    },
  },
  controlCommand("enable", "start a disabled service where it is placed"),
  controlCommand("disable", "stop a service and keep it stopped (also clears one that failed to stop)"),
  controlCommand("relocate", "move a running service to MEMBER, or to any other member"),
  controlCommand("restart", "stop and start a service where it runs"),
  {
    words: ["service", "add"],
    usage: "service add NAME [key=value ...] [resourceN.key=value ...]",
    help: "add a service; without key=value it asks for each field",
    async run(ctx, args) {
      const [serviceName, ...rest] = args;
      if (serviceName === undefined) throw new UsageError("service add takes the service's name");
      let { fields, resources } = assignments(rest);
      if (rest.length === 0 && ctx.mayAsk) fields = await askFields(ctx);
      return change(ctx, `service add ${serviceName}`, (doc, disk) => {
        if (serviceBlock(doc, serviceName) !== undefined)
          throw new ChangeRefused(`a service named "${serviceName}" exists already`);
        return addBlock(doc, ["services"], {
          name: freeServiceBlock(doc, disk),
          entries: [["name", serviceName], ...fields],
          blocks: [...resources].map(([name, entries]) => ({ name, entries })),
        });
      });
    },
  },
  {
    words: ["service", "modify"],
    usage: "service modify NAME key=value ... [resourceN.key=value ...]",
    help: "change fields of a service or its resources",
    completes: "service",
    async run(ctx, args) {
      const [serviceName, ...rest] = args;
      if (serviceName === undefined || rest.length === 0)
        throw new UsageError("service modify takes a service and key=value pairs");
      const { fields, resources } = assignments(rest);
      return change(ctx, `service modify ${serviceName}`, (doc) => {
        const block = serviceBlock(doc, serviceName);
        if (block === undefined) throw new ChangeRefused(`there is no service named "${serviceName}"`);
        let next = doc;
        for (const [key, value] of fields) next = setEntry(next, ["services", block.name], key, value);
        for (const [resource, entries] of resources) {
          const exists = block.children.some((c) => c.kind === "block" && c.name === resource);
          if (!exists) next = addBlock(next, ["services", block.name], { name: resource, entries });
          else
            for (const [key, value] of entries)
              next = setEntry(next, ["services", block.name, resource], key, value);
        }
        return next;
      });
    },
  },
  {
    words: ["service", "delete"],
    usage: "service delete NAME",
    help: "remove a service from the configuration (it must be disabled first)",
    completes: "service",
    async run(ctx, args) {
      if (args.length !== 1) throw new UsageError("service delete takes one service");
      return change(ctx, `service delete ${args[0]}`, (doc) => {
        const block = serviceBlock(doc, args[0]!);
        if (block === undefined) throw new ChangeRefused(`there is no service named "${args[0]}"`);
        return removeBlock(doc, ["services", block.name]);
      });
    },
  },
];

/** `service OP NAME`: asks the local daemon, then waits for the outcome. */
function controlCommand(op: AdminOp, help: string): CommandSpec {
  const takesMember = op === "relocate";
  return {
    words: ["service", op],
    usage: `service ${op} NAME${takesMember ? " [MEMBER]" : ""}`,
    help: `${help}; waits up to ${SERVICE_WAIT_MS / 1000} s for it`,
    completes: "service",
    async run(ctx, args) {
      if (args.length < 1 || args.length > (takesMember ? 2 : 1))
        throw new UsageError(`service ${op} takes a service${takesMember ? " and optionally a member" : ""}`);
      const req: ServiceControl = { op, service: args[0] as string };
      if (args[1] !== undefined) req.target = args[1];
      const r = await controlService(join(ctx.runDir, SOCKET_FILE), req);
      if (ctx.json)
        ctx.out(
          JSON.stringify({
            service: req.service,
            op,
            ...(req.target !== undefined ? { target: req.target } : {}),
            ok: r.ok,
            accepted: r.accepted,
            outcome: r.outcome,
            elapsedMs: r.elapsedMs,
            ...(r.row !== undefined ? { state: r.row } : {}),
          }),
        );
      else {
        ctx.out(r.accepted);
        (r.ok ? ctx.out : ctx.err)(`${r.outcome} (${(r.elapsedMs / 1000).toFixed(2)} s)`);
      }
      return r.ok ? ADMIN_EXIT.ok : ADMIN_EXIT.failed;
    },
  };
}

/** The context a command runs in: whatever it prints has every secret it has read masked. */
function guarded(ctx: CommandContext): CommandContext {
  const secrets = new Set(ctx.secrets ?? []);
  return {
    ...ctx,
    secrets,
    out: (text) => ctx.out(redact(text, secrets)),
    err: (text) => ctx.err(redact(text, secrets)),
  };
}

/** Runs one command line; usage errors print one line and return 64. */
export async function runLine(outer: CommandContext, line: string): Promise<number> {
  const ctx = guarded(outer);
  let words: string[];
  try {
    words = tokenize(line);
  } catch (err) {
    ctx.err(`cluadmin: ${(err as Error).message}`);
    return ADMIN_EXIT.usage;
  }
  if (words.length === 0) return ADMIN_EXIT.ok;
  const found = findCommand(words);
  if (!("spec" in found)) {
    ctx.err(
      `cluadmin: unknown command "${words.join(" ")}"${found.suggestion ? `; did you mean "${found.suggestion}"?` : ""} (try help)`,
    );
    return ADMIN_EXIT.usage;
  }
  try {
    return await found.spec.run(ctx, found.args);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.err(`cluadmin: ${err.message}; usage: ${found.spec.usage}`);
      return ADMIN_EXIT.usage;
    }
    if (err instanceof ConfigFileError) {
      ctx.err(`cluadmin: ${err.message}`);
      return ADMIN_EXIT.config;
    }
    // A disk, lock or edit error fails this command only: a script or shell goes on.
    ctx.err(`cluadmin: ${words.join(" ")}: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof DaemonUnreachable ? ADMIN_EXIT.unavailable : ADMIN_EXIT.failed;
  }
}
