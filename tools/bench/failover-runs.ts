// One measurement each, on a running lab: a hung or crashed owner until its service answers on a
// survivor, a planned relocation until it answers on the target, a member's idle cost, and the
// failovers that happen under load when none should.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterStatus } from "../../src/admin/cluster-status.js";
import { controlService } from "../../src/admin/service-control.js";
import { SOCKET_FILE } from "../../src/daemon/paths.js";
import { HttpProbe } from "../lab/http-probe.js";
import type { Lab, LogLine } from "../lab/lab.js";

/** Any one measurement gives up after this long: the cluster is then broken, not slow. */
export const RUN_DEADLINE_MS = 120_000;
const CLOCK_TICKS_PER_S = 100;
/** A relocation refused because the target is not up yet is asked again this often, this far apart. */
const RELOCATE_ASKS = 100;
const RELOCATE_RETRY_MS = 100;

export interface FailoverSample {
  /** Fault to the service answering on another member, as its client saw it. */
  totalMs: number;
  /** Fault to the first member's "hung" verdict. */
  detectionMs: number;
  /** Verdict to the switch confirming off. */
  fenceMs: number;
  /** Confirmed off to the client answered by the survivor. */
  startMs: number;
}

export function owners(s: ClusterStatus): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of s.services ?? [])
    if (v.state === "running" && v.owner !== undefined) out.set(v.name, v.owner);
  return out;
}

/** Every member up in everyone's view, and every sample service running. */
export async function settled(lab: Lab, services: number): Promise<ClusterStatus> {
  return lab.waitFor("every member up and every service running", RUN_DEADLINE_MS, async () => {
    const views = await Promise.all(Array.from({ length: lab.options.members }, (_, m) => lab.status(m)));
    if (!views.every((s) => s.members.every((row) => row.state === "up"))) return undefined;
    const s = views[0] as ClusterStatus;
    return owners(s).size === services ? s : undefined;
  });
}

function firstLogged(lab: Lab, sinceMs: number, match: (l: LogLine) => boolean): number | undefined {
  let first: number | undefined;
  for (let m = 0; m < lab.options.members; m++) {
    for (const l of lab.log(m)) {
      const at = Date.parse(l.time);
      if (at >= sinceMs && match(l) && (first === undefined || at < first)) first = at;
    }
  }
  return first;
}

/** The owner of webN hangs (its whole process group stopped) or its daemon is killed. */
export async function failover(lab: Lab, service: number, fault: "hang" | "crash"): Promise<FailoverSample> {
  const before = await settled(lab, lab.options.sampleServiceCount ?? lab.options.members);
  const ownerName = owners(before).get(`web${service}`) as string;
  const owner = Number(ownerName.slice(1));
  const probe = new HttpProbe(lab.serviceAddress(service), lab.servicePort(service));
  probe.start();
  try {
    await lab.waitFor(`web${service} answering`, RUN_DEADLINE_MS, () =>
      probe.last?.member === ownerName ? true : undefined,
    );
    const t0 = Date.now();
    if (fault === "hang") lab.hang(owner);
    else lab.signal(owner, "SIGKILL");
    const answered = await lab.waitFor(`web${service} answered by a survivor`, RUN_DEADLINE_MS, () =>
      probe.changes.find((c) => c.atMs >= t0 && c.member !== undefined && c.member !== ownerName),
    );
    const detected = firstLogged(
      lab,
      t0,
      (l) => l.event === "membership" && l.peer === owner && l.to === "hung",
    );
    const fenced = firstLogged(
      lab,
      t0,
      (l) => l.event === "fence" && l.peer === owner && / fenced: /.test(l.msg),
    );
    if (detected === undefined || fenced === undefined)
      throw new Error(`web${service} moved, but no member logged m${owner} hung and fenced`);
    return {
      totalMs: answered.atMs - t0,
      detectionMs: detected - t0,
      fenceMs: fenced - detected,
      startMs: answered.atMs - fenced,
    };
  } finally {
    probe.stop();
  }
}

/** `service relocate webN` to the next member, until the target answers. */
export async function relocation(lab: Lab, service: number): Promise<number> {
  const before = await settled(lab, lab.options.sampleServiceCount ?? lab.options.members);
  const owner = Number((owners(before).get(`web${service}`) as string).slice(1));
  const target = `m${(owner + 1) % lab.options.members}`;
  const probe = new HttpProbe(lab.serviceAddress(service), lab.servicePort(service));
  probe.start();
  try {
    await lab.waitFor(`web${service} answering`, RUN_DEADLINE_MS, () =>
      probe.last?.member === `m${owner}` ? true : undefined,
    );
    const t0 = Date.now();
    const ask = () =>
      controlService(join(lab.runDir(owner), SOCKET_FILE), {
        op: "relocate",
        service: `web${service}`,
        target,
      });
    let r = await ask();
    // An owner that does not see a member that just rejoined as up yet refuses: ask again.
    for (let refused = 1; !r.ok && /is not up/.test(r.accepted) && refused < RELOCATE_ASKS; refused++) {
      await new Promise((res) => setTimeout(res, RELOCATE_RETRY_MS));
      r = await ask();
    }
    if (!r.ok) throw new Error(`relocate web${service} ${target}: ${r.accepted}; ${r.outcome}`);
    const answered = await lab.waitFor(`web${service} answered by ${target}`, RUN_DEADLINE_MS, () =>
      probe.answeredBy(target, t0),
    );
    return answered.atMs - t0;
  } finally {
    probe.stop();
  }
}

export interface IdleCost {
  cpuPercent: number;
  rssMb: number;
  /** Transfers to both quorum partitions per second. */
  diskOpsPerS: number;
}

function cpuTicks(pid: number): number {
  // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1]) / 1024;
}

async function diskOps(lab: Lab, member: number): Promise<number> {
  const d = (await lab.status(member)).counters?.disk as { reads: number; writes: number };
  return d.reads + d.writes;
}

/** One member's daemon, left alone for `seconds`. */
export async function idleCost(lab: Lab, member: number, seconds: number): Promise<IdleCost> {
  const pid = lab.pid(member);
  if (pid === undefined) throw new Error(`member ${member} is not running`);
  const [ticks0, ops0, t0] = [cpuTicks(pid), await diskOps(lab, member), Date.now()];
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const [ticks1, ops1, t1] = [cpuTicks(pid), await diskOps(lab, member), Date.now()];
  const elapsedS = (t1 - t0) / 1000;
  return {
    cpuPercent: ((ticks1 - ticks0) / CLOCK_TICKS_PER_S / elapsedS) * 100,
    rssMb: rssMb(pid),
    diskOpsPerS: (ops1 - ops0) / elapsedS,
  };
}

export const hasStressNg = spawnSync("stress-ng", ["--version"]).status === 0;

/**
 * Full CPU and disk load (stress-ng: a CPU hog per core and a writer on the partitions' own
 * filesystem) for `seconds`: every hung verdict, fence or self-fence then is a false failover.
 */
export async function falseFailovers(lab: Lab, seconds: number): Promise<number> {
  if (!hasStressNg) throw new Error("stress-ng is not installed (apt-get install stress-ng)");
  await settled(lab, lab.options.sampleServiceCount ?? lab.options.members);
  const t0 = Date.now();
  const load = spawn(
    "stress-ng",
    [
      "--cpu",
      "0",
      "--hdd",
      "1",
      "--hdd-bytes",
      "256M",
      "--temp-path",
      lab.dir.path,
      "--timeout",
      `${seconds}s`,
    ],
    { stdio: "ignore" },
  );
  await new Promise((r) => load.on("exit", r));
  let count = 0;
  for (let m = 0; m < lab.options.members; m++) {
    for (const l of lab.log(m)) {
      if (Date.parse(l.time) < t0) continue;
      if (
        (l.event === "membership" && l.to === "hung") ||
        l.event === "self-fence" ||
        /^fencing member/.test(l.msg)
      )
        count++;
    }
  }
  return count;
}
