// cludiskutil: the quorum partition tool. Parses arguments, calls src/disk, prints the result.
import { Command, CommanderError, Option } from "commander";
import { parseDocument } from "../config/document.js";
import { getEntry } from "../config/edit.js";
import { ConfigFileError, readClusterConf } from "../config/read.js";
import {
  BothCopiesBadError,
  type CopyAccess,
  DiskError,
  DiskIoError,
  DiskTimeoutError,
  errorMessage,
  initialisePair,
  inspectPair,
  PartitionError,
  QuorumPair,
  type RepairReport,
  repairExitCode,
  repairPair,
  testAccess,
  upgradePair,
  uuidString,
  type VerifyReport,
  verifyExitCode,
  verifyPair,
} from "../disk/index.js";
import { isFileOnTmpfs, tmpfsWarning } from "../disk/tmpfs.js";
import {
  formatAccess,
  formatInit,
  formatPrint,
  formatRepair,
  formatUpgrade,
  formatVerify,
} from "./disk-output.js";
import { EXIT } from "./exit-codes.js";
import { type CommandIo, processIo } from "./io.js";
import { jsonRequested, withJsonErrors } from "./json-errors.js";
import { versionLine } from "./version.js";

const USAGE =
  "usage: cludiskutil {-I|-p|-t|--verify|--repair|--upgrade} {-c FILE | --primary PATH --backup PATH} [options]; see cludiskutil(8)";

interface Options {
  initialise?: boolean;
  initialize?: boolean;
  print?: boolean;
  test?: boolean;
  verify?: boolean;
  repair?: boolean;
  upgrade?: boolean;
  config?: string;
  primary?: string;
  backup?: string;
  name?: string;
  members?: string;
  services?: string;
  force?: boolean;
  json?: boolean;
  timeout: string;
}

class UsageError extends Error {}

/** The quorum partitions and cluster name a cluster.conf gives (one that cannot be read is a
 * ConfigFileError: exit 78, as for every command). */
function partitionsOf(file: string): { primary: string; backup: string; name: string | undefined } {
  const doc = parseDocument(readClusterConf(file));
  const primary = getEntry(doc, ["quorum"], "primary");
  const backup = getEntry(doc, ["quorum"], "backup");
  if (primary === undefined || backup === undefined) {
    throw new UsageError(`${file} names no quorum partitions ([quorum] primary and backup)`);
  }
  return { primary, backup, name: getEntry(doc, ["cluster"], "name") };
}

/** Errors opening a path that mean "no such usable path" rather than a failing device. */
const NO_INPUT_CODES = [
  "ENOENT",
  "EACCES",
  "EPERM",
  "ENOTDIR",
  "ENXIO",
  "ENODEV",
  "ENOTBLK",
  "EISDIR",
  "EINVAL",
];

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} needs a whole number, not "${value}"`);
  return Number(value);
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.001 || n > 600) {
    throw new UsageError(`--timeout needs a number of seconds from 0.001 to 600, not "${value}"`);
  }
  return Math.max(1, Math.round(n * 1000));
}

function buildProgram(io: CommandIo): Command {
  return new Command("cludiskutil")
    .description("Initialise, print, test, verify and repair the clumanager quorum partitions.")
    .addOption(new Option("-I, --initialise", "initialise both partitions (erases the cluster state)"))
    .addOption(new Option("--initialize").hideHelp())
    .option("-p, --print", "print the header and every block in use, for both copies")
    .option("-t, --test", "prove both partitions can be read and written with direct I/O")
    .option("--verify", "check every block of both copies (exit 0 clean, 1 repairable, 2 not)")
    .option("--repair", "rewrite every damaged or older copy from the newer one")
    .option("--upgrade", "rewrite partitions of the earlier format in place (the cluster stopped)")
    .option("-c, --config <file>", "take the partitions (and, for -I, the name) from cluster.conf")
    .option("--primary <path>", "the primary quorum partition")
    .option("--backup <path>", "the backup quorum partition")
    .option("--name <name>", "with -I: the cluster name")
    .option("--members <n>", "with -I: the most members the cluster may have (default 16)")
    .option("--services <n>", "with -I: the most services the cluster may have (default 64)")
    .option("--force", "with -I, --repair or --upgrade: overwrite what the partitions hold")
    .option("--json", "print JSON for scripts")
    .option("--timeout <seconds>", "deadline for each disk transfer", "10")
    .version(versionLine("cludiskutil"), "--version", "print the version")
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: () => {},
    })
    .allowExcessArguments(false);
}

export function main(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  return withJsonErrors("cludiskutil", jsonRequested(argv), io, (watched) => parseAndRun(argv, watched));
}

async function parseAndRun(argv: readonly string[], io: CommandIo): Promise<number> {
  const program = buildProgram(io);
  let opts: Options;
  try {
    program.parse([...argv], { from: "user" });
    opts = program.opts<Options>();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.ok;
      io.err(`cludiskutil: ${err.message.replace(/^error: /, "")}; ${USAGE}`);
      return EXIT.usage;
    }
    throw err;
  }
  try {
    return await run(opts, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`cludiskutil: ${err.message}; ${USAGE}`);
      return EXIT.usage;
    }
    return reportFailure(err, io);
  }
}

async function run(opts: Options, io: CommandIo): Promise<number> {
  if (opts.initialize) opts.initialise = true;
  const modes = (["initialise", "print", "test", "verify", "repair", "upgrade"] as const).filter(
    (m) => opts[m],
  );
  if (modes.length !== 1) {
    throw new UsageError(
      modes.length === 0 ? "choose what to do" : `choose one of ${modes.map(flagOf).join(", ")}`,
    );
  }
  const mode = modes[0]!;
  const fromConfig = opts.config !== undefined ? partitionsOf(opts.config) : undefined;
  if (fromConfig !== undefined && (opts.primary !== undefined || opts.backup !== undefined)) {
    throw new UsageError("give -c FILE or --primary and --backup, not both");
  }
  if (fromConfig === undefined && (opts.primary === undefined || opts.backup === undefined)) {
    throw new UsageError("name both partitions with --primary PATH and --backup PATH, or give -c FILE");
  }
  if (mode !== "initialise") {
    for (const flag of ["name", "members", "services"] as const) {
      if (opts[flag] !== undefined) throw new UsageError(`--${flag} only goes with -I`);
    }
    if (opts.force !== undefined && mode !== "repair" && mode !== "upgrade")
      throw new UsageError("--force only goes with -I, --repair or --upgrade");
  }
  const timeoutMs = seconds(opts.timeout);
  const primary = fromConfig?.primary ?? opts.primary!;
  const backup = fromConfig?.backup ?? opts.backup!;
  const json = opts.json === true;
  if (mode === "initialise" || mode === "test")
    for (const path of new Set([primary, backup]))
      if (isFileOnTmpfs(path)) io.err(`cludiskutil: warning: ${tmpfsWarning(path)}`);

  switch (mode) {
    case "initialise": {
      const clusterName = opts.name ?? fromConfig?.name;
      if (clusterName === undefined) throw new UsageError("-I needs the cluster name: --name NAME");
      const result = await initialisePair(primary, backup, {
        clusterName,
        timeoutMs,
        force: opts.force === true,
        ...(opts.members !== undefined ? { maxMembers: positiveInt(opts.members, "--members") } : {}),
        ...(opts.services !== undefined ? { maxServices: positiveInt(opts.services, "--services") } : {}),
      });
      io.out(
        json ? JSON.stringify({ ...result, primary, backup }, null, 2) : formatInit(result, primary, backup),
      );
      return EXIT.ok;
    }
    case "print": {
      const pair = await QuorumPair.open(primary, backup, {
        write: false,
        timeoutMs,
        tolerateOneBadHeader: true,
      });
      try {
        const report = await inspectPair(pair);
        io.out(json ? JSON.stringify(report, null, 2) : formatPrint(report));
        return EXIT.ok;
      } finally {
        pair.close();
      }
    }
    case "test": {
      const results = await testAccess(primary, backup, { timeoutMs });
      io.out(
        json
          ? JSON.stringify({ ok: results.every((r) => r.ok), copies: results }, null, 2)
          : formatAccess(results),
      );
      const missing = results.some(
        (r: CopyAccess) => r.code !== undefined && NO_INPUT_CODES.includes(r.code),
      );
      if (missing) return EXIT.noInput;
      if (results.some((r: CopyAccess) => r.unusable === true)) return EXIT.dataError;
      return results.every((r: CopyAccess) => r.ok) ? EXIT.ok : EXIT.failed;
    }
    case "verify": {
      const pair = await QuorumPair.open(primary, backup, {
        write: false,
        timeoutMs,
        tolerateOneBadHeader: true,
      });
      try {
        const report: VerifyReport = await verifyPair(pair);
        const code = verifyExitCode(report);
        io.out(
          json
            ? JSON.stringify({ exitCode: code, ...report }, null, 2)
            : formatVerify(report, primary, backup),
        );
        return code;
      } finally {
        pair.close();
      }
    }
    case "repair": {
      const pair = await QuorumPair.open(primary, backup, {
        write: true,
        timeoutMs,
        tolerateOneBadHeader: true,
      });
      try {
        const report: RepairReport = await repairPair(pair, { force: opts.force === true });
        const code = repairExitCode(report);
        io.out(
          json
            ? JSON.stringify(
                { exitCode: code, clusterUuid: uuidString(pair.clusterUuid), ...report },
                null,
                2,
              )
            : formatRepair(report),
        );
        return code;
      } finally {
        pair.close();
      }
    }
    case "upgrade": {
      const result = await upgradePair(primary, backup, { timeoutMs, force: opts.force === true });
      io.out(json ? JSON.stringify({ ...result, primary, backup }, null, 2) : formatUpgrade(result));
      return EXIT.ok;
    }
  }
}

function flagOf(mode: string): string {
  return (
    {
      initialise: "-I",
      print: "-p",
      test: "-t",
      verify: "--verify",
      repair: "--repair",
      upgrade: "--upgrade",
    }[mode] ?? mode
  );
}

function reportFailure(err: unknown, io: CommandIo): number {
  io.err(`cludiskutil: ${errorMessage(err)}`);
  if (err instanceof ConfigFileError) return EXIT.config;
  if (err instanceof BothCopiesBadError) return EXIT.unrepairable;
  if (err instanceof PartitionError) {
    if (err.reason === "not-empty") return EXIT.cantCreate;
    if (err.reason === "invalid-option") return EXIT.usage;
    if (err.reason === "in-use") return EXIT.unavailable;
    return EXIT.dataError;
  }
  if (err instanceof DiskIoError && err.operation === "open") {
    return NO_INPUT_CODES.includes(err.code) ? EXIT.noInput : EXIT.ioError;
  }
  if (err instanceof DiskIoError || err instanceof DiskTimeoutError || err instanceof DiskError)
    return EXIT.ioError;
  return EXIT.software;
}
