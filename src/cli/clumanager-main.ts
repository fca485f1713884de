// clumanager: the member daemon (`daemon --foreground`) and its init-service front
// (`start|stop|restart|status|reload|condrestart`). Parses arguments and calls src/daemon.
import { Command, CommanderError } from "commander";
import { LOG_LEVELS, type LogLevel } from "../config/model.js";
import { DEFAULT_RUN_DIR } from "../daemon/paths.js";
import { DAEMON_EXIT, runDaemon } from "../daemon/run.js";
import { LSB, reload, type ServiceOptions, start, statusCode, stop } from "../daemon/service.js";
import { type CommandIo, processIo } from "./io.js";
import { versionLine } from "./version.js";

export const DEFAULT_CONFIG = "/etc/cluster.conf";
export const DEFAULT_LOG_FILE = "/var/log/clumanager.log";
const ACTIONS = ["daemon", "start", "stop", "restart", "status", "reload", "condrestart"] as const;
type Action = (typeof ACTIONS)[number];
const USAGE =
  "usage: clumanager {start|stop|restart|status|reload|condrestart} [-c FILE] [--member NAME] [--run-dir DIR]\n" +
  "       clumanager daemon --foreground [-c FILE] [--member NAME] [--run-dir DIR] [--lab]; see clumanager(8)";

interface Options {
  config: string;
  member?: string;
  runDir: string;
  lab?: boolean;
  foreground?: boolean;
  logFile: string;
  loglevel?: string;
}

export async function main(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const program = new Command("clumanager")
    .description("Run a clumanager cluster member, or control it as an init service.")
    .argument("<action>", ACTIONS.join("|"))
    .option("-c, --config <file>", "the cluster configuration", process.env.CLUSTER_CONF ?? DEFAULT_CONFIG)
    .option("--member <name>", "the member to run (default: the one named like this host)")
    .option("--run-dir <dir>", "where the pid file and the admin socket live", DEFAULT_RUN_DIR)
    .option("--lab", "self-fence by exiting instead of rebooting (for labs and tests)")
    .option("--foreground", "run the daemon in this process (daemon only)")
    .option("--log-file <file>", "where start sends the daemon's log lines", DEFAULT_LOG_FILE)
    .option("--loglevel <level>", `override cluster.conf's loglevel (${LOG_LEVELS.join(", ")})`)
    .version(versionLine("clumanager"), "--version", "print the version")
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: () => {} });
  let opts: Options;
  let action: string;
  try {
    program.parse([...argv], { from: "user" });
    opts = program.opts<Options>();
    action = program.args[0] as string;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return LSB.ok;
      io.err(`clumanager: ${err.message.replace(/^error: /, "")}\n${USAGE}`);
      return LSB.invalidArgs;
    }
    throw err;
  }
  if (!(ACTIONS as readonly string[]).includes(action)) {
    io.err(`clumanager: unknown action "${action}"\n${USAGE}`);
    return LSB.invalidArgs;
  }
  if (opts.loglevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(opts.loglevel)) {
    io.err(`clumanager: --loglevel must be one of ${LOG_LEVELS.join(", ")}, not ${opts.loglevel}`);
    return action === "daemon" ? DAEMON_EXIT.usage : LSB.invalidArgs;
  }
  return run(action as Action, opts, io);
}

async function run(action: Action, opts: Options, io: CommandIo): Promise<number> {
  const say = (line: string) => io.out(line);
  const service: ServiceOptions = {
    configPath: opts.config,
    ...(opts.member !== undefined ? { memberName: opts.member } : {}),
    runDir: opts.runDir,
    lab: opts.lab === true,
    logFile: opts.logFile,
    program: [process.execPath, process.argv[1] ?? "clumanager"],
    say,
  };
  switch (action) {
    case "daemon":
      if (opts.foreground !== true) {
        io.err(
          "clumanager: daemon runs only with --foreground; use clumanager start to run it in the background",
        );
        return DAEMON_EXIT.usage;
      }
      return runDaemon(
        {
          configPath: opts.config,
          ...(opts.member !== undefined ? { memberName: opts.member } : {}),
          runDir: opts.runDir,
          lab: opts.lab === true,
          ...(opts.loglevel !== undefined ? { logLevel: opts.loglevel as LogLevel } : {}),
        },
        (line) => io.err(line),
      );
    case "start":
      return start(service);
    case "stop":
      return stop(opts.runDir, say);
    case "restart": {
      const stopped = await stop(opts.runDir, say);
      return stopped === LSB.ok ? start(service) : stopped;
    }
    case "condrestart": {
      const s = statusCode(opts.runDir, () => {});
      if (s !== LSB.ok) return LSB.ok;
      const stopped = await stop(opts.runDir, say);
      return stopped === LSB.ok ? start(service) : stopped;
    }
    case "status":
      return statusCode(opts.runDir, say);
    case "reload":
      return reload(opts.runDir, say);
  }
}
