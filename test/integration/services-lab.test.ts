// Services on two real members (RPS-10 simulators, loop devices): an OCF agent (heartbeat:Dummy
// from resource-agents) and an LSB script that keeps a witness log. They start on their preferred
// members, fail over only after the switch confirmed the owner off, and move back with failback.
// The witness proves no two members ran the script's service at the same time.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ClusterStatus } from "../../src/admin/cluster-status.js";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { stop } from "../../src/daemon/service.js";
import { Lab } from "../helpers/lab.js";
import { needs } from "../helpers/needs.js";

let rps10: string[] = [];
const lab = new Lab({
  members: 2,
  power: (m) => ({ type: "rps10", device: rps10[m] as string }),
  services: "",
});
const witness = join(lab.dir.path, "witness.log");
const script = join(lab.dir.path, "witness.sh");

const figure = (text: string) => process.stdout.write(`  [figure] ${text}\n`);

function where(s: ClusterStatus, name: string): string | undefined {
  const row = s.services?.find((v) => v.name === name);
  return row?.state === "running" ? row.owner : undefined;
}

/** Each member's running intervals from the witness log; a member killed mid-run ends at its kill. */
function intervals(): { member: string; from: number; to: number }[] {
  const kills = readFileSync(join(lab.dir.path, "outlets.log"), "utf8")
    .trim()
    .split("\n")
    .filter((l) => l.endsWith(" off"))
    .map((l) => ({ at: Number(l.split(" ")[0]), member: `m${l.split(" ")[2]}` }));
  const out: { member: string; from: number; to: number }[] = [];
  const open = new Map<string, number>();
  // A run with no stop line ended when that member's power went off.
  const killed = (member: string, from: number) =>
    kills.find((k) => k.member === member && k.at > from)?.at ?? Number.POSITIVE_INFINITY;
  for (const line of readFileSync(witness, "utf8").trim().split("\n")) {
    const [what, member, at] = line.split(" ") as [string, string, string];
    const from = open.get(member);
    if (what === "start") {
      if (from !== undefined) out.push({ member, from, to: killed(member, from) });
      open.set(member, Number(at));
    } else if (what === "stop" && from !== undefined) {
      out.push({ member, from, to: Number(at) });
      open.delete(member);
    }
  }
  for (const [member, from] of open) out.push({ member, from, to: killed(member, from) });
  return out;
}

needs({ root: true, tools: ["socat", "ocf:heartbeat:Dummy"] })(
  "services failing over between two real members",
  () => {
    beforeAll(async () => {
      writeFileSync(
        script,
        `#!/bin/sh
# A witness: every start and stop, with the member and the time, in one shared log.
state=${lab.dir.path}/witness-running.$CLU_MEMBER
case "$1" in
  start) echo "start $CLU_MEMBER $(date +%s.%N)" >> ${witness}; touch $state ;;
  stop) [ -e $state ] && echo "stop $CLU_MEMBER $(date +%s.%N)" >> ${witness}; rm -f $state ;;
  status) [ -e $state ] && exit 0; exit 3 ;;
esac
`,
        { mode: 0o755 },
      );
      writeFileSync(witness, "");
      lab.options.services = `start service0
  name = dummy
  preferred_member = m0
  failback = yes
  check_interval = 1
  start resource0
    type = ocf
    agent = heartbeat:Dummy
  end resource0
end service0
start service1
  name = witness
  preferred_member = m1
  check_interval = 1
  start resource0
    type = script
    path = ${script}
  end resource0
end service1
`;
      await lab.create();
      rps10 = await lab.startRps10PerMember();
      await lab.startAll();
    }, 60_000);
    afterAll(async () => {
      await lab.close();
    });

    it("starts each service on its preferred member", async () => {
      const s = await lab.waitFor("both services running", 15_000, async () => {
        const st = await lab.status(0);
        return where(st, "dummy") === "m0" && where(st, "witness") === "m1" ? st : undefined;
      });
      expect(s.services?.map((v) => v.state)).toEqual(["running", "running"]);
      const out: string[] = [];
      const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
      const args = ["-c", lab.config, "--run-dir", lab.runDir(0), "--json", "--", "service", "show", "state"];
      expect(await cluadmin(args, io)).toBe(0);
      expect(JSON.parse(out[0] as string)).toMatchObject([
        { name: "dummy", state: "running", owner: "m0", restarts: 0, since: expect.any(String) },
        { name: "witness", state: "running", owner: "m1", restarts: 0 },
      ]);
      // With no daemon to ask, the same from the partitions.
      out.length = 0;
      const plain = [
        "-c",
        lab.config,
        "--run-dir",
        join(lab.dir.path, "none"),
        "--",
        "service",
        "show",
        "state",
        "witness",
      ];
      expect(await cluadmin(plain, io)).toBe(0);
      expect(out[0]).toMatch(/^service +state +owner +since +restarts\nwitness +running +m1 +\S+ +0$/);
      out.length = 0;
      expect(await cluadmin([...plain.slice(0, -1), "witnes"], io)).toBe(1);
      expect(out).toEqual(["cluadmin: no service witnes; did you mean witness?"]);
    }, 30_000);

    it("relocates, restarts, disables and enables on request, wherever it is asked", async () => {
      const ask = async (member: number, ...words: string[]) => {
        const out: string[] = [];
        const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
        const args = ["-c", lab.config, "--run-dir", lab.runDir(member), "--json", "--", "service", ...words];
        const code = await cluadmin(args, io);
        return { code, result: JSON.parse(out[0] as string) };
      };
      const startedAt = (member: string, after: number) =>
        readFileSync(witness, "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split(" "))
          .filter(([what, m, at]) => what === "start" && m === member && Number(at) * 1000 >= after)
          .map(([, , at]) => Number(at) * 1000)[0];
      // Asked at m0, carried out by the owner m1 (passed on in m0's status block), taken by m0.
      let t0 = Date.now();
      let r = await ask(0, "relocate", "witness", "m0");
      expect(r).toMatchObject({
        code: 0,
        result: { ok: true, accepted: "witness: asked m1, which has it", state: { owner: "m0" } },
      });
      let answered =
        (await lab.waitFor("the witness started on m0", 5_000, async () => startedAt("m0", t0))) - t0;
      figure(
        `service relocate, asked at a non-owner, to the service answering on the target: ${Math.round(answered)} ms`,
      );
      // Asked at its owner, to any other member: back to m1.
      t0 = Date.now();
      r = await ask(0, "relocate", "witness");
      expect(r).toMatchObject({ code: 0, result: { state: { state: "running", owner: "m1" } } });
      answered =
        (await lab.waitFor("the witness started on m1", 5_000, async () => startedAt("m1", t0))) - t0;
      figure(
        `service relocate, asked at the owner, to the service answering on the target: ${Math.round(answered)} ms`,
      );
      // Refused at once, with the reason.
      r = await ask(1, "relocate", "dummy", "m7");
      expect(r).toMatchObject({
        code: 1,
        result: { ok: false, accepted: "no member m7 in the configuration; did you mean m0?" },
      });
      // A restart where it runs.
      r = await ask(1, "restart", "dummy");
      expect(r).toMatchObject({ code: 0, result: { state: { state: "running", owner: "m0", restarts: 1 } } });
      // Disabled, it stays stopped everywhere until enabled again.
      r = await ask(1, "disable", "dummy");
      expect(r).toMatchObject({ code: 0, result: { state: { state: "disabled" } } });
      await new Promise((res) => setTimeout(res, 1_500));
      expect((await lab.status(0)).services?.find((v) => v.name === "dummy")?.state).toBe("disabled");
      r = await ask(1, "restart", "dummy");
      expect(r).toMatchObject({
        code: 1,
        result: { accepted: "dummy: is disabled, not running; nothing to restart" },
      });
      r = await ask(1, "enable", "dummy");
      expect(r).toMatchObject({ code: 0, result: { state: { state: "running", owner: "m0" } } });
    }, 60_000);

    it("moves the witness to m0 only after m1's switch confirmed it off, and keeps it there", async () => {
      const t0 = Date.now();
      lab.signal(1, "SIGSTOP");
      await lab.waitFor("the witness running on m0", 20_000, async () =>
        where(await lab.status(0), "witness") === "m0" ? true : undefined,
      );
      figure(`SIGSTOP of the witness's owner to the witness running on the survivor: ${Date.now() - t0} ms`);
      const fenced = lab
        .log(0)
        .find((l) => Date.parse(l.time) >= t0 && l.event === "fence" && / fenced: /.test(l.msg));
      const started = lab
        .log(0)
        .find(
          (l) => Date.parse(l.time) >= t0 && l.event === "service" && l.msg === "service witness: starting",
        );
      expect(fenced).toBeDefined();
      expect(Date.parse((started as { time: string }).time)).toBeGreaterThanOrEqual(
        Date.parse((fenced as { time: string }).time),
      );
      // m1 comes back in a new life; the witness has no failback, so it stays on m0.
      await lab.waitFor("m1 back", 20_000, async () =>
        (await lab.status(1)).answeredBy?.incarnation === 2 ? true : undefined,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      expect(where(await lab.status(1), "witness")).toBe("m0");
    }, 60_000);

    it("moves both to m1 when m0 hangs, then the dummy fails back to m0", async () => {
      const t0 = Date.now();
      lab.signal(0, "SIGSTOP");
      await lab.waitFor("both services on m1", 20_000, async () => {
        const st = await lab.status(1);
        return where(st, "dummy") === "m1" && where(st, "witness") === "m1" ? true : undefined;
      });
      figure(`SIGSTOP of both services' owner to both running on the survivor: ${Date.now() - t0} ms`);
      const back = Date.now();
      await lab.waitFor("the dummy back on m0", 30_000, async () =>
        where(await lab.status(1), "dummy") === "m0" ? true : undefined,
      );
      figure(`m0 restarted to the dummy failing back to it: ${Date.now() - back} ms`);
      expect(where(await lab.status(0), "witness")).toBe("m1");
    }, 60_000);

    it("a clean stop stops the member's services first, and the other member takes them", async () => {
      const t0 = Date.now();
      expect(await stop(lab.runDir(1), () => {})).toBe(0);
      const lines = lab.log(1).filter((l) => Date.parse(l.time) >= t0);
      const stoppedWitness = lines.findIndex((l) => l.msg === "service witness: stopped");
      const down = lines.findIndex((l) => l.event === "stopped");
      expect(stoppedWitness).toBeGreaterThanOrEqual(0);
      expect(down).toBeGreaterThan(stoppedWitness);
      expect(readFileSync(witness, "utf8")).toMatch(/^stop m1 /m);
      await lab.waitFor("both services on m0", 20_000, async () => {
        const st = await lab.status(0);
        return where(st, "dummy") === "m0" && where(st, "witness") === "m0" ? true : undefined;
      });
      // Nobody fenced m1: it left cleanly.
      expect(lab.log(0).filter((l) => Date.parse(l.time) >= t0 && l.event === "fence")).toEqual([]);
    }, 60_000);

    it("never ran the witness on two members at once", () => {
      const runs = intervals().sort((a, b) => a.from - b.from);
      expect(runs.length, readFileSync(witness, "utf8")).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < runs.length; i++) {
        const prev = runs[i - 1] as { member: string; to: number };
        expect(runs[i]?.from).toBeGreaterThanOrEqual(prev.to);
      }
    });
  },
);
