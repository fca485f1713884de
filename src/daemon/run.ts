// `clumanager daemon --foreground`: one member as a process. It loads the configuration and the
// cluster key, claims the run directory, joins, and runs the member until SIGTERM (a clean stop)
// or a self-fence. Every step that can fail ends in one log line and a documented exit code.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join as joinPath } from "node:path";
import { type ClusterStatus, serviceRows } from "../admin/cluster-status.js";
import { parseDocument } from "../config/document.js";
import type { ClusterConfig, LogLevel, MemberConfig } from "../config/model.js";
import { noFencingWarning } from "../config/no-fencing.js";
import { CONFIG_EXIT, readClusterConf } from "../config/read.js";
import { checkExposure } from "../config/secret-exposure.js";
import { formatErrors, validateDocument } from "../config/validate.js";
import type { SelfFenceReason } from "../core/self-health.js";
import { MemberState } from "../disk/status-block.js";
import { HeartbeatChannels } from "../heartbeat/channels.js";
import { loadClusterKey } from "../heartbeat/key.js";
import { describeSwitch } from "../power/create.js";
import { DEFAULT_WATCHDOG_DEVICE, Watchdog } from "../power/watchdog.js";
import { createResource } from "../services/create.js";
import { type AdminAnswer, AdminServer } from "./admin-socket.js";
import { ConfigSync } from "./config-sync.js";
import { type RunView, startView, ViewRefused } from "./config-view.js";
import { describeHeaderRepair, JoinError, type Joined, join } from "./join.js";
import { createLogger, type Logger } from "./logger.js";
import { describeSelfFence, MemberDaemon } from "./member-daemon.js";
import { PID_FILE, SOCKET_FILE } from "./paths.js";
import { AlreadyRunning, PidFile } from "./pid-file.js";
import { resolveRequest } from "./service-requests.js";
import { describeCheck, SWITCH_CHECK_MS, SwitchChecker } from "./switch-check.js";

/** The configuration on the partitions is looked at every this many heartbeat intervals. */
export const CONFIG_SYNC_INTERVALS = 5;

/** Exit statuses of `clumanager daemon`, documented in clumanager(8). */
export const DAEMON_EXIT = {
  stopped: 0,
  /** Stopped, but the DOWN write failed: peers will fence this member. */
  notMarkedDown: 1,
  usage: 64,
  /** The configuration or key file is missing, unreadable or invalid. */
  config: CONFIG_EXIT,
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

/** `warnings` gets what is worth saying about a valid file (secrets others can read). */
function loadConfig(path: string, warnings: string[] = []): ClusterConfig {
  let text: string;
  try {
    text = readClusterConf(path);
  } catch (err) {
    throw new StartError((err as Error).message, DAEMON_EXIT.config);
  }
  const doc = parseDocument(text);
  const checked = validateDocument(doc);
  if (!checked.ok) {
    throw new StartError(
      `${path} is not a valid configuration:\n${formatErrors(path, checked.errors).join("\n")}`,
      DAEMON_EXIT.config,
    );
  }
  const exposed = checkExposure(path, doc);
  if (exposed !== undefined) warnings.push(exposed);
  const unfenced = noFencingWarning(checked.config);
  if (unfenced !== undefined) warnings.push(unfenced);
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
  let view: RunView;
  const startWarnings: string[] = [];
  try {
    const local = loadConfig(args.configPath, startWarnings);
    const named = pickMember(local, args.memberName, args.configPath);
    // The partitions' view, not the file, is what this member runs (config-view.ts).
    view = await startView(args.configPath, local, named.name, local.cluster.ioTimeout * 1000).catch(
      (err: unknown) => {
        if (err instanceof ViewRefused) throw new StartError(err.message, DAEMON_EXIT.config);
        throw new StartError(
          `cannot read the configuration on the quorum partitions: ${err instanceof Error ? err.message : String(err)}`,
          DAEMON_EXIT.cannotJoin,
        );
      },
    );
    config = view.config;
    member = pickMember(config, named.name, args.configPath);
    key = loadClusterKey(config.cluster.keyFile);
  } catch (err) {
    // No logger yet: what was worth a warning is said here, so a failed start loses none of it.
    for (const warning of startWarnings) stderr(`clumanager: warning: ${warning}`);
    stderr(`clumanager: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof StartError ? err.exitCode : DAEMON_EXIT.config;
  }
  let log = createLogger(args.logLevel ?? config.cluster.loglevel, {
    cluster: config.cluster.name,
    member: member.id,
    memberName: member.name,
  });
  for (const warning of startWarnings) log.warning({ event: "config" }, warning);
  if (view.keptAt !== undefined)
    log.warning(
      { event: "config", view: view.view },
      `${args.configPath} differed from configuration view ${view.view} on the quorum partitions: running view ${view.view}, rewrote ${args.configPath} and kept its old text in ${view.keptAt}`,
    );

  let pidFile: PidFile;
  try {
    mkdirSync(args.runDir, { recursive: true, mode: 0o755 });
    pidFile = PidFile.claim(joinPath(args.runDir, PID_FILE));
  } catch (err) {
    log.err({ event: "start" }, String(err instanceof Error ? err.message : err));
    return err instanceof AlreadyRunning ? DAEMON_EXIT.alreadyRunning : DAEMON_EXIT.config;
  }

  // Everything that can fail without touching the shared disk comes before joining, so a member
  // that cannot run never leaves an UP status behind for its peers to fence.
  let running: MemberDaemon | undefined;
  let stopAsked = false;
  const stop = () => {
    if (stopAsked) return;
    stopAsked = true;
    log.notice({ event: "stop" }, "stopping: marking this member DOWN once nothing is under way");
    void running?.stop();
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

  const peers = config.members.filter((m) => m.id !== member.id);
  let net: HeartbeatChannels;
  try {
    net = await HeartbeatChannels.open(key, view.clusterUuid, member, peers, (peer, channel, nudge) =>
      running?.heard(peer, channel, nudge),
    );
  } catch (err) {
    log.err({ event: "start" }, `cannot open the heartbeat channels: ${String(err)}`);
    pidFile.release();
    return DAEMON_EXIT.config;
  }

  // The watchdog is looked at now but armed only once this member has joined: opening it starts
  // its timer, and joining may wait longer than its timeout for a slot that was left UP.
  let watchdog: Watchdog | undefined;
  if (member.power.type === "watchdog") {
    watchdog = new Watchdog(member.power.watchdogDevice ?? DEFAULT_WATCHDOG_DEVICE, {
      timeoutSeconds: member.power.timeoutSeconds,
      minimumSeconds: config.cluster.heartbeatInterval + config.cluster.ioTimeout,
      // A FIFO or file stands in for the device in the lab, never in production.
      allowStandIn: args.lab,
    });
    try {
      watchdog.check();
    } catch (err) {
      log.err(
        { event: "start" },
        `cannot use the watchdog: ${err instanceof Error ? err.message : String(err)}`,
      );
      await net.close();
      pidFile.release();
      return DAEMON_EXIT.config;
    }
  }

  const switches = new SwitchChecker(
    peers,
    () => (running?.fencesInFlight ?? 0) > 0,
    ({ member: m, check }) => {
      if (check.ok) log.notice({ event: "switch", peer: m.id }, describeCheck(m.name, check));
      else log.warning({ event: "switch", peer: m.id }, describeCheck(m.name, check));
    },
  );
  const startedAt = new Date().toISOString();
  const status = (daemon: MemberDaemon): ClusterStatus => ({
    source: "daemon",
    cluster: config.cluster.name,
    configFile: args.configPath,
    configView: view.view,
    answeredBy: {
      id: member.id,
      name: member.name,
      incarnation: daemon.incarnation,
      pid: process.pid,
      startedAt,
    },
    members: daemon.view().map((v) => {
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
    services: serviceRows(config, (id) => daemon.services.core.record(id)),
    counters: { ...daemon.counters, disk: daemon.diskTransfers, net: net.counters },
  });
  let admin: AdminServer;
  try {
    admin = await AdminServer.listen(
      joinPath(args.runDir, SOCKET_FILE),
      (request) => {
        if (running === undefined)
          return { ok: false, error: "the member is still joining; ask again in a moment" };
        if (request.command === "status") return { ok: true, status: status(running) };
        if (request.command === "config-change" || request.command === "config-backup") {
          const work =
            request.command === "config-change"
              ? running.configChange(request)
              : running.configBackup(request.text, request.view);
          return work.then(
            (done): AdminAnswer => {
              log.notice(
                { event: "config", command: request.command, view: done.view },
                `cluadmin's ${request.command} is on the quorum partitions`,
              );
              // The view (and backup number) only: cluadmin has the text, which may be large.
              return { ok: true, status: "backup" in done ? done : { view: done.view } };
            },
            (err: unknown): AdminAnswer => ({
              ok: false,
              error: err instanceof Error ? err.message : String(err),
            }),
          );
        }
        const resolved = resolveRequest(config, request.op, request.service, request.target);
        if (typeof resolved === "string") return { ok: false, error: resolved };
        const answer = running.services.ask(resolved);
        return answer.ok
          ? { ok: true, status: { message: answer.message } }
          : { ok: false, error: answer.message };
      },
      {
        onHandlerError: (command, err) =>
          log.err(
            { event: "admin", command, err: err instanceof Error ? (err.stack ?? err.message) : String(err) },
            `the admin socket's ${command} request failed; it was answered with the error, and the member goes on`,
          ),
      },
    );
  } catch (err) {
    log.err({ event: "start" }, `cannot open the admin socket in ${args.runDir}: ${String(err)}`);
    watchdog?.disarm();
    await net.close();
    pidFile.release();
    return DAEMON_EXIT.config;
  }
  const shutDown = async () => {
    await admin.close();
    await net.close();
    pidFile.release();
  };

  // A resource the drivers refuse must stop the start here, not crash the member after it joined.
  try {
    for (const s of config.services) for (const r of s.resources) createResource(r);
  } catch (err) {
    log.err(
      { event: "start" },
      `the configuration has a service this member cannot run: ${err instanceof Error ? err.message : String(err)}`,
    );
    watchdog?.disarm();
    await shutDown();
    return DAEMON_EXIT.config;
  }

  let joined: Joined;
  try {
    joined = await join(config, member, view.view);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.err(
      { event: "join" },
      err instanceof JoinError ? message : `cannot open the quorum partitions: ${message}`,
    );
    watchdog?.disarm();
    await shutDown();
    return err instanceof JoinError && err.alreadyRunning
      ? DAEMON_EXIT.alreadyRunning
      : DAEMON_EXIT.cannotJoin;
  }
  log = log.child({ incarnation: joined.incarnation }) as Logger;
  log.notice({ event: "join" }, `joined as member${member.id} in incarnation ${joined.incarnation}`);
  for (const repair of joined.headerRepairs)
    log.warning({ event: "repair", repair }, `quorum partition: ${describeHeaderRepair(repair)}`);

  let daemon: MemberDaemon;
  try {
    if (watchdog !== undefined) {
      watchdog.open();
      log.notice(
        { event: "start" },
        `armed the watchdog ${watchdog.device}${watchdog.timeoutSeconds !== undefined ? ` (timeout ${watchdog.timeoutSeconds} s)` : " (a stand-in)"}`,
      );
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
  } catch (err) {
    // Joined but cannot run: take the UP status back, or peers would fence a member that never ran.
    log.crit(
      { event: "start" },
      `cannot run after joining: ${err instanceof Error ? err.message : String(err)}`,
    );
    await joined.io
      .writeStatus(joined.io.status(MemberState.Down, joined.incarnation, 1))
      .catch((e: unknown) =>
        log.crit(
          { event: "start" },
          `could not take the UP status back either, so peers will fence this member: ${String(e)}`,
        ),
      );
    joined.io.close();
    joined.slot.release();
    watchdog?.disarm();
    await shutDown();
    return DAEMON_EXIT.config;
  }
  running = daemon;
  daemon.start();
  if (stopAsked) void daemon.stop();

  const configSync = new ConfigSync(args.configPath, () => joined.io.readConfig());
  const syncConfig = async () => {
    try {
      const r = await configSync.check();
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
  void syncConfig();
  const syncTimer = setInterval(
    () => void syncConfig(),
    CONFIG_SYNC_INTERVALS * config.cluster.heartbeatInterval * 1000,
  );
  void switches.checkAll().catch(() => {});
  const switchTimer = setInterval(() => void switches.checkAll().catch(() => {}), SWITCH_CHECK_MS);

  const markedDown = await daemon.finished;
  clearInterval(switchTimer);
  clearInterval(syncTimer);
  if (markedDown) {
    // Marked DOWN: peers no longer count on this member, so its watchdog may stand down.
    watchdog?.disarm();
  } else {
    // Peers still see it UP and will fence it; a watchdog left armed makes sure of that.
    watchdog?.abandon();
  }
  await shutDown();
  joined.io.close();
  joined.slot.release();
  log.notice(
    { event: "stop" },
    markedDown ? "stopped" : "stopped without marking DOWN; peers will fence this member",
  );
  return markedDown ? DAEMON_EXIT.stopped : DAEMON_EXIT.notMarkedDown;
}
