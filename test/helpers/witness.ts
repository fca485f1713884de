// The witness service: a script resource that, while it runs, appends "alive" lines with the
// member, its run and the time to its service's log. Runs read back from the logs must never
// overlap in time: that is what "no service runs twice" looks like from outside the cluster.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface WitnessRun {
  service: string;
  member: string;
  id: string;
  from: number;
  to: number;
}

/** The log a witness of `service` writes, in `dir`. */
export function witnessLog(dir: string, service: string): string {
  return join(dir, `witness-${service}.log`);
}

/** Writes the witness script at `path`; its logs and pid files go in `dir`. */
export function writeWitness(path: string, dir: string): void {
  writeFileSync(
    path,
    `#!/bin/sh
log=${dir}/witness-$CLU_SERVICE.log
pidf=${dir}/witness-$CLU_SERVICE.$CLU_MEMBER.pid
running() { [ -e $pidf ] && kill -0 "$(cat $pidf)" 2>/dev/null; }
case "$1" in
  start)
    running && exit 0
    run=$CLU_MEMBER-$(date +%s%N)
    echo "start $CLU_MEMBER $run $(date +%s.%N)" >> $log
    (while :; do echo "alive $CLU_MEMBER $run $(date +%s.%N)" >> $log; sleep 0.1; done) >/dev/null 2>&1 &
    echo $! > $pidf
    echo "$run" > $pidf.run ;;
  stop)
    if running; then
      kill "$(cat $pidf)"
      while kill -0 "$(cat $pidf)" 2>/dev/null; do sleep 0.02; done
      echo "stop $CLU_MEMBER $(cat $pidf.run) $(date +%s.%N)" >> $log
    fi
    rm -f $pidf $pidf.run ;;
  status) running && exit 0; exit 3 ;;
esac
`,
    { mode: 0o755 },
  );
}

/** Every run of each service's witness, from its first line to its last, oldest first. */
export function witnessRuns(dir: string, services: readonly string[]): WitnessRun[] {
  const out = new Map<string, WitnessRun>();
  for (const service of services) {
    for (const line of readFileSync(witnessLog(dir, service), "utf8").trim().split("\n")) {
      if (line === "") continue;
      const [, member, id, at] = line.split(" ") as [string, string, string, string];
      const t = Number(at);
      const r = out.get(id);
      if (r === undefined) out.set(id, { service, member, id, from: t, to: t });
      else {
        r.from = Math.min(r.from, t);
        r.to = Math.max(r.to, t);
      }
    }
  }
  return [...out.values()].sort((a, b) => a.from - b.from);
}

/** Each pair of runs of one service that overlap in time, as a sentence. */
export function overlappingRuns(all: readonly WitnessRun[]): string[] {
  const found: string[] = [];
  for (const service of new Set(all.map((r) => r.service))) {
    const mine = all.filter((r) => r.service === service);
    for (let i = 1; i < mine.length; i++) {
      const a = mine[i - 1] as WitnessRun;
      const b = mine[i] as WitnessRun;
      if (b.from < a.to)
        found.push(`${service}: ${a.member} ran until ${a.to}, but ${b.member} started at ${b.from}`);
    }
  }
  return found;
}
