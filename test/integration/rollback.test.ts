// A backup partition rolled back to an earlier image (an array resynced from old data, a restored
// snapshot) while the cluster runs. Generations only grow across processes, lives and writers,
// so the daemons keep the current state, `cludiskutil --verify` calls the backup stale (never the
// primary, as it did when a status block's generation was its heartbeat counter and a service
// block's a per-process counter), and `--repair` mends the backup from the primary rather than
// copying the old state over the current one.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ClusterStatus } from "../../src/admin/cluster-status.js";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { main as cludiskutil } from "../../src/cli/cludiskutil-main.js";
import { stop } from "../../src/daemon/service.js";
import { decodeBlock } from "../../src/disk/block.js";
import { BlockType } from "../../src/disk/format.js";
import { slotOffset } from "../../src/disk/layout.js";
import { decodeService, type ServiceRecord } from "../../src/disk/service-block.js";
import type { Damage, VerifyReport } from "../../src/disk/verify.js";
import { Lab } from "../helpers/lab.js";
import { needs } from "../helpers/needs.js";
import {
  overlappingRuns,
  type WitnessRun,
  witnessLog,
  witnessRuns,
  writeWitness,
} from "../helpers/witness.js";

const SERVICE = "w";
/** Repair and verify race the daemons' heartbeats, which write the primary, then the backup. */
const ATTEMPTS = 5;

let rps10: string[] = [];
const lab = new Lab({
  members: 2,
  power: (m) => ({ type: "rps10", device: rps10[m] as string }),
  services: "",
});
const script = join(lab.dir.path, "witness.sh");
const image = join(lab.dir.path, "backup-earlier.img");
const figure = (text: string) => process.stdout.write(`  [figure] ${text}\n`);

function owner(s: ClusterStatus): string | undefined {
  const row = s.services?.find((v) => v.name === SERVICE);
  return row?.state === "running" ? row.owner : undefined;
}

/** Waits until both members see each other up and the service running on `member`. */
async function settledOn(member: string, timeoutMs = 20_000): Promise<ClusterStatus[]> {
  return lab.waitFor(`${SERVICE} running on ${member}, both members up`, timeoutMs, async () => {
    const views = await Promise.all([0, 1].map((m) => lab.status(m)));
    const ok = views.every((s) => s.members.every((r) => r.state === "up") && owner(s) === member);
    return ok ? views : undefined;
  });
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await cludiskutil(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

const disk = () => ["--primary", lab.shared[0], "--backup", lab.shared[1], "--json"];

async function verify(): Promise<VerifyReport & { exitCode: number }> {
  const r = await run(["--verify", ...disk()]);
  expect(r.err).toBe("");
  const report = JSON.parse(r.out) as VerifyReport & { exitCode: number };
  expect(r.code).toBe(report.exitCode);
  return report;
}

/** Bytes of a device or image, read past the page cache: the daemons write with O_DIRECT. */
function readDirect(path: string, offset: number, length: number): Buffer {
  const bs = 512;
  return execFileSync("dd", [
    `if=${path}`,
    `bs=${bs}`,
    `skip=${offset / bs}`,
    `count=${length / bs}`,
    ...(path.startsWith("/dev/") ? ["iflag=direct"] : []),
    "status=none",
  ]);
}

function serviceBlock(path: string): { generation: number; record: ServiceRecord } {
  const layout = lab.layout!;
  const slot = layout.regions.service.firstSlot;
  const block = decodeBlock(readDirect(path, slotOffset(layout, slot), layout.blockSize), {
    type: BlockType.Service,
    slot,
  });
  if (!block.ok) throw new Error(`service block of ${path}: ${block.problem}`);
  const record = decodeService(block.value.payload);
  if (!record.ok) throw new Error(`service record of ${path}: ${record.problem}`);
  return { generation: block.value.generation, record: record.value };
}

/** What must never show: the primary called stale, or the backup's old state believed. */
function wrongWay(damage: readonly Damage[]): Damage[] {
  return damage.filter((d) => d.verdict !== "backup-stale" || d.source !== "primary");
}

needs({ root: true, tools: ["socat"] })(
  "a backup partition rolled back to an earlier image under a running cluster",
  () => {
    beforeAll(async () => {
      writeWitness(script, lab.dir.path);
      writeFileSync(witnessLog(lab.dir.path, SERVICE), "");
      // No failback: the service stays where the test moves it.
      lab.options.services = `start service0
  name = ${SERVICE}
  preferred_member = m0
  check_interval = 1
  start resource0
    type = script
    path = ${script}
  end resource0
end service0
`;
      await lab.create();
      rps10 = await lab.startRps10PerMember();
      await lab.startAll();
    }, 60_000);
    afterAll(async () => {
      await lab.close();
    });

    it("keeps the current state, calls the backup stale and repairs it from the primary", async () => {
      const t0 = Date.now();
      const layout = lab.layout!;
      const [primary, backup] = lab.shared;
      await settledOn("m0");

      execFileSync("dd", [
        `if=${backup}`,
        `of=${image}`,
        "bs=512",
        `count=${layout.totalBytes / 512}`,
        "iflag=direct",
        "status=none",
      ]);
      const earlier = serviceBlock(image);
      expect(earlier.record.owner).toBe(0);

      // The owner leaves cleanly (its service moves to m1) and comes back in a new life, which an
      // administrator then gives the service back to: every block that changed was last written
      // by a process, a life or a writer younger than the image's.
      const firstLife = (await lab.status(1)).members[0]?.incarnation ?? 0;
      expect(await stop(lab.runDir(0), () => {})).toBe(0);
      await lab.waitFor(`${SERVICE} running on m1`, 20_000, async () =>
        owner(await lab.status(1)) === "m1" ? true : undefined,
      );
      lab.start(0);
      await lab.allUp();
      // The services core hears of a rejoined member a tick after `cluster status` shows it up, and
      // refuses to move a service to it until then.
      const relocate = [
        "-c",
        lab.config,
        "--run-dir",
        lab.runDir(1),
        "--",
        "service",
        "relocate",
        SERVICE,
        "m0",
      ];
      let asked = { code: -1, out: [] as string[] };
      for (let i = 0; i < 25 && asked.code !== 0; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 200));
        const out: string[] = [];
        const code = await cluadmin(relocate, { out: (t) => out.push(t), err: (t) => out.push(t) });
        asked = { code, out };
      }
      expect(asked.code, asked.out.join("\n")).toBe(0);
      const before = await settledOn("m0");
      const lives = (s: ClusterStatus) => s.members.map((r) => r.incarnation);
      expect(before[1]?.members[0]?.incarnation).toBeGreaterThan(firstLife);

      // The check means something only if the image holds an older version of the service block.
      const current = serviceBlock(primary);
      expect(current.record.ownerIncarnation).not.toBe(earlier.record.ownerIncarnation);
      expect(current.generation).toBeGreaterThan(earlier.generation);

      const rolledBackAt = Date.now();
      execFileSync("dd", [
        `if=${image}`,
        `of=${backup}`,
        "bs=512",
        "oflag=direct",
        "conv=notrunc",
        "status=none",
      ]);
      expect(serviceBlock(backup).generation).toBe(earlier.generation);

      const stale = await verify();
      expect(stale.exitCode, JSON.stringify(stale.damage)).toBe(1);
      expect(wrongWay(stale.damage)).toEqual([]);
      // Status blocks are rewritten on both copies every heartbeat, so their owners may have mended
      // them already; the service block is written only when the service changes.
      expect(stale.damage).toContainEqual(
        expect.objectContaining({
          region: "service",
          index: 0,
          verdict: "backup-stale",
          source: "primary",
          primaryGeneration: current.generation,
          backupGeneration: earlier.generation,
        }),
      );

      const repairs: number[] = [];
      for (let i = 0; i < ATTEMPTS && repairs.at(-1) !== 0; i++) {
        const r = await run(["--repair", ...disk()]);
        expect(r.err).toBe("");
        const report = JSON.parse(r.out) as { before: VerifyReport; repaired: Damage[] };
        expect(wrongWay(report.before.damage)).toEqual([]);
        expect(wrongWay(report.repaired)).toEqual([]);
        repairs.push(r.code);
      }
      expect(repairs.at(-1), `repair exit codes ${repairs.join(", ")}`).toBe(0);
      expect(repairs.every((c) => c === 0 || c === 1)).toBe(true);
      const checks: VerifyReport[] = [];
      for (let i = 0; i < ATTEMPTS && checks.at(-1)?.damage.length !== 0; i++) {
        const report = await verify();
        expect(wrongWay(report.damage)).toEqual([]);
        checks.push(report);
      }
      expect(checks.at(-1)?.damage, JSON.stringify(checks.map((c) => c.damage))).toEqual([]);
      expect(serviceBlock(backup)).toEqual(serviceBlock(primary));
      expect(serviceBlock(primary).generation).toBe(current.generation);

      // Nobody moved, fenced or left because of the rollback: same lives, same owner, both running.
      await new Promise((r) => setTimeout(r, 1_000));
      const after = await settledOn("m0", 1_000);
      expect(after.map(lives)).toEqual(before.map(lives));
      expect([lab.pid(0), lab.pid(1)]).not.toContain(undefined);
      const shown: string[] = [];
      const showIo = { out: (t: string) => shown.push(t), err: (t: string) => shown.push(t) };
      const show = ["-c", lab.config, "--run-dir", lab.runDir(1), "--json", "--", "service", "show", "state"];
      expect(await cluadmin(show, showIo), shown.join("\n")).toBe(0);
      expect(JSON.parse(shown[0] as string)).toMatchObject([
        { name: SERVICE, state: "running", owner: "m0" },
      ]);
      const alarms = [0, 1].flatMap((m) =>
        lab
          .log(m)
          .filter((l) => Date.parse(l.time) >= rolledBackAt)
          .filter((l) =>
            ["fence", "self-fence", "membership", "stopped", "write-failed"].includes(l.event ?? ""),
          )
          .map((l) => `m${m} ${l.event}: ${l.msg}`),
      );
      expect(alarms).toEqual([]);
      const outlets = join(lab.dir.path, "outlets.log");
      expect(existsSync(outlets) ? readFileSync(outlets, "utf8") : "").not.toMatch(/ off$/m);

      const all = witnessRuns(lab.dir.path, [SERVICE]);
      expect(overlappingRuns(all)).toEqual([]);
      expect(all.map((r) => r.member)).toEqual(["m0", "m1", "m0"]);
      // The last run, on the member the service moved to, is still going.
      expect(Date.now() / 1000 - (all.at(-1) as WitnessRun).to).toBeLessThan(2);
      figure(
        `rollback: verify found ${stale.damage.length} stale blocks on the backup (${stale.damage
          .map((d) => `${d.region} ${d.index}`)
          .join(", ")}); repair runs ${repairs.length}, verify runs ${checks.length}; ${Math.round(
          (Date.now() - t0) / 1000,
        )} s`,
      );
    }, 60_000);
  },
);
