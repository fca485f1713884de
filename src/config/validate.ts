// Turns a cluster.conf document into a ClusterConfig, or into every error it holds at once, each
// naming the line and the key and saying what would be right.
import { argumentNameProblem } from "../power/agent-input.js";
import {
  type Block,
  type ConfDocument,
  type Entry,
  type Node,
  parseDocument,
  type Section,
  serialise,
} from "./document.js";
import { impossibleSetups } from "./impossible.js";
import {
  type Channel,
  type ClusterConfig,
  DEFAULTS,
  LOG_LEVELS,
  type MemberConfig,
  type MemberPower,
  type QuorumPaths,
  type Resource,
  type ServiceConfig,
} from "./model.js";
import { redact, secretValues } from "./redact.js";
import { isSecretName } from "./secrets.js";
import {
  absolutePath,
  cidr,
  host,
  integer,
  ipv4,
  name,
  nearest,
  oneOf,
  seconds,
  text,
  type ValueType,
  yesNo,
} from "./values.js";

export interface ConfigError {
  line: number;
  key?: string;
  message: string;
}

export interface Limits {
  /** From the quorum partitions' layout, when known. */
  maxMembers?: number;
  maxServices?: number;
}

export type Validated = { ok: true; config: ClusterConfig } | { ok: false; errors: ConfigError[] };

const SECTIONS = ["cluster", "quorum", "members", "services"] as const;

/** Collects the errors; every reader below reports into one. */
class Report {
  readonly errors: ConfigError[] = [];
  add(line: number, message: string, key?: string): void {
    const at = Math.max(1, line);
    this.errors.push(key === undefined ? { line: at, message } : { line: at, key, message });
  }
}

/** The entries and blocks of one section or block, read key by key; what is left over is unknown. */
class Fields {
  private readonly entries = new Map<string, Entry>();
  private readonly used = new Set<string>();
  readonly blocks: Block[] = [];

  constructor(
    private readonly report: Report,
    private readonly where: string,
    private readonly line: number,
    children: readonly Node[],
  ) {
    for (const child of children) {
      if (child.kind === "block") {
        this.blocks.push(child);
        continue;
      }
      const earlier = this.entries.get(child.key);
      if (earlier !== undefined) {
        report.add(
          child.line,
          `"${child.key}" is set twice in ${where} (first on line ${earlier.line})`,
          child.key,
        );
        continue;
      }
      this.entries.set(child.key, child);
    }
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  raw(key: string): Entry | undefined {
    this.used.add(key);
    return this.entries.get(key);
  }

  get<T>(key: string, type: ValueType<T>): T | undefined {
    const entry = this.raw(key);
    if (entry === undefined) return undefined;
    const read = type.read(entry.value);
    if (read.ok) return read.value;
    // The value itself is not quoted: a secret typed under the wrong key would be printed.
    this.report.add(entry.line, `${key} in ${this.where} must be ${read.expected}`, key);
    return undefined;
  }

  required<T>(key: string, type: ValueType<T>): T | undefined {
    if (!this.entries.has(key)) {
      this.report.add(this.line, `${this.where} needs "${key} = ..." (${type.describe})`, key);
      return undefined;
    }
    return this.get(key, type);
  }

  /** Entries named PREFIX.NAME, e.g. arg.ip or param.state. */
  prefixed(prefix: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix) || key.length === prefix.length) continue;
      this.used.add(key);
      out[key.slice(prefix.length)] = entry.value;
    }
    return out;
  }

  /** When the type of a block is wrong, which keys belong cannot be known: report only the type. */
  ignoreRest(): void {
    for (const key of this.entries.keys()) this.used.add(key);
  }

  /** Reports every entry no reader asked for, with the nearest known key. */
  finish(known: readonly string[], prefixes: readonly string[] = []): void {
    for (const [key, entry] of this.entries) {
      if (this.used.has(key)) continue;
      const near = nearest(key, known);
      const hint =
        near !== undefined
          ? `; did you mean "${near}"?`
          : `; known here: ${[...known, ...prefixes.map((p) => `${p}NAME`)].join(", ")}`;
      this.report.add(entry.line, `unknown key "${key}" in ${this.where}${hint}`, key);
    }
  }
}

/** memberN, chanN, serviceN, resourceN: the N, or an error. */
function numbered(report: Report, block: Block, stem: string, max: number): number | undefined {
  const m = new RegExp(`^${stem}(\\d+)$`).exec(block.name);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!(n >= 0 && n < max)) {
    report.add(block.line, `"start ${block.name}" should be "start ${stem}N" with N from 0 to ${max - 1}`);
    return undefined;
  }
  return n;
}

export function validateText(textOfFile: string, limits: Limits = {}): Validated {
  return validateDocument(parseDocument(textOfFile), limits);
}

export function validateDocument(doc: ConfDocument, limits: Limits = {}): Validated {
  const report = new Report();
  for (const p of doc.problems) report.add(p.line, p.message);
  const sections = new Map<string, Section>();
  for (const s of doc.sections) {
    if (!(SECTIONS as readonly string[]).includes(s.name)) {
      const near = nearest(s.name, SECTIONS);
      report.add(
        s.line,
        `unknown section [${s.name}]${near ? `; did you mean [${near}]?` : `; the sections are ${SECTIONS.map((n) => `[${n}]`).join(", ")}`}`,
      );
      continue;
    }
    const earlier = sections.get(s.name);
    if (earlier) report.add(s.line, `[${s.name}] appears twice (first on line ${earlier.line}); keep one`);
    else sections.set(s.name, s);
  }
  // A missing section is reported once, above; line 0 tells the readers so.
  const empty = (n: string): Section => ({ name: n, line: 0, children: [] });
  for (const required of ["cluster", "quorum", "members"] as const) {
    if (!sections.has(required)) report.add(1, `the file has no [${required}] section`);
  }

  const cluster = readCluster(report, sections.get("cluster") ?? empty("cluster"));
  const quorum = readQuorum(report, sections.get("quorum") ?? empty("quorum"), "[quorum]");
  const { members, names } = readMembers(
    report,
    sections.get("members") ?? empty("members"),
    limits,
    cluster,
  );
  const services = readServices(report, sections.get("services") ?? empty("services"), limits, names);

  for (const e of impossibleSetups(doc)) report.add(e.line, e.message, e.key);

  if (report.errors.length > 0 || cluster === undefined || quorum === undefined) {
    const secrets = secretValues(serialise(doc));
    const errors = report.errors.map((e) => ({ ...e, message: redact(e.message, secrets) }));
    return { ok: false, errors: errors.sort((a, b) => a.line - b.line) };
  }
  return { ok: true, config: { cluster, quorum, members, services } };
}

function readCluster(report: Report, s: Section): ClusterConfig["cluster"] | undefined {
  const f = new Fields(report, "[cluster]", s.line, s.children);
  for (const b of f.blocks) report.add(b.line, `[cluster] holds no blocks ("start ${b.name}")`);
  const clusterName = f.required("name", name);
  const heartbeatInterval = f.get("heartbeat_interval", seconds(0.05, 60)) ?? DEFAULTS.heartbeatInterval;
  const tko = f.get("tko", integer(2, 1000)) ?? DEFAULTS.tko;
  const tkoNetup = f.get("tko_netup", integer(2, 10000)) ?? DEFAULTS.tkoNetup;
  const ioTimeout = f.get("io_timeout", seconds(0.01, 600)) ?? DEFAULTS.ioTimeout;
  const keyFile = f.get("key_file", absolutePath) ?? DEFAULTS.keyFile;
  const fenceDelay = f.get("fence_delay", seconds(0, 600)) ?? DEFAULTS.fenceDelay;
  const loglevel = f.get("loglevel", oneOf(...LOG_LEVELS)) ?? DEFAULTS.loglevel;
  const syslogFacility =
    f.get(
      "syslog_facility",
      oneOf("local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", "daemon"),
    ) ?? DEFAULTS.syslogFacility;
  f.finish([
    "name",
    "heartbeat_interval",
    "tko",
    "tko_netup",
    "io_timeout",
    "key_file",
    "fence_delay",
    "loglevel",
    "syslog_facility",
  ]);

  // Timing that cannot work: a write allowed to take as long as the whole hang window would let
  // a member be declared hung while its own write is still within its deadline.
  const at = (key: string) => f.raw(key)?.line ?? s.line;
  // A small tolerance: 0.1 x 3 is 0.30000000000000004 in floating point, and must still equal 0.3.
  if (ioTimeout >= heartbeatInterval * tko - 1e-9) {
    report.add(
      at("io_timeout"),
      `io_timeout (${ioTimeout} s) must be shorter than heartbeat_interval x tko (${heartbeatInterval} s x ${tko} = ${round(heartbeatInterval * tko)} s)`,
      "io_timeout",
    );
  }
  if (tkoNetup < tko) {
    report.add(
      at("tko_netup"),
      `tko_netup (${tkoNetup}) must not be smaller than tko (${tko}): it is the longer patience`,
      "tko_netup",
    );
  }
  if (clusterName === undefined) return undefined;
  return {
    name: clusterName,
    heartbeatInterval,
    tko,
    tkoNetup,
    ioTimeout,
    keyFile,
    fenceDelay,
    loglevel,
    syslogFacility,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function readQuorum(
  report: Report,
  s: { line: number; children: Node[] },
  where: string,
): QuorumPaths | undefined {
  const f = new Fields(report, where, s.line, s.children);
  for (const b of f.blocks) report.add(b.line, `${where} holds no blocks ("start ${b.name}")`);
  const primary = f.required("primary", absolutePath);
  const backup = f.required("backup", absolutePath);
  f.finish(["primary", "backup"]);
  if (primary !== undefined && backup !== undefined && primary === backup) {
    report.add(
      f.raw("backup")?.line ?? s.line,
      `the primary and the backup quorum partition are both ${primary}; they must be two partitions`,
      "backup",
    );
  }
  return primary !== undefined && backup !== undefined ? { primary, backup } : undefined;
}

export const MAX_MEMBER_BLOCKS = 128;
const MAX_SERVICE_BLOCKS = 1024;

/** The members, and every member name the file gives (even of a member with other errors, so
 * that one mistake does not make every service that prefers that member look wrong too). */
/** What a member's power block is checked against: the cluster's timing, when it is known. */
type Timing = Pick<ClusterConfig["cluster"], "heartbeatInterval" | "ioTimeout"> | undefined;

/** The line of a block's "name = ..." (a repeated name is reported there), else its start line. */
function nameLine(block: Block): number {
  const given = block.children.find((c) => c.kind === "entry" && c.key === "name");
  return given?.line ?? block.line;
}

function readMembers(
  report: Report,
  s: Section,
  limits: Limits,
  timing: Timing,
): { members: MemberConfig[]; names: string[] } {
  const f = new Fields(report, "[members]", s.line, s.children);
  f.finish([]);
  const members: MemberConfig[] = [];
  const ids = new Map<number, number>();
  const names = new Map<string, number>();
  const max = limits.maxMembers ?? MAX_MEMBER_BLOCKS;
  for (const block of f.blocks) {
    const id = numbered(report, block, "member", MAX_MEMBER_BLOCKS);
    if (id === undefined) continue;
    if (id >= max) {
      report.add(
        block.line,
        `member${id} does not fit the quorum partitions, which hold members 0 to ${max - 1}; re-initialise them with more members`,
      );
    }
    if (ids.has(id)) report.add(block.line, `member${id} is defined twice (first on line ${ids.get(id)})`);
    ids.set(id, block.line);
    const member = readMember(report, block, id, timing);
    const at = nameLine(block);
    if (member === undefined) {
      const given = block.children.find((c) => c.kind === "entry" && c.key === "name");
      if (given?.kind === "entry" && name.read(given.value).ok) names.set(given.value, at);
      continue;
    }
    // Member names are host names, which ignore case.
    const same = [...names.keys()].find((k) => k.toLowerCase() === member.name.toLowerCase());
    if (same !== undefined) {
      report.add(
        at,
        `two members are named "${member.name}" (the other, "${same}", on line ${names.get(same)})`,
        "name",
      );
    }
    names.set(member.name, at);
    members.push(member);
  }
  if (members.length > max)
    report.add(s.line, `${members.length} members are defined, but the quorum partitions hold ${max}`);
  // A missing section (line 0) was reported already; an empty one is reported here.
  if (f.blocks.length === 0 && s.line > 0) {
    report.add(s.line, "[members] defines no member; add start member0 ... end member0");
  }
  return { members, names: [...names.keys()] };
}

function readMember(report: Report, block: Block, id: number, timing: Timing): MemberConfig | undefined {
  const where = `member${id}`;
  const f = new Fields(report, where, block.line, block.children);
  const memberName = f.required("name", name);
  let quorum: QuorumPaths | undefined;
  // A member may reach the shared disk by other names: both paths, or neither.
  const ownPrimary = f.get("primary", absolutePath);
  const ownBackup = f.get("backup", absolutePath);
  if (f.has("primary") !== f.has("backup")) {
    report.add(
      block.line,
      `${where} gives only one of primary and backup; give both, or neither to use [quorum]`,
    );
  } else if (ownPrimary !== undefined && ownBackup !== undefined) {
    if (ownPrimary === ownBackup)
      report.add(f.raw("backup")!.line, `${where}'s primary and backup are both ${ownPrimary}`, "backup");
    else quorum = { primary: ownPrimary, backup: ownBackup };
  }
  f.finish(["name", "primary", "backup"]);
  const channels: Channel[] = [];
  const chans = new Map<number, number>();
  let power: MemberPower | undefined;
  for (const b of f.blocks) {
    if (b.name === "power") {
      if (power !== undefined) report.add(b.line, `${where} has two power blocks`);
      else power = readPower(report, b, where, timing);
      continue;
    }
    const n = numbered(report, b, "chan", 16);
    if (n === undefined) continue;
    if (chans.has(n)) {
      report.add(b.line, `chan${n} of ${where} is defined twice (first on line ${chans.get(n)})`);
      continue;
    }
    chans.set(n, b.line);
    const channel = readChannel(report, b, `${where} chan${n}`);
    if (channel !== undefined) channels.push(channel);
  }
  if (power === undefined && !f.blocks.some((b) => b.name === "power")) {
    report.add(
      block.line,
      `${where} has no power block; fencing needs one (type = none is allowed, but unsafe)`,
    );
  }
  if (memberName === undefined || power === undefined) return undefined;
  return { id, name: memberName, channels, power, ...(quorum !== undefined ? { quorum } : {}) };
}

function readChannel(report: Report, b: Block, where: string): Channel | undefined {
  const f = new Fields(report, where, b.line, b.children);
  const type = f.required("type", oneOf("net", "serial"));
  if (type === "net") {
    const address = f.required("address", ipv4);
    const port = f.get("port", integer(1, 65535)) ?? DEFAULTS.netPort;
    f.finish(["type", "address", "port"]);
    return address !== undefined ? { type, address, port } : undefined;
  }
  if (type === "serial") {
    const device = f.required("device", absolutePath);
    f.finish(["type", "device"]);
    return device !== undefined ? { type, device } : undefined;
  }
  f.ignoreRest();
  return undefined;
}

const POWER_TYPES = ["rps10", "wti_nps", "apc_snmp", "fence_agent", "watchdog", "none"] as const;

function readPower(report: Report, b: Block, member: string, timing: Timing): MemberPower | undefined {
  const where = `the power block of ${member}`;
  const f = new Fields(report, where, b.line, b.children);
  const type = f.required("type", oneOf(...POWER_TYPES));
  const outletType: ValueType<string> =
    type === "rps10"
      ? {
          describe: "a module address from 0 to 9",
          read: (t) =>
            /^[0-9]$/.test(t)
              ? { ok: true, value: t }
              : { ok: false, expected: "a module address from 0 to 9" },
        }
      : text;
  const outlet =
    type === "watchdog" || type === "none"
      ? (f.get("outlet", text) ?? member)
      : f.required("outlet", outletType);
  // Only the network switches have a port; for the others "port" is an unknown key.
  const portOf = () => {
    const port = f.get("port", integer(1, 65535));
    return port !== undefined ? { port } : {};
  };
  let power: MemberPower | undefined;
  switch (type) {
    case "rps10": {
      const device = f.required("device", absolutePath);
      f.finish(["type", "outlet", "device"]);
      if (device !== undefined && outlet !== undefined) power = { type, device, outlet: String(outlet) };
      break;
    }
    case "wti_nps": {
      const h = f.required("host", host);
      const username = f.get("username", text);
      const password = f.get("password", text);
      const passwordFile = secretFile(report, f, "password", where);
      const port = portOf();
      f.finish(["type", "outlet", "host", "port", "username", "password", "password_file"]);
      if (h !== undefined && outlet !== undefined) {
        power = {
          type,
          host: h,
          ...port,
          ...(username ? { username } : {}),
          ...(password ? { password } : {}),
          ...(passwordFile !== undefined ? { passwordFile } : {}),
          outlet: String(outlet),
        };
      }
      break;
    }
    case "apc_snmp": {
      const h = f.required("host", host);
      const community = f.get("community", text);
      const communityFile = secretFile(report, f, "community", where);
      const version = f.get("version", oneOf("1", "2c"));
      const port = portOf();
      f.finish(["type", "outlet", "host", "port", "community", "community_file", "version"]);
      if (h !== undefined && outlet !== undefined) {
        power = {
          type,
          host: h,
          ...port,
          ...(community ? { community } : {}),
          ...(communityFile !== undefined ? { communityFile } : {}),
          ...(version ? { version } : {}),
          outlet: String(outlet),
        };
      }
      break;
    }
    case "fence_agent": {
      const agent = f.required("agent", text);
      const timeout = f.get("timeout", seconds(1, 3600));
      const { args, argFiles } = agentArguments(report, f, where);
      f.finish(["type", "outlet", "agent", "timeout"], ["arg."]);
      if (agent !== undefined && outlet !== undefined) {
        power = {
          type,
          agent,
          args,
          ...(Object.keys(argFiles).length > 0 ? { argFiles } : {}),
          ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
          outlet: String(outlet),
        };
      }
      break;
    }
    case "watchdog": {
      // Whole seconds: the device takes its timeout (WDIOC_SETTIMEOUT) as an integer.
      const timeout = f.required("timeout", integer(1, 3600));
      const device = f.get("device", absolutePath) ?? DEFAULTS.watchdogDevice;
      f.finish(["type", "outlet", "timeout", "device"]);
      // A healthy member feeds its watchdog after each heartbeat's write, which may take io_timeout:
      // feeds can be heartbeat_interval + io_timeout apart, and the watchdog must outlast that.
      // (No upper bound: peers count it off twice the timeout after its last sign of life, so a
      // longer timeout only makes its failover slower.)
      if (timeout !== undefined && timing !== undefined) {
        const gap = timing.heartbeatInterval + timing.ioTimeout;
        if (timeout <= gap + 1e-9)
          report.add(
            f.raw("timeout")?.line ?? b.line,
            `timeout of ${where} (${timeout} s) must be longer than heartbeat_interval + io_timeout (${timing.heartbeatInterval} s + ${timing.ioTimeout} s = ${round(gap)} s), or the watchdog resets a healthy member between two heartbeats`,
            "timeout",
          );
      }
      if (timeout !== undefined)
        power = { type, timeoutSeconds: timeout, watchdogDevice: device, outlet: String(outlet) };
      break;
    }
    case "none":
      f.finish(["type", "outlet"]);
      power = { type, outlet: String(outlet) };
      break;
    default:
      f.ignoreRest();
  }
  for (const nested of f.blocks) report.add(nested.line, `${where} holds no blocks ("start ${nested.name}")`);
  return power;
}

/** KEY_file, the path of a file holding the secret KEY; an error when KEY is given inline too. */
function secretFile(report: Report, f: Fields, key: string, where: string): string | undefined {
  const file = f.get(`${key}_file`, absolutePath);
  const inline = f.raw(key);
  const entry = f.raw(`${key}_file`);
  if (inline !== undefined && entry !== undefined) {
    const [first, second] = inline.line < entry.line ? [inline, entry] : [entry, inline];
    report.add(
      second.line,
      `${where} gives ${first.key} (line ${first.line}) and ${second.key}; keep only ${key}_file, so the disk holds a path and not the secret`,
      second.key,
    );
  }
  return file;
}

/**
 * The arg.NAME entries of a fence_agent block. arg.NAME_file, when NAME is a secret's name, names
 * a file whose first line is the value (arg.password_file); other names ending in _file
 * (fence_dummy's status_file, identity_file) are ordinary arguments. The names the driver sends
 * itself (action, plug, port, nodename) are refused: an agent keeps the last value it is given.
 */
function agentArguments(
  report: Report,
  f: Fields,
  where: string,
): { args: Record<string, string>; argFiles: Record<string, string> } {
  const args: Record<string, string> = {};
  const argFiles: Record<string, string> = {};
  for (const [name, value] of Object.entries(f.prefixed("arg."))) {
    const entry = f.raw(`arg.${name}`)!;
    const problem = argumentNameProblem(name);
    if (problem !== undefined) {
      report.add(entry.line, `arg.${name} in ${where}: ${problem}`, entry.key);
      continue;
    }
    const stem = /^(.+)[_-]file$/.exec(name)?.[1];
    if (stem === undefined || !isSecretName(stem)) {
      args[name] = value;
      continue;
    }
    const path = absolutePath.read(value);
    if (!path.ok) {
      report.add(entry.line, `${entry.key} in ${where} must be ${path.expected}, not "${value}"`, entry.key);
      continue;
    }
    argFiles[stem] = path.value;
  }
  for (const stem of Object.keys(argFiles)) {
    const inline = f.raw(`arg.${stem}`);
    if (inline === undefined) continue;
    const file = [`arg.${stem}_file`, `arg.${stem}-file`].map((k) => f.raw(k)).find((e) => e !== undefined)!;
    const [first, second] = inline.line < file.line ? [inline, file] : [file, inline];
    report.add(
      second.line,
      `${where} gives ${first.key} (line ${first.line}) and ${second.key}; keep only ${file.key}, so the disk holds a path and not the secret`,
      second.key,
    );
    delete args[stem];
  }
  return { args, argFiles };
}

function readServices(report: Report, s: Section, limits: Limits, memberNames: string[]): ServiceConfig[] {
  const f = new Fields(report, "[services]", s.line, s.children);
  f.finish([]);
  const services: ServiceConfig[] = [];
  const ids = new Map<number, number>();
  const names = new Map<string, number>();
  const max = limits.maxServices ?? MAX_SERVICE_BLOCKS;
  for (const block of f.blocks) {
    const id = numbered(report, block, "service", MAX_SERVICE_BLOCKS);
    if (id === undefined) continue;
    if (id >= max) {
      report.add(
        block.line,
        `service${id} does not fit the quorum partitions, which hold services 0 to ${max - 1}; re-initialise them with more services`,
      );
    }
    if (ids.has(id)) report.add(block.line, `service${id} is defined twice (first on line ${ids.get(id)})`);
    ids.set(id, block.line);
    const service = readService(report, block, id, memberNames);
    if (service === undefined) continue;
    const at = nameLine(block);
    if (names.has(service.name))
      report.add(
        at,
        `two services are named "${service.name}" (the other on line ${names.get(service.name)})`,
        "name",
      );
    names.set(service.name, at);
    services.push(service);
  }
  if (services.length > max)
    report.add(s.line, `${services.length} services are defined, but the quorum partitions hold ${max}`);
  return services;
}

function readService(
  report: Report,
  block: Block,
  id: number,
  memberNames: string[],
): ServiceConfig | undefined {
  const where = `service${id}`;
  const f = new Fields(report, where, block.line, block.children);
  const serviceName = f.required("name", name);
  const preferred = f.get("preferred_member", name);
  if (preferred !== undefined && !memberNames.includes(preferred)) {
    const near = nearest(preferred, memberNames);
    report.add(
      f.raw("preferred_member")!.line,
      `preferred_member "${preferred}" of ${where} is not a member${near ? `; did you mean "${near}"?` : memberNames.length > 0 ? `; the members are ${memberNames.join(", ")}` : ""}`,
      "preferred_member",
    );
  }
  const failback = f.get("failback", yesNo) ?? false;
  const checkInterval = f.get("check_interval", seconds(1, 3600)) ?? DEFAULTS.checkInterval;
  const maxRestarts = f.get("max_restarts", integer(0, 1000)) ?? DEFAULTS.maxRestarts;
  const restartWindow = f.get("restart_window", seconds(1, 86400)) ?? DEFAULTS.restartWindow;
  const disabled = f.get("disabled", yesNo) ?? false;
  f.finish([
    "name",
    "preferred_member",
    "failback",
    "check_interval",
    "max_restarts",
    "restart_window",
    "disabled",
  ]);
  const resources: Resource[] = [];
  const seen = new Map<number, number>();
  for (const b of f.blocks) {
    const n = numbered(report, b, "resource", 256);
    if (n === undefined) continue;
    if (seen.has(n))
      report.add(b.line, `resource${n} of ${where} is defined twice (first on line ${seen.get(n)})`);
    seen.set(n, b.line);
    const r = readResource(report, b, `${where} resource${n}`);
    if (r !== undefined) resources.push(r);
  }
  if (serviceName === undefined) return undefined;
  return {
    id,
    name: serviceName,
    ...(preferred !== undefined ? { preferredMember: preferred } : {}),
    failback,
    checkInterval,
    maxRestarts,
    restartWindow,
    disabled,
    resources,
  };
}

function readResource(report: Report, b: Block, where: string): Resource | undefined {
  const f = new Fields(report, where, b.line, b.children);
  for (const nested of f.blocks) report.add(nested.line, `${where} holds no blocks ("start ${nested.name}")`);
  const type = f.required("type", oneOf("script", "ocf", "ip", "fs"));
  switch (type) {
    case "script": {
      const path = f.required("path", absolutePath);
      f.finish(["type", "path"]);
      return path !== undefined ? { type, path } : undefined;
    }
    case "ocf": {
      const agent = f.required("agent", {
        describe: "provider:type, such as heartbeat:Dummy",
        read: (t) =>
          /^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$/.test(t)
            ? { ok: true, value: t }
            : { ok: false, expected: "provider:type, such as heartbeat:Dummy" },
      });
      const params = f.prefixed("param.");
      f.finish(["type", "agent"], ["param."]);
      return agent !== undefined ? { type, agent, params } : undefined;
    }
    case "ip": {
      const address = f.required("address", cidr);
      const iface = f.get("interface", name);
      f.finish(["type", "address", "interface"]);
      return address !== undefined
        ? { type, address, ...(iface !== undefined ? { interface: iface } : {}) }
        : undefined;
    }
    case "fs": {
      const device = f.required("device", absolutePath);
      const mountPoint = f.required("mount_point", absolutePath);
      const fstype = f.required("fstype", name);
      const options = f.get("options", text);
      const forceUnmount = f.get("force_unmount", yesNo) ?? false;
      const fsck = f.get("fsck", yesNo) ?? true;
      f.finish(["type", "device", "mount_point", "fstype", "options", "force_unmount", "fsck"]);
      if (device === undefined || mountPoint === undefined || fstype === undefined) return undefined;
      return {
        type,
        device,
        mountPoint,
        fstype,
        ...(options !== undefined ? { options } : {}),
        forceUnmount,
        fsck,
      };
    }
    default:
      f.ignoreRest();
      return undefined;
  }
}

/** "FILE:LINE: message", the form an editor or grep understands. */
export function formatErrors(file: string, errors: readonly ConfigError[]): string[] {
  return errors.map((e) => `${file}:${e.line}: ${e.message}`);
}
