// cluadmin: the administration shell. One command after "--", a script on standard input, or an
// interactive shell with a prompt, tab completion and a history file.
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { Command, CommanderError } from "commander";
import {
  ADMIN_EXIT,
  COMMANDS,
  type CommandContext,
  memberNames,
  runLine,
  serviceNames,
  tokenize,
} from "../admin/commands.js";
import { parseDocument } from "../config/document.js";
import { LOG_LEVELS } from "../config/model.js";
import { readConfigFile } from "../config/read.js";
import { DEFAULT_RUN_DIR } from "../daemon/paths.js";
import { EXIT } from "./exit-codes.js";
import { type CommandIo, processIo } from "./io.js";
import { jsonRequested, withJsonErrors } from "./json-errors.js";
import { versionLine } from "./version.js";

export const DEFAULT_CONFIG = "/etc/cluster.conf";
export const PROMPT = "cluadmin> ";
const HISTORY_LINES = 1000;
/** Lines that leave the shell or end a script early (cluadmin(8)). */
const LEAVE = new Set(["exit", "quit"]);
const USAGE =
  "usage: cluadmin [-c FILE] [-m MEMBER] [--run-dir DIR] [--json] [-n] [-- COMMAND ...]; see cluadmin(8)";

interface Options {
  config: string;
  member?: string;
  runDir: string;
  json?: boolean;
  noPrompt?: boolean;
}

export interface ShellStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

export function main(
  argv: readonly string[],
  io: CommandIo = processIo,
  streams: ShellStreams = { input: process.stdin, output: process.stdout },
): Promise<number> {
  return withJsonErrors("cluadmin", jsonRequested(argv), io, (watched) =>
    parseAndRun(argv, watched, streams),
  );
}

async function parseAndRun(argv: readonly string[], io: CommandIo, streams: ShellStreams): Promise<number> {
  const program = new Command("cluadmin")
    .description("Administer a clumanager cluster: its configuration, members and services.")
    .option("-c, --config <file>", "the cluster configuration", process.env.CLUSTER_CONF ?? DEFAULT_CONFIG)
    .option("-m, --member <name>", "the member this host is (default: the member named like the host)")
    .option("--run-dir <dir>", "where the local daemon's admin socket is", DEFAULT_RUN_DIR)
    .option("--json", "print JSON for scripts")
    .option("-n, --no-prompt", "never ask questions (answers are the defaults)")
    .argument("[command...]", "a command to run once, after --")
    .version(versionLine("cluadmin"), "--version", "print the version")
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: () => {} });
  let opts: Options;
  let words: string[];
  try {
    program.parse([...argv], { from: "user" });
    opts = program.opts<Options>();
    words = program.args;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed") {
        io.out(`\nCommands:\n${COMMANDS.map((c) => `  ${c.usage}`).join("\n")}`);
        return EXIT.ok;
      }
      if (err.code === "commander.version") return EXIT.ok;
      io.err(`cluadmin: ${err.message.replace(/^error: /, "")}; ${USAGE}`);
      return ADMIN_EXIT.usage;
    }
    throw err;
  }
  // commander's --no-prompt sets prompt=false.
  const mayAsk = (opts as { prompt?: boolean }).prompt !== false && streams.input.isTTY === true;
  let rl: Interface | undefined;
  const ctx: CommandContext = {
    configPath: opts.config,
    ...(opts.member !== undefined ? { member: opts.member } : {}),
    runDir: opts.runDir,
    json: opts.json === true,
    terminal: (streams.output as { isTTY?: boolean }).isTTY === true,
    mayAsk,
    ask: (question) => new Promise((resolve) => (rl ? rl.question(question, resolve) : resolve(""))),
    out: io.out,
    err: io.err,
  };
  if (words.length > 0) return runLine(ctx, words.map(quote).join(" "));
  if (streams.input.isTTY !== true) return runScript(ctx, streams.input);
  rl = createShell(ctx, streams);
  return runShell(ctx, rl);
}

/** Re-quotes a word given on the command line, so runLine splits it back the same. */
function quote(word: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** One line of a script or the shell: with --json, its own error object when it fails. */
function runEach(ctx: CommandContext, text: string): Promise<number> {
  return withJsonErrors("cluadmin", ctx.json, ctx, (io) =>
    runLine({ ...ctx, out: io.out, err: io.err }, text),
  );
}

/** Runs every line of a non-terminal standard input, up to exit or quit; exits with the first
 * failure's status. */
async function runScript(ctx: CommandContext, input: NodeJS.ReadableStream): Promise<number> {
  const lines = createInterface({ input, terminal: false });
  let status: number = ADMIN_EXIT.ok;
  for await (const line of lines) {
    const text = line.trim();
    if (text === "" || text.startsWith("#")) continue;
    if (LEAVE.has(text)) {
      // Whatever still comes down the pipe is not ours to wait for.
      (input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      break;
    }
    const code = await runEach(ctx, text);
    if (status === ADMIN_EXIT.ok) status = code;
  }
  return status;
}

function historyFile(): string {
  return process.env.CLUADMIN_HISTORY ?? join(homedir(), ".cluadmin_history");
}

/** Completes command words, then service names, member names or log levels, as the command takes. */
export function complete(line: string, configPath: string): [string[], string] {
  let words: string[];
  try {
    words = tokenize(line);
  } catch {
    return [[], line];
  }
  const endsWithSpace = /\s$/.test(line);
  const current = endsWithSpace ? "" : (words.pop() ?? "");
  const done = words;
  const commandWords = COMMANDS.map((c) => c.words);
  const next = new Set<string>();
  for (const spec of COMMANDS) {
    const prefixMatches = done.every((w, i) => spec.words[i] === w);
    if (prefixMatches && done.length < spec.words.length) next.add(spec.words[done.length]!);
    if (
      done.length >= spec.words.length &&
      spec.words.every((w, i) => done[i] === w) &&
      spec.completes !== undefined
    ) {
      for (const value of argumentValues(spec.completes, configPath, commandWords)) next.add(value);
    }
  }
  // A service's preferred member is completed inside its key=value argument.
  const preferred = /^preferred_member=/.exec(current);
  if (preferred && done[0] === "service" && (done[1] === "add" || done[1] === "modify")) {
    for (const m of argumentValues("member", configPath, commandWords)) next.add(`preferred_member=${m}`);
  }
  const hits = [...next].filter((w) => w.startsWith(current)).sort();
  return [hits.map((h) => (hits.length === 1 ? `${h} ` : h)), current];
}

function argumentValues(
  kind: string,
  configPath: string,
  commandWords: readonly (readonly string[])[],
): string[] {
  if (kind === "level") return [...LOG_LEVELS];
  if (kind === "command") return [...new Set(commandWords.map((w) => w[0]!))];
  if (kind !== "service" && kind !== "member") return [];
  try {
    const doc = parseDocument(readConfigFile(configPath));
    return kind === "service" ? serviceNames(doc) : memberNames(doc);
  } catch {
    return [];
  }
}

function createShell(ctx: CommandContext, streams: ShellStreams): Interface {
  let history: string[] = [];
  try {
    history = readFileSync(historyFile(), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .reverse()
      .slice(0, HISTORY_LINES);
  } catch {
    // no history yet
  }
  return createInterface({
    input: streams.input,
    output: streams.output,
    terminal: true,
    prompt: PROMPT,
    history,
    historySize: HISTORY_LINES,
    completer: (line: string) => complete(line, ctx.configPath),
  });
}

async function runShell(ctx: CommandContext, rl: Interface): Promise<number> {
  let last: number = ADMIN_EXIT.ok;
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (LEAVE.has(text)) break;
    if (text !== "") last = await runEach(ctx, text);
    rl.prompt();
  }
  const kept = (rl as Interface & { history?: string[] }).history ?? [];
  try {
    writeFileSync(historyFile(), `${[...kept].reverse().join("\n")}\n`, { mode: 0o600 });
  } catch {
    // a history that cannot be kept is no reason to fail
  }
  rl.close();
  return last;
}
