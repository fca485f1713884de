// `clumanager daemon --foreground`: one member as a process. It loads the configuration and the
// cluster key, claims the run directory, joins, and runs the member until SIGTERM (a clean stop)
// or a self-fence. Every step that can fail ends in one log line and a documented exit code.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join as joinPath } from "node:path";
import type { ClusterStatus } from "../admin/cluster-status.js";
import type { ClusterConfig, LogLevel, MemberConfig } from "../config/model.js";
import { formatErrors, validateText } from "../config/validate.js";
import type { SelfFenceReason } from "../core/self-health.js";
import { HeartbeatChannels } from "../heartbeat/channels.js";
import { loadClusterKey } from "../heartbeat/key.js";
import { describeSwitch } from "../power/create.js";
import { DEFAULT_WATCHDOG_DEVICE, Watchdog } from "../power/watchdog.js";
import { AdminServer } from "./admin-socket.js";
import { ConfigSync } from "./config-sync.js";
import { JoinError, join } from "./join.js";
import { createLogger, type Logger } from "./logger.js";
import { describeSelfFence, MemberDaemon } from "./member-daemon.js";
import { PID_FILE, SOCKET_FILE } from "./paths.js";
import { AlreadyRunning, PidFile } from "./pid-file.js";
import { SWITCH_CHECK_MS, SwitchChecker } from "./switch-check.js";

/** The configuration on the partitions is looked at every this many heartbeat intervals. */
export const CONFIG_SYNC_INTERVALS = 5;

/** Exit statuses of `clumanager daemon`, documented in clumanager(8). */
export const DAEMON_EXIT = {
  stopped: 0,
  usage: 64,
  /** The configuration or key file is missing, unreadable or invalid. */
  config: 78,
  /** The quorum partitions could not be opened or written: this member did not join. */
  cannotJoin: 75,
  /** Another daemon runs with this run directory. */
  alreadyRunning: 73,
  /** Lab mode only: the member self-fenced (production reboots instead). */
  selfFenced: 80,
} as const;

export interface DaemonArgs {
  configPath: string;
  memberName?: string;
  runDir: string;
  lab: boolean;
  /** Log level from the command line, over cluster.conf's. */
  logLevel?: LogLevel;
}

class StartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function loadConfig(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new StartError(
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}); pass the cluster configuration with -c FILE`,
      DAEMON_EXIT.config,
    );
  }
  const checked = validateText(text);
  if (!checked.ok) {
    throw new StartError(
      `${path} is not a valid configuration:\n${formatErrors(path, checked.errors).join("\n")}`,
      DAEMON_EXIT.config,
    );
  }
  return checked.config;
}

export function pickMember(config: ClusterConfig, name: string | undefined, path: string): MemberConfig {
  const wanted = name ?? hostname();
  const member = config.members.find((m) => m.name === wanted);
  if (member !== undefined) return member;
  const names = config.members.map((m) => m.name).join(", ") || "none";
  throw new StartError(
    `${path} has no member named "${wanted}"${name === undefined ? " (this host's name)" : ""}; its members are ${names}; pick one with --member NAME`,
    DAEMON_EXIT.config,
  );
}

/** Stops everything now. In production that is a reboot, as the original did; in the lab, an exit. */
function selfFencer(lab: boolean, log: Logger): (reason: SelfFenceReason) => never {
  return (reason) => {
    if (lab || process.env.CLUMANAGER_NEVER_REBOOT === "1") process.exit(DAEMON_EXIT.selfFenced);
    try {
      // The kernel reboots at once, without syncing or unmounting: a fenced member must not
      // write another byte to shared storage.
      writeFileSync("/proc/sysrq-trigger", "b");
    } catch (err) {
      log.emerg({ err: String(err) }, "the sysrq reboot failed; trying reboot -f");
      spawnSync("reboot", ["-f"], { stdio: "ignore", timeout: 5_000 });
    }
    log.emerg({ reason: describeSelfFence(reason) }, "still running after asking for a reboot; exiting");
    process.exit(DAEMON_EXIT.selfFenced);
  };
}

export async function runDaemon(args: DaemonArgs, stderr: (line: string) => void): Promise<number> {
  let config: ClusterConfig;
  let member: MemberConfig;
  let key: Buffer;
  try {
    config = loadConfig(args.configPath);
    member = pickMember(config, args.memberName, args.configPath);
    key = loadClusterKey(config.cluster.keyFile);
  } catch (err) {
    stderr(`clumanager: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof StartError ? err.exitCode : DAEMON_EXIT.config;
  }
  let log = createLogger(args.logLevel ?? config.cluster.loglevel, {
    cluster: config.cluster.name,
    member: member.id,
    memberName: member.name,
  });

  let pidFile: PidFile;
  try {
    mkdirSync(args.runDir, { recursive: true, mode: 0o755 });
    pidFile = PidFile.claim(joinPath(args.runDir, PID_FILE));
  } catch (err) {
    log.err({ event: "start" }, String(err instanceof Error ? err.message : err));
    return err instanceof AlreadyRunning ? DAEMON_EXIT.alreadyRunning : DAEMON_EXIT.config;
  }

  let joined: Awaited<ReturnType<typeof join>>;
  try {
    joined = await join(config, member);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.err(
      { event: "join" },
      err instanceof JoinError ? message : `cannot open the quorum partitions: ${message}`,
    );
    pidFile.release();
    return DAEMON_EXIT.cannotJoin;
  }
  log = log.child({ incarnation: joined.incarnation }) as Logger;
  log.notice({ event: "join" }, `joined as member${member.id} in incarnation ${joined.incarnation}`);

  let watchdog: Watchdog | undefined;
  if (member.power.type === "watchdog") {
    watchdog = new Watchdog(member.power.watchdogDevice ?? DEFAULT_WATCHDOG_DEVICE, {
      timeoutSeconds: member.power.timeoutSeconds,
      // A FIFO or file stands in for the device in the lab, never in production.
      allowStandIn: args.lab,
    });
    try {
      watchdog.open();
    } catch (err) {
      log.err(
        { event: "join" },
        `cannot arm the watchdog: ${err instanceof Error ? err.message : String(err)}`,
      );
      joined.io.close();
      pidFile.release();
      return DAEMON_EXIT.config;
    }
    log.notice({ event: "join" }, `armed the watchdog ${watchdog.device}`);
  }

  let daemon: MemberDaemon | undefined;
  const peers = config.members.filter((m) => m.id !== member.id);
  let net: HeartbeatChannels | undefined;
  try {
    net = await HeartbeatChannels.open(key, member, peers, (peer, channel) => daemon?.heard(peer, channel));
  } catch (err) {
    log.err({ event: "join" }, `cannot open the heartbeat channels: ${String(err)}`);
    watchdog?.disarm();
    joined.io.close();
    pidFile.release();
    return DAEMON_EXIT.config;
  }
  daemon = new MemberDaemon({
    config,
    member,
    incarnation: joined.incarnation,
    io: joined.io,
    net,
    log,
    ...(watchdog !== undefined ? { watchdog } : {}),
    selfFence: (reason) => {
      // Left armed: if the reboot below does not happen, the watchdog resets the machine.
      watchdog?.abandon();
      selfFencer(args.lab, log)(reason);
    },
  });
  const running = daemon;
  const switches = new SwitchChecker(
    peers,
    () => running.fencesInFlight > 0,
    ({ member: m, check }) => {
      if (check.ok)
        log.notice({ event: "switch", peer: m.id }, `the power switch of member ${m.name} answers again`);
      else
        log.warning(
          { event: "switch", peer: m.id },
          `the power switch of member ${m.name} does not answer, so fencing it would fail: ${check.detail}`,
        );
    },
  );
  const sync = new ConfigSync(args.configPath, () => joined.io.readConfig());
  const startedAt = new Date().toISOString();
  const status = (): ClusterStatus => ({
    source: "daemon",
    cluster: config.cluster.name,
    configFile: args.configPath,
    ...(sync.view >= 0 ? { configView: sync.view } : {}),
    answeredBy: {
      id: member.id,
      name: member.name,
      incarnation: joined.incarnation,
      pid: process.pid,
      startedAt,
    },
    members: running.view().map((v) => {
      const m = config.members.find((c) => c.id === v.id);
      const check = switches.result(v.id);
      return {
        ...v,
        power:
          m === undefined
            ? {}
            : {
                ...describeSwitch(m.power),
                outlet: m.power.outlet,
                ...(check !== undefined ? { check } : {}),
              },
      };
    }),
    counters: { ...running.counters, net: net.counters },
  });

  const admin = await AdminServer.listen(joinPath(args.runDir, SOCKET_FILE), () => ({
    ok: true,
    status: status(),
  }));
  const syncConfig = async () => {
    try {
      const r = await sync.check();
      if (r.kind === "rewritten")
        log.notice(
          { event: "config", view: r.view },
          `configuration view ${r.view}: rewrote ${args.configPath}`,
        );
      if (r.kind === "failed")
        log.err(
          { event: "config", view: r.view },
          `cannot rewrite ${args.configPath} for view ${r.view}: ${r.error}`,
        );
    } catch (err) {
      log.warning(
        { event: "config" },
        `reading the configuration on the quorum partitions failed: ${String(err)}`,
      );
    }
  };
  await syncConfig();
  const syncTimer = setInterval(
    () => void syncConfig(),
    CONFIG_SYNC_INTERVALS * config.cluster.heartbeatInterval * 1000,
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log.notice({ event: "stop" }, "stopping: marking this member DOWN");
    void running.stop();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => {
    try {
      const fresh = loadConfig(args.configPath);
      log.level = args.logLevel ?? fresh.cluster.loglevel;
      log.notice(
        { event: "reload" },
        `reloaded ${args.configPath}: log level ${log.level}; other changes take effect on restart`,
      );
    } catch (err) {
      log.err(
        { event: "reload" },
        `reload refused, nothing changed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  });

  running.start();
  void switches.checkAll();
  const switchTimer = setInterval(() => void switches.checkAll(), SWITCH_CHECK_MS);
  await running.finished;
  clearInterval(switchTimer);
  // Marked DOWN: peers no longer count on this member, so its watchdog may stand down.
  watchdog?.disarm();
  clearInterval(syncTimer);
  await admin.close();
  await net.close();
  joined.io.close();
  pidFile.release();
  log.notice({ event: "stop" }, "stopped");
  return DAEMON_EXIT.stopped;
}
