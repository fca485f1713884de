// The local lab: N members as real `clumanager daemon` processes on one machine, quorum partitions
// on loop devices (as root) or files, and simulated power switches whose outlets are wired to the
// members: off kills a member's whole process group, on starts it again, as a power cycle would.
// The integration tests, the lab tool, the demo and the failover benchmark all drive it.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClusterStatus } from "../../src/admin/cluster-status.js";
import { askDaemon } from "../../src/admin/daemon-client.js";
import { PID_FILE, SOCKET_FILE } from "../../src/daemon/paths.js";
import { initialisePair } from "../../src/disk/initialise.js";
import type { Layout } from "../../src/disk/layout.js";
import { slotOffset } from "../../src/disk/layout.js";
import { attachLoop, detachLoop, setReadOnly } from "./loop.js";
import { ddWrite, scratchDir, zeroFile } from "./scratch.js";
import { startSimProgram } from "./sim-program.js";

/** The built daemon: `npm install` (or `tsc -p .`) makes it. */
/** How many 50 ms polls the outlet hook waits for a killed member's processes to be gone. */
const OFF_WAIT_POLLS = 100;
const CLUMANAGER = fileURLToPath(new URL("../../dist/cli/clumanager.js", import.meta.url));
/** A lab's waits poll this often, and give up after the deadline each caller names. */
const POLL_MS = 50;
/** The sample HTTP service's program, run by its LSB script. */
const HTTP_SERVICE = fileURLToPath(new URL("./http-service.mjs", import.meta.url));
export const MAX_LAB_MEMBERS = 16;
const LAB_PORT_FLOOR = 10_000;
/** (32768 - 10000) / 32: every lab's ports stay below the ephemeral range. */
const LAB_PORT_BLOCKS = 700;
const IMAGE_BYTES = 4 << 20;

/** How a member reaches its power switch, filled in once the simulators run. */
export type LabPower =
  | { type: "rps10"; device: string }
  | { type: "wti_nps"; host: string; port: number }
  /** A file stands in for /dev/watchdog (the daemon accepts one only with --lab). */
  | { type: "watchdog"; device: string };

export interface LabOptions {
  members: number;
  /** The fast profile: failover within a few seconds, so the tests stay short. */
  heartbeatInterval?: number;
  tko?: number;
  tkoNetup?: number;
  ioTimeout?: number;
  fenceDelay?: number;
  /** Member id to power switch; outlet = member id. */
  power: (member: number) => LabPower;
  /** Members that reach the shared disk through loop devices of their own (to fail only theirs). */
  ownPaths?: number[];
  /** A second heartbeat channel on a serial line, for the members given a device here. */
  serial?: (member: number) => string | undefined;
  /** The [services] section's blocks, as cluster.conf text. */
  services?: string;
  /** One sample service per member instead: webN, preferred on mN, an HTTP server answering with
   * the name of the member it runs on (at 127.0.0.1, or with netns at a floating address). */
  sampleServices?: boolean;
  /** How many sample services (web0 up), when not one per member. */
  sampleServiceCount?: number;
  /** Where the quorum partitions live: loop devices (root only) or plain files. Default: loop
   * devices as root, files otherwise. */
  storage?: "loop" | "file";
  /**
   * Each member in a network namespace of its own, with interface lab0 at 192.0.2.(N+1)/24, all
   * joined by a bridge in a "switch" namespace, and a client namespace at 192.0.2.100: members
   * that are separate hosts on one network, for floating addresses.
   */
  netns?: boolean;
}

export interface LogLine {
  level: string;
  time: string;
  event?: string;
  msg: string;
  incarnation?: number;
  peer?: number;
  from?: string;
  to?: string;
  [key: string]: unknown;
}

export const LAB_TIMING = { heartbeatInterval: 0.2, tko: 5, tkoNetup: 10, ioTimeout: 0.5, fenceDelay: 1 };

export class Lab {
  readonly dir = scratchDir("clumanager-lab-");
  readonly config = join(this.dir.path, "cluster.conf");
  readonly ports: number[];
  /** Per member: its [primary, backup] devices. */
  readonly devices: [string, string][] = [];
  /** The devices of [quorum], which members without paths of their own use. */
  shared: [string, string] = ["", ""];
  private readonly sims: ChildProcess[] = [];
  /** Per member, the simulator its own switch runs in, when each member has one. */
  private readonly memberSwitches: ChildProcess[] = [];
  /** The layout written to the partitions, for corrupting a chosen block. */
  layout: Layout | undefined;
  private readonly nftTable = `clumanager_lab_${process.pid}`;
  private readonly cut = new Set<number>();
  /** Loop devices this lab attached, detached again by close(). */
  private readonly loops: string[] = [];

  /** Names of this lab's network namespaces, when it has them. */
  readonly nsTag = `clul${process.pid % 10_000}`;

  constructor(readonly options: LabOptions) {
    if (options.members < 2 || options.members > MAX_LAB_MEMBERS)
      throw new RangeError(`a lab has 2 to ${MAX_LAB_MEMBERS} members, not ${options.members}`);
    this.ports = Array.from({ length: options.members }, (_, i) =>
      options.netns ? 1228 : this.portBase + i,
    );
  }

  memberNs(m: number): string {
    return `${this.nsTag}m${m}`;
  }

  get clientNs(): string {
    return `${this.nsTag}c`;
  }

  private address(m: number): string {
    return this.options.netns ? `192.0.2.${m + 1}` : "127.0.0.1";
  }

  private setUpNetns(): void {
    const ip = (...args: string[]) => execFileSync("ip", args);
    const sw = `${this.nsTag}s`;
    ip("netns", "add", sw);
    ip("-n", sw, "link", "add", "br0", "type", "bridge");
    ip("-n", sw, "link", "set", "br0", "up");
    const hosts = [
      ...Array.from({ length: this.options.members }, (_, m) => ({
        ns: this.memberNs(m),
        cidr: `${this.address(m)}/24`,
      })),
      { ns: this.clientNs, cidr: "192.0.2.100/24" },
    ];
    hosts.forEach((h, i) => {
      const outer = `${this.nsTag}p${i}`;
      ip("netns", "add", h.ns);
      ip("link", "add", outer, "type", "veth", "peer", "name", "lab0", "netns", h.ns);
      ip("link", "set", outer, "netns", sw);
      ip("-n", sw, "link", "set", outer, "master", "br0");
      ip("-n", sw, "link", "set", outer, "up");
      ip("-n", h.ns, "addr", "add", h.cidr, "dev", "lab0");
      ip("-n", h.ns, "link", "set", "lab0", "up");
      ip("-n", h.ns, "link", "set", "lo", "up");
    });
  }

  /** Runs a Node script in the client namespace; its exit status and output. */
  inClient(script: string): { status: number | null; out: string } {
    const r = spawnSync("ip", ["netns", "exec", this.clientNs, process.execPath, "-e", script], {
      encoding: "utf8",
      timeout: 10_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
  }

  runDir(member: number): string {
    return join(this.dir.path, `run${member}`);
  }

  logFile(member: number): string {
    return join(this.dir.path, `member${member}.log`);
  }

  get storage(): "loop" | "file" {
    return this.options.storage ?? (process.getuid?.() === 0 ? "loop" : "file");
  }

  /**
   * A block of ports per lab process (heartbeats, then sample services), so labs in different test
   * files never share one; all below the kernel's ephemeral range (from 32768), where a client's
   * connection could hold a port a service then cannot bind.
   */
  private get portBase(): number {
    return LAB_PORT_FLOOR + (process.pid % LAB_PORT_BLOCKS) * 2 * MAX_LAB_MEMBERS;
  }

  /** The sample service webN listens here (at 127.0.0.1, or its floating address with netns). */
  servicePort(n: number): number {
    return this.portBase + MAX_LAB_MEMBERS + n;
  }

  serviceAddress(n: number): string {
    return this.options.netns ? `192.0.2.${50 + n}` : "127.0.0.1";
  }

  /** Makes the partitions and the configuration; the switch simulators come from the caller. */
  async create(): Promise<void> {
    const image = (name: string) => zeroFile(join(this.dir.path, name), IMAGE_BYTES);
    const images: [string, string] = [image("primary.img"), image("backup.img")];
    const loops = this.storage === "loop";
    if (!loops && this.options.ownPaths !== undefined)
      throw new Error("members with paths of their own need loop devices, and so root");
    const attach = (image: string) => {
      const device = attachLoop(image);
      this.loops.push(device);
      return device;
    };
    const shared: [string, string] = loops ? [attach(images[0]), attach(images[1])] : images;
    this.shared = shared;
    const maxMembers = Math.max(8, this.options.members);
    const init = await initialisePair(shared[0], shared[1], {
      clusterName: "lab",
      maxMembers,
      maxServices: 16,
    });
    this.layout = init.header.layout;
    for (let m = 0; m < this.options.members; m++) {
      // A second loop device on the same image is another path to the same disk.
      this.devices.push(this.options.ownPaths?.includes(m) ? [attach(images[0]), attach(images[1])] : shared);
    }
    if (this.options.sampleServices) this.options.services = this.sampleServices();
    if (this.options.netns) this.setUpNetns();
    const key = join(this.dir.path, "authkey");
    writeFileSync(key, "lab heartbeat key, not secret at all\n", { mode: 0o600 });
    chmodSync(key, 0o600);
    this.writeStartScript();
  }

  /** The [services] text for one sample service per member, and the LSB script they run. */
  private sampleServices(): string {
    const d = this.dir.path;
    const script = join(d, "web.sh");
    const address = this.options.netns ? `192.0.2.$((50 + n))` : "127.0.0.1";
    writeFileSync(
      script,
      `#!/bin/sh
# The lab's sample service webN: an HTTP server answering with the name of the member it runs on.
n=\${CLU_SERVICE#web}
pidf=${d}/web$n.$CLU_MEMBER.pid
# Alive and not a zombie: an orphan waits for init to reap it, which here can take seconds.
alive() { s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ]; }
running() { [ -s $pidf ] && alive "$(cat $pidf)"; }
case "$1" in
  start)
    running && exit 0
    rm -f $pidf
    ${process.execPath} ${HTTP_SERVICE} $((${this.servicePort(0)} + n)) ${address} $CLU_MEMBER $pidf >> ${d}/web.log 2>&1 &
    # Started means answering: wait (at most 5 s) for the server to say it listens.
    i=0
    while ! [ -s $pidf ]; do i=$((i + 1)); [ $i -gt 250 ] && exit 1; sleep 0.02; done ;;
  stop)
    if running; then
      kill "$(cat $pidf)"
      while alive "$(cat $pidf)"; do sleep 0.02; done
    fi
    rm -f $pidf ;;
  status) running && exit 0; exit 3 ;;
esac
`,
      { mode: 0o755 },
    );
    return Array.from({ length: this.options.sampleServiceCount ?? this.options.members }, (_, n) => {
      const ip = this.options.netns
        ? `  start resource0
    type = ip
    address = 192.0.2.${50 + n}/24
    interface = lab0
  end resource0
`
        : "";
      const r = this.options.netns ? 1 : 0;
      return (
        `start service${n}
  name = web${n}
  preferred_member = m${n % this.options.members}
  check_interval = 1
${ip}` +
        `  start resource${r}
    type = script
    path = ${script}
  end resource${r}
end service${n}
`
      );
    }).join("");
  }

  /** A simulator whose outlet N is member N, for power blocks of the configuration. */
  async startRps10(extra: string[] = []): Promise<string> {
    const link = join(this.dir.path, `rps10-${this.sims.length}`);
    const { child } = await startSimProgram("rps10", [
      "--link",
      link,
      "--outlets",
      String(Math.max(2, this.options.members)),
      "--toggle-delay",
      "200",
      "--hook",
      this.hook(),
      ...extra,
    ]);
    this.sims.push(child);
    return link;
  }

  /** A null-modem cable: two pseudo-terminals joined by socat; returns the two ends' paths. */
  async startSerialCable(): Promise<[string, string]> {
    const ends: [string, string] = [join(this.dir.path, "ttyA"), join(this.dir.path, "ttyB")];
    const socat = spawn("socat", [`pty,raw,echo=0,link=${ends[0]}`, `pty,raw,echo=0,link=${ends[1]}`], {
      stdio: "ignore",
    });
    this.sims.push(socat);
    await this.waitFor("socat's pseudo-terminals", 5_000, () =>
      ends.every((e) => existsSync(e)) ? true : undefined,
    );
    return ends;
  }

  /** Cuts the serial cable: socat ends and both pseudo-terminals go away before this returns, so
   * a cable plugged in again is never unlinked by the old one's exit. */
  async cutSerialCable(): Promise<void> {
    const cables = this.sims.filter((sim) => sim.spawnfile === "socat" && sim.exitCode === null);
    await Promise.all(
      cables.map(
        (sim) =>
          new Promise((resolve) => {
            sim.once("exit", resolve);
            sim.kill("SIGTERM");
          }),
      ),
    );
    for (const end of ["ttyA", "ttyB"]) rmSync(join(this.dir.path, end), { force: true });
  }

  /** One RPS-10 per member, as on hardware: member N's outlet is on the switch at the Nth path,
   * whose serial line only its peers open. */
  async startRps10PerMember(): Promise<string[]> {
    const links: string[] = [];
    for (let m = 0; m < this.options.members; m++) {
      links.push(await this.startRps10());
      this.memberSwitches[m] = this.sims[this.sims.length - 1] as ChildProcess;
    }
    return links;
  }

  /** One NPS per member: member N is plug N+1 on the switch at the Nth port. */
  async startNpsPerMember(): Promise<number[]> {
    this.usesNps();
    const ports: number[] = [];
    for (let m = 0; m < this.options.members; m++) {
      ports.push(await this.startNps());
      this.memberSwitches[m] = this.sims[this.sims.length - 1] as ChildProcess;
    }
    return ports;
  }

  /** A member's own switch stops answering (its simulator is frozen), or answers again. */
  failSwitch(member: number, failing: boolean): void {
    const sim = this.memberSwitches[member];
    if (sim === undefined) throw new Error(`member ${member} has no switch of its own in this lab`);
    sim.kill(failing ? "SIGSTOP" : "SIGCONT");
  }

  /** Drops every UDP heartbeat to and from a member (nftables, so root). */
  cutNetwork(member: number, cut: boolean): void {
    const nft = (...args: string[]) => execFileSync("nft", args);
    if (cut) this.cut.add(member);
    else this.cut.delete(member);
    spawnSync("nft", ["delete", "table", "inet", this.nftTable]);
    if (this.cut.size === 0) return;
    nft("add", "table", "inet", this.nftTable);
    const ports = [...this.cut].map((m) => String(this.ports[m])).join(", ");
    for (const hook of ["input", "output"]) {
      nft("add", "chain", "inet", this.nftTable, hook, `{ type filter hook ${hook} priority 0; }`);
      for (const dir of ["dport", "sport"])
        nft("add", "rule", "inet", this.nftTable, hook, "udp", dir, `{ ${ports} }`, "drop");
    }
  }

  /** Makes a member's own path to the quorum partitions read-only, or writable again. */
  readOnly(member: number, on: boolean): void {
    if (!this.options.ownPaths?.includes(member))
      throw new Error(
        `member ${member} has no path of its own to the partitions in this lab (the lab tool gives each member one as root, without --files)`,
      );
    for (const device of this.devices[member] as [string, string]) setReadOnly(device, on);
  }

  /** Overwrites part of member N's status block on the primary partition: peers find it damaged
   * and read the backup until its owner rewrites it, a heartbeat later. */
  corruptStatusBlock(member: number): string {
    if (this.layout === undefined) throw new Error("the lab has no partitions yet");
    const region = this.layout.regions.status;
    const offset = slotOffset(this.layout, region.firstSlot + member);
    ddWrite(this.shared[0], offset + 64, Buffer.from("a stray write from nowhere".repeat(4)));
    return `${this.shared[0]} at byte ${offset + 64}`;
  }

  async startNps(extra: string[] = []): Promise<number> {
    const { child, line } = await startSimProgram("wti-nps", [
      "--port",
      "0",
      "--outlets",
      String(this.options.members + 1),
      "--hook",
      this.hook(),
      ...extra,
    ]);
    this.sims.push(child);
    return Number(line.split(" ")[1]);
  }

  writeConfig(): void {
    const t = { ...LAB_TIMING, ...this.options };
    const members = Array.from({ length: this.options.members }, (_, m) => {
      const p = this.options.power(m);
      const power =
        p.type === "rps10"
          ? `    type = rps10\n    device = ${p.device}\n    outlet = ${m}`
          : p.type === "watchdog"
            ? `    type = watchdog\n    timeout = 10\n    device = ${p.device}`
            : `    type = wti_nps\n    host = ${p.host}\n    port = ${p.port}\n    outlet = ${m + 1}`;
      const [primary, backup] = this.devices[m] as [string, string];
      const own = this.options.ownPaths?.includes(m) ? `  primary = ${primary}\n  backup = ${backup}\n` : "";
      const device = this.options.serial?.(m);
      const serial =
        device !== undefined ? `  start chan1\n    type = serial\n    device = ${device}\n  end chan1\n` : "";
      return (
        `start member${m}\n  name = m${m}\n${own}  start chan0\n    type = net\n    address = ${this.address(m)}\n` +
        `    port = ${this.ports[m]}\n  end chan0\n${serial}  start power\n${power}\n  end power\nend member${m}\n`
      );
    });
    const [primary, backup] = this.shared;
    writeFileSync(
      this.config,
      `[cluster]\nname = lab\nheartbeat_interval = ${t.heartbeatInterval}\ntko = ${t.tko}\ntko_netup = ${t.tkoNetup}\n` +
        `io_timeout = ${t.ioTimeout}\nfence_delay = ${t.fenceDelay}\nkey_file = ${join(this.dir.path, "authkey")}\n` +
        `loglevel = info\n\n[quorum]\nprimary = ${primary}\nbackup = ${backup}\n\n[members]\n${members.join("")}` +
        `${this.options.services !== undefined ? `\n[services]\n${this.options.services}` : ""}`,
      { mode: 0o600 },
    );
  }

  /** The outlet hook: RPS-10 outlets count from 0, NPS plugs from 1; both name member N. */
  private hook(): string {
    return `sh ${join(this.dir.path, "outlet.sh")}`;
  }

  private writeStartScript(): void {
    const d = this.dir.path;
    // setsid: each member's shell leads its own process group, which is what "off" kills; the
    // shell records the daemon's exit status, so a test can check the documented one.
    writeFileSync(
      join(d, "start-member.sh"),
      `#!/bin/sh\nm=$1\nrm -f ${d}/member$m.exit\nrm -rf ${d}/rsctmp$m && mkdir -p ${d}/rsctmp$m\n` +
        // Each member keeps its resource agents' state apart, as separate machines would.
        `${this.options.netns ? `ip netns exec ${this.nsTag}m$m ` : ""}setsid sh -c "HA_RSCTMP=${d}/rsctmp$m CLUMANAGER_NEVER_REBOOT=1 ${process.execPath} ${CLUMANAGER} daemon --foreground ` +
        `-c ${this.config} --member m$m --run-dir ${d}/run$m --lab; echo \\$? > ${d}/member$m.exit" ` +
        `>> ${d}/member$m.log 2>&1 < /dev/null &\necho $! > ${d}/member$m.pgid\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(d, "outlet.sh"),
      `#!/bin/sh\n# OUTLET and STATE come from the switch simulator.\ncase "$OUTLET" in\n` +
        `  [0-9]) ;;\n  *) exit 0 ;;\nesac\n` +
        `m=$OUTLET\n[ -e ${d}/nps ] && m=$((OUTLET - 1))\n` +
        `echo "$(date +%s.%N) outlet $OUTLET $STATE" >> ${d}/outlets.log\n` +
        `if [ "$STATE" = off ]; then\n  if [ -f ${d}/member$m.pgid ]; then\n    pg=$(cat ${d}/member$m.pgid)\n    kill -9 -$pg 2>/dev/null\n` +
        // Off is off only once the member's processes are gone (zombies are: they hold nothing),
        // so the switch confirms it only then; bounded at 5 s.
        `    i=0\n    while [ $i -lt ${OFF_WAIT_POLLS} ] && ps -e -o pgid=,stat= | awk -v g="$pg" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; do\n      sleep 0.05; i=$((i + 1))\n    done\n  fi\n` +
        // Power off forgets every address the member had taken on, as a reboot would.
        (this.options.netns
          ? `  ip -n ${this.nsTag}m$m addr flush dev lab0; ip -n ${this.nsTag}m$m addr add 192.0.2.$((m + 1))/24 dev lab0\n`
          : "") +
        `else\n  sh ${d}/start-member.sh $m\nfi\nexit 0\n`,
      { mode: 0o755 },
    );
  }

  /** NPS plugs count from 1: tells the hook to map plug N to member N-1. */
  usesNps(): void {
    writeFileSync(join(this.dir.path, "nps"), "");
  }

  start(member: number): void {
    execFileSync("sh", [join(this.dir.path, "start-member.sh"), String(member)]);
  }

  /** The daemon's exit status once it has exited, as its shell recorded it. */
  exitStatus(member: number): number | undefined {
    const path = join(this.dir.path, `member${member}.exit`);
    return existsSync(path) ? Number(readFileSync(path, "utf8").trim()) : undefined;
  }

  pid(member: number): number | undefined {
    const path = join(this.runDir(member), PID_FILE);
    if (!existsSync(path)) return undefined;
    const pid = Number(readFileSync(path, "utf8").trim());
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  signal(member: number, signal: NodeJS.Signals): number {
    const pid = this.pid(member);
    if (pid === undefined) throw new Error(`member ${member} is not running`);
    process.kill(pid, signal);
    return pid;
  }

  /** The member's process group: its daemon and every service it started. */
  pgid(member: number): number | undefined {
    const path = join(this.dir.path, `member${member}.pgid`);
    return existsSync(path) ? Number(readFileSync(path, "utf8").trim()) : undefined;
  }

  /** The whole member hangs, its services too, as a machine stuck in the kernel would. */
  hang(member: number): void {
    const pgid = this.pgid(member);
    if (pgid === undefined) throw new Error(`member ${member} was never started`);
    process.kill(-pgid, "SIGSTOP");
  }

  log(member: number): LogLine[] {
    const path = this.logFile(member);
    if (!existsSync(path)) return [];
    return readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** Every line of every member's log, for a failing test's message. */
  allLogs(): string {
    return Array.from({ length: this.options.members }, (_, m) =>
      this.log(m)
        .map((l) => `m${m} ${l.time} ${l.event ?? ""} ${l.msg}`)
        .join("\n"),
    ).join("\n");
  }

  async status(member: number): Promise<ClusterStatus> {
    const answer = await askDaemon(join(this.runDir(member), SOCKET_FILE), { command: "status" });
    if (!answer.ok) throw new Error(answer.error);
    return answer.status as ClusterStatus;
  }

  /** Polls until `check` returns a value, or fails with every member's log after `timeoutMs`. */
  async waitFor<T>(
    what: string,
    timeoutMs: number,
    check: () => T | undefined | Promise<T | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await Promise.resolve(check()).catch(() => undefined);
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.allLogs()}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Writes the configuration, starts every member, and waits until each sees all the others up. */
  async startAll(): Promise<void> {
    this.writeConfig();
    for (let m = 0; m < this.options.members; m++) this.start(m);
    await this.allUp();
  }

  /** Waits until every member answers on its admin socket and sees every other member up. */
  async allUp(timeoutMs = 15_000): Promise<void> {
    for (let m = 0; m < this.options.members; m++) {
      await this.waitFor(`member ${m} to see everyone up`, timeoutMs, async () => {
        const s = await this.status(m);
        return s.members.every((row) => row.state === "up") ? true : undefined;
      });
    }
  }

  /**
   * Waits until every service is running, as the members see it, so the first command typed
   * finds them placed; at most `timeoutMs`. The services still not running then, with their state.
   */
  async servicesRunning(timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let pending: string[] = ["the services (no member answered)"];
    for (;;) {
      for (let m = 0; m < this.options.members; m++) {
        const rows = await this.status(m).then(
          (s) => s.services ?? [],
          () => undefined,
        );
        if (rows === undefined) continue;
        pending = rows.filter((r) => r.state !== "running").map((r) => `${r.name} ${r.state}`);
        break;
      }
      if (pending.length === 0 || Date.now() > deadline) return pending;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Kills every member process group and simulator, detaches the lab's loop devices, and
   * removes the scratch directory. */
  async close(): Promise<void> {
    for (let m = 0; m < this.options.members; m++) {
      const pgid = join(this.dir.path, `member${m}.pgid`);
      if (!existsSync(pgid)) continue;
      try {
        process.kill(-Number(readFileSync(pgid, "utf8").trim()), "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (this.cut.size > 0) spawnSync("nft", ["delete", "table", "inet", this.nftTable]);
    for (const sim of this.sims) {
      // A switch frozen to fail it must run again to hear the SIGTERM.
      sim.kill("SIGCONT");
      sim.kill("SIGTERM");
    }
    await new Promise((r) => setTimeout(r, 200));
    if (this.options.netns) {
      for (let m = 0; m < this.options.members; m++) spawnSync("ip", ["netns", "del", this.memberNs(m)]);
      for (const ns of [this.clientNs, `${this.nsTag}s`]) spawnSync("ip", ["netns", "del", ns]);
    }
    for (const device of this.loops.splice(0)) {
      try {
        detachLoop(device);
      } catch (err) {
        process.stderr.write(`could not detach ${device}: ${(err as Error).message}\n`);
      }
    }
    this.dir.remove();
  }
}
