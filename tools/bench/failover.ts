// `npm run bench`: failover figures from real members on this machine. For each timing profile
// and cluster size it measures, over repeated runs, a hung owner (SIGSTOP of its whole process
// group) and a crashed one (SIGKILL of its daemon) until a client polling every 10 ms is answered
// by a survivor, a planned relocation until the target answers, one member's idle cost, and the
// failovers that happen under full CPU and disk load when none should. Prints a table; --json
// FILE writes every sample.
//
//   npm run bench -- [--profiles fast,default] [--members 2,8,16] [--runs N] [--load-seconds S] [--json FILE]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Lab, MAX_LAB_MEMBERS } from "../lab/lab.js";
import {
  type FailoverSample,
  failover,
  falseFailovers,
  hasStressNg,
  type IdleCost,
  idleCost,
  relocation,
} from "./failover-runs.js";

/** The timing profiles the README documents. */
export const PROFILES = {
  default: { heartbeatInterval: 1, tko: 7, tkoNetup: 12, ioTimeout: 3, fenceDelay: 5 },
  fast: { heartbeatInterval: 0.2, tko: 2, tkoNetup: 10, ioTimeout: 0.3, fenceDelay: 0.1 },
} as const;
type ProfileName = keyof typeof PROFILES;

/** More services than this per lab only add processes, not information. */
const MAX_BENCH_SERVICES = 4;
const IDLE_SECONDS = 10;

interface Result {
  profile: ProfileName;
  members: number;
  hang: FailoverSample[];
  crash: FailoverSample[];
  relocateMs: number[];
  idle: IdleCost;
  loadSeconds: number;
  falseFailovers: number | undefined;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

const ms = (n: number) => (Number.isNaN(n) ? "-" : String(Math.round(n)));
const pair = (samples: number[]) => `${ms(percentile(samples, 50))} / ${ms(percentile(samples, 99))}`;

async function measure(
  profile: ProfileName,
  members: number,
  runs: number,
  loadSeconds: number,
  say: (line: string) => void,
): Promise<Result> {
  let port = 0;
  const services = Math.min(members, MAX_BENCH_SERVICES);
  const lab = new Lab({
    members,
    ...PROFILES[profile],
    sampleServices: true,
    sampleServiceCount: services,
    power: () => ({ type: "wti_nps", host: "127.0.0.1", port }),
  });
  try {
    await lab.create();
    lab.usesNps();
    port = await lab.startNps();
    await lab.startAll();
    const result: Result = {
      profile,
      members,
      hang: [],
      crash: [],
      relocateMs: [],
      idle: await idleCost(lab, 0, IDLE_SECONDS),
      loadSeconds,
      falseFailovers: undefined,
    };
    for (let i = 0; i < runs; i++) {
      result.hang.push(await failover(lab, i % services, "hang"));
      result.crash.push(await failover(lab, (i + 1) % services, "crash"));
      result.relocateMs.push(await relocation(lab, i % services));
      say(
        `  ${profile} ${members} members, run ${i + 1}/${runs}: hang ${ms((result.hang.at(-1) as FailoverSample).totalMs)} ms, ` +
          `crash ${ms((result.crash.at(-1) as FailoverSample).totalMs)} ms, relocate ${ms(result.relocateMs.at(-1) as number)} ms`,
      );
    }
    if (loadSeconds > 0 && hasStressNg) result.falseFailovers = await falseFailovers(lab, loadSeconds);
    return result;
  } finally {
    await lab.close();
  }
}

function table(results: Result[]): string {
  const head = [
    "profile",
    "members",
    "hung p50 / p99",
    "detect p50",
    "fence p50",
    "start p50",
    "crash p50 / p99",
    "relocate p50 / p99",
    "idle CPU %",
    "RSS MB",
    "disk ops/s",
    "false failovers",
  ];
  const rows = results.map((r) => [
    r.profile,
    String(r.members),
    pair(r.hang.map((s) => s.totalMs)),
    ms(
      percentile(
        r.hang.map((s) => s.detectionMs),
        50,
      ),
    ),
    ms(
      percentile(
        r.hang.map((s) => s.fenceMs),
        50,
      ),
    ),
    ms(
      percentile(
        r.hang.map((s) => s.startMs),
        50,
      ),
    ),
    pair(r.crash.map((s) => s.totalMs)),
    pair(r.relocateMs),
    r.idle.cpuPercent.toFixed(1),
    r.idle.rssMb.toFixed(0),
    r.idle.diskOpsPerS.toFixed(0),
    r.falseFailovers === undefined ? "-" : `${r.falseFailovers} in ${r.loadSeconds} s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

function usage(message: string): never {
  process.stderr.write(
    `bench: ${message}\nusage: npm run bench -- [--profiles fast,default] [--members 2,8,16] [--runs N] [--load-seconds S] [--json FILE]\n`,
  );
  process.exit(64);
}

async function main(): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        profiles: { type: "string" },
        members: { type: "string" },
        runs: { type: "string" },
        "load-seconds": { type: "string" },
        json: { type: "string" },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const profiles = (values.profiles ?? "fast,default").split(",") as ProfileName[];
  for (const p of profiles) if (!(p in PROFILES)) usage(`--profiles takes fast and default, not ${p}`);
  const sizes = (values.members ?? "2,8,16").split(",").map(Number);
  for (const n of sizes)
    if (!Number.isInteger(n) || n < 2 || n > MAX_LAB_MEMBERS)
      usage(`--members takes sizes from 2 to ${MAX_LAB_MEMBERS}, not ${n}`);
  const runs = Number(values.runs ?? 10);
  if (!Number.isInteger(runs) || runs < 1) usage(`--runs must be a whole number of at least 1`);
  const loadSeconds = Number(values["load-seconds"] ?? 60);
  if (!(loadSeconds >= 0)) usage("--load-seconds must be 0 or more");
  if (loadSeconds > 0 && !hasStressNg)
    process.stderr.write(
      "bench: stress-ng is not installed, so false failovers under load are not measured\n",
    );
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const results: Result[] = [];
  for (const profile of profiles) {
    for (const members of sizes) {
      // The load test is the fast profile's promise; the default one has seconds of slack.
      results.push(await measure(profile, members, runs, profile === "fast" ? loadSeconds : 0, say));
    }
  }
  say("\ntimes in ms: a client polling every 10 ms, from the fault (or the request) to an answer");
  say(table(results));
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});
