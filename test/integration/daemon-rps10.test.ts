// Two members as real processes on loop devices, fenced through simulated RPS-10s on
// pseudo-terminals whose outlets kill and restart the member processes. Detection and fence times
// are printed; they are figures, not assertions (the waits below are correctness bounds only).
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { changeConfig } from "../../src/admin/change.js";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { setEntry } from "../../src/config/edit.js";
import type { MemberConfig } from "../../src/config/model.js";
import { validateText } from "../../src/config/validate.js";
import { JoinError, join as joinCluster } from "../../src/daemon/join.js";
import { processRunning } from "../../src/daemon/pid-file.js";
import { DAEMON_EXIT } from "../../src/daemon/run.js";
import { stop } from "../../src/daemon/service.js";
import { mailboxIndex, slotOffset } from "../../src/disk/layout.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { Lab, type LogLine } from "../helpers/lab.js";
import { needs } from "../helpers/needs.js";

const lab = new Lab({
  members: 2,
  // Wired as on real hardware: each member's outlet is on a switch whose serial line only its
  // peer opens, so a member that hangs never holds the line its own fence needs.
  power: (m) => ({ type: "rps10", device: rps10[m] as string }),
  serial: (m) => cable[m],
});
let rps10: string[] = [];
let cable: string[] = [];

function after(lines: LogLine[], sinceMs: number, match: (l: LogLine) => boolean): LogLine | undefined {
  return lines.find((l) => Date.parse(l.time) >= sinceMs && match(l));
}

const figure = (text: string) => process.stdout.write(`  [figure] ${text}\n`);

needs({ root: true, tools: ["socat"] })("two members fenced through an RPS-10 simulator", () => {
  beforeAll(async () => {
    await lab.create();
    rps10 = await lab.startRps10PerMember();
    cable = await lab.startSerialCable();
    await lab.startAll();
  }, 60_000);
  afterAll(async () => {
    await lab.close();
  });

  it("shows both members up, with their channels and switches, on the admin socket and in cluadmin", async () => {
    const s = await lab.waitFor("member 1's UDP and serial channels to be ok", 5_000, async () => {
      const st = await lab.status(0);
      return st.members[1]?.channels.join() === "ok,ok" ? st : undefined;
    });
    expect(s.answeredBy).toMatchObject({ id: 0, name: "m0", incarnation: 1 });
    expect(s.members.map((m) => [m.name, m.state])).toEqual([
      ["m0", "up"],
      ["m1", "up"],
    ]);
    expect(s.members[1]?.power).toMatchObject({ type: "rps10", device: rps10[1], outlet: "1" });

    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    const code = await cluadmin(
      ["-c", lab.config, "--run-dir", lab.runDir(1), "--json", "--", "cluster", "status"],
      io,
    );
    expect(code).toBe(0);
    const fromM1 = JSON.parse(out.join(""));
    expect(fromM1.answeredBy.name).toBe("m1");
    expect(fromM1.members.map((m: { state: string }) => m.state)).toEqual(["up", "up"]);
    // Every heartbeat writes both copies and reads them: the counters show the transfers.
    const { beats, disk } = fromM1.counters as { beats: number; disk: { reads: number; writes: number } };
    expect(disk.writes).toBeGreaterThanOrEqual(2 * beats);
    expect(disk.reads).toBeGreaterThanOrEqual(beats);
  });

  it("logs a damaged block once, serves the good copy, and leaves it to its owner", async () => {
    const pair = await QuorumPair.open(lab.shared[0], lab.shared[1], { write: false });
    const { layout } = pair;
    const slot = pair.region("mailbox").firstSlot + mailboxIndex(layout, 1, 0);
    pair.close();
    const t0 = Date.now();
    // Member 0's mailbox block to member 1, on the primary only: member 1 reads it every beat.
    execFileSync(
      "dd",
      [
        `of=${lab.shared[0]}`,
        `bs=${layout.blockSize}`,
        `seek=${slotOffset(layout, slot) / layout.blockSize}`,
        "oflag=direct",
        "conv=notrunc",
        "status=none",
      ],
      { input: Buffer.alloc(layout.blockSize, 0x5a) },
    );
    const line = await lab.waitFor("member 1 to log the damaged block", 5_000, () =>
      lab.log(1).find((l) => Date.parse(l.time) >= t0 && l.event === "repair"),
    );
    expect(line.msg).toMatch(
      /^quorum partition: mailbox block \d+: .*; the primary copy was left alone \(.*\)$/,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(lab.log(1).filter((l) => Date.parse(l.time) >= t0 && l.event === "repair")).toHaveLength(1);
    expect((await lab.status(1)).counters?.repairs).toBeGreaterThan(3);
    expect((await lab.status(1)).members.map((m) => m.state)).toEqual(["up", "up"]);
  });

  it("a cut serial cable shows as a down channel and changes nothing else; the line is reopened", async () => {
    const t0 = Date.now();
    await lab.cutSerialCable();
    const cut = await lab.waitFor("member 0 to see the serial channel down", 5_000, async () => {
      const st = await lab.status(0);
      return st.members[1]?.channels.join() === "ok,down" ? st : undefined;
    });
    expect(cut.members.map((m) => m.state)).toEqual(["up", "up"]);
    cable = await lab.startSerialCable();
    await lab.waitFor("the serial channel to come back", 20_000, async () =>
      (await lab.status(0)).members[1]?.channels.join() === "ok,ok" ? true : undefined,
    );
    for (const m of [0, 1])
      expect(lab.log(m).filter((l) => Date.parse(l.time) >= t0 && l.event !== undefined)).toEqual([]);
  }, 30_000);

  it("cluster monitor prints the status again at each interval, COUNT times", async () => {
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    const args = [
      "-c",
      lab.config,
      "--run-dir",
      lab.runDir(0),
      "--json",
      "--",
      "cluster",
      "monitor",
      "0.5",
      "3",
    ];
    const started = Date.now();
    expect(await cluadmin(args, io)).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    const frames = out.map((l) => JSON.parse(l) as { members: { heartbeat?: number }[] });
    expect(frames).toHaveLength(3);
    // A live peer's counter moves from one frame to the next.
    const beats = frames.map((f) => f.members[1]?.heartbeat ?? 0);
    expect(beats[2]).toBeGreaterThan(beats[0] as number);
    const text: string[] = [];
    const plain = { out: (t: string) => text.push(t), err: (t: string) => text.push(t) };
    await cluadmin(
      ["-c", lab.config, "--run-dir", lab.runDir(0), "--", "cluster", "monitor", "0.1", "2"],
      plain,
    );
    expect(text).toHaveLength(2);
    expect(text[1]).toMatch(/^--- \d{4}-\d\d-\d\dT[\d:.]+Z\ncluster lab/);
  });

  it("with no daemon answering, cluster status reads the partitions and sees the counters move", async () => {
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    const nowhere = join(lab.dir.path, "no-daemon-here");
    const code = await cluadmin(["-c", lab.config, "--run-dir", nowhere, "--", "cluster", "status"], io);
    expect(code).toBe(0);
    const text = out.join("\n");
    expect(text).toContain(
      `read from the quorum partitions: no daemon answers at ${nowhere}/clumanager.sock (ENOENT)`,
    );
    expect(text).toMatch(/^0 +m0 +up +1 +\d+ +- +rps10 \S+ outlet 0$/m);
    expect(text).toMatch(/^1 +m1 +up +1 +\d+ +- +rps10 \S+ outlet 1$/m);
  });

  it("rewrites the local cluster.conf when another member stores a new configuration view", async () => {
    // cluadmin with a copy of the file of its own, as on another machine: m1's daemon holds m1's
    // slot, so cluadmin hands the change to it, and it stores it on the partitions. The daemons
    // must then bring their own file up to date by themselves.
    const elsewhere = join(lab.dir.path, "elsewhere.conf");
    copyFileSync(lab.config, elsewhere);
    const before = readFileSync(lab.config, "utf8");
    // Pointed at another member's daemon, cluadmin refuses: only m1's own may make m1's change.
    const astray = await changeConfig({ configPath: elsewhere, member: "m1", runDir: lab.runDir(0) }, (doc) =>
      setEntry(doc, ["cluster"], "loglevel", "notice"),
    ).catch((e: unknown) => e);
    expect(String(astray)).toContain(
      `the daemon answering in ${lab.runDir(0)} is member 0 of cluster "lab", not member 1 of "lab"; pass this member's --run-dir`,
    );
    const result = await changeConfig({ configPath: elsewhere, member: "m1", runDir: lab.runDir(1) }, (doc) =>
      setEntry(doc, ["cluster"], "loglevel", "notice"),
    );
    expect(result.view).toBe(1);
    await lab.waitFor("m1's daemon to say it stored cluadmin's change", 5_000, () =>
      lab.log(1).find((l) => l.event === "config" && /cluadmin's config-change/.test(l.msg)),
    );
    const text = await lab.waitFor("the daemons to rewrite cluster.conf", 5_000, () => {
      const now = readFileSync(lab.config, "utf8");
      return now !== before ? now : undefined;
    });
    expect(text).toBe(readFileSync(elsewhere, "utf8"));
    expect(text).toMatch(/^loglevel = notice$/m);
    // Both daemons share this lab's file: whichever looked first rewrote it, and says so.
    await lab.waitFor("a log line about the rewrite", 5_000, () =>
      [0, 1].flatMap((m) => lab.log(m)).find((l) => l.event === "config" && l.view === 1),
    );
  });

  it("fences a stopped (SIGSTOP) member, which is power-cycled and rejoins in a new incarnation", async () => {
    const t0 = Date.now();
    const oldPid = lab.signal(1, "SIGSTOP");
    const hung = await lab.waitFor("member 0 to find member 1 hung", 10_000, () =>
      after(lab.log(0), t0, (l) => l.event === "membership" && l.peer === 1 && l.to === "hung"),
    );
    const fenced = await lab.waitFor("member 0 to fence member 1", 15_000, () =>
      after(
        lab.log(0),
        t0,
        (l) => l.event === "fence" && l.peer === 1 && /^member 1 .*: fenced: /.test(l.msg),
      ),
    );
    expect(fenced.msg).toContain("the switch confirmed off");
    const back = await lab.waitFor("member 1 to rejoin", 20_000, async () => {
      const s = await lab.status(1);
      return s.answeredBy !== undefined && s.answeredBy.incarnation > 1 ? s : undefined;
    });
    expect(back.answeredBy?.incarnation).toBe(2);
    expect(processRunning(oldPid)).toBe(false);
    await lab.waitFor("member 0 to see member 1 up again", 10_000, async () => {
      const row = (await lab.status(0)).members[1];
      return row?.state === "up" && row.incarnation === 2 ? true : undefined;
    });
    figure(
      `SIGSTOP: hung after ${Date.parse(hung.time) - t0} ms, fenced (switch confirmed off) after ${Date.parse(fenced.time) - t0} ms, ` +
        `rejoined after ${Date.now() - t0} ms (heartbeat 0.2 s, tko 5, tko_netup 10)`,
    );
  }, 60_000);

  it("fences a killed (SIGKILL) member; the higher id waits fence_delay first", async () => {
    const t0 = Date.now();
    lab.signal(0, "SIGKILL");
    const hung = await lab.waitFor("member 1 to find member 0 hung", 10_000, () =>
      after(lab.log(1), t0, (l) => l.event === "membership" && l.peer === 0 && l.to === "hung"),
    );
    const firing = await lab.waitFor("member 1 to fire its switch", 15_000, () =>
      after(lab.log(1), t0, (l) => l.event === "fence" && l.peer === 0 && l.attempt === 1),
    );
    // The two-member delay (fence_delay = 1 s) lies between finding it hung and firing.
    expect(Date.parse(firing.time) - Date.parse(hung.time)).toBeGreaterThanOrEqual(900);
    const fenced = await lab.waitFor("member 1 to confirm member 0 off", 15_000, () =>
      after(lab.log(1), t0, (l) => l.event === "fence" && l.peer === 0 && / fenced: /.test(l.msg)),
    );
    await lab.waitFor("member 0 to rejoin", 20_000, async () => {
      const s = await lab.status(0);
      return s.answeredBy !== undefined && s.answeredBy.incarnation === 2 ? true : undefined;
    });
    figure(
      `SIGKILL: hung after ${Date.parse(hung.time) - t0} ms, fence fired after ${Date.parse(firing.time) - t0} ms ` +
        `(fence_delay 1 s), confirmed off after ${Date.parse(fenced.time) - t0} ms`,
    );
  }, 60_000);

  it("a clean stop marks the member DOWN, and nobody fences it", async () => {
    await lab.allUp();
    const t0 = Date.now();
    const said: string[] = [];
    expect(await stop(lab.runDir(1), (l) => said.push(l))).toBe(0);
    expect(said).toEqual(["clumanager stopped"]);
    await lab.waitFor("member 0 to see member 1 down", 5_000, async () =>
      (await lab.status(0)).members[1]?.state === "down" ? true : undefined,
    );
    // Three times the hang window: a member that left cleanly must never be found hung.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(
      after(lab.log(0), t0, (l) => l.peer === 1 && (l.event === "fence" || l.to === "hung")),
    ).toBeUndefined();
    expect(lab.log(1).at(-1)?.msg).toBe("stopped");
  }, 30_000);

  it("refuses a second daemon for a member that is already running, whatever its run directory", async () => {
    const run = (runDir: string, config = lab.config) =>
      spawnSync(
        process.execPath,
        [
          "dist/cli/clumanager.js",
          "daemon",
          "--foreground",
          "-c",
          config,
          "--member",
          "m0",
          "--run-dir",
          runDir,
          "--lab",
        ],
        { encoding: "utf8", timeout: 30_000 },
      );
    const same = run(lab.runDir(0));
    expect(same.status).toBe(DAEMON_EXIT.alreadyRunning);
    expect(same.stdout).toContain("clumanager is already running as pid");
    // Joins as m0 made here, as the daemon makes them (a second daemon on this host would first
    // find m0's heartbeat port and serial line taken). On this machine, m0's daemon holds m0's
    // slot for its life; on another machine (its own lock directory), m0's counter still moves.
    const checked = validateText(readFileSync(lab.config, "utf8"));
    if (!checked.ok) throw new Error("the lab's configuration is not valid");
    const m0 = checked.config.members[0] as MemberConfig;
    const here = await joinCluster(checked.config, m0, 0, { waitMs: 200 }).catch((e: unknown) => e);
    expect(here).toBeInstanceOf(JoinError);
    expect((here as JoinError).alreadyRunning).toBe(true);
    expect((here as JoinError).message).toBe(
      `member0 (m0) is already running on this machine: member 0's slot of the disk lock is in use by another process on this machine (pid ${lab.pid(0)}), its daemon or another cluadmin; try again when it is done`,
    );
    const otherMachine = join(lab.dir.path, "other-machine-locks");
    const elsewhere = await joinCluster(checked.config, m0, 0, { dir: otherMachine }).catch(
      (e: unknown) => e,
    );
    expect(elsewhere).toBeInstanceOf(JoinError);
    expect((elsewhere as JoinError).alreadyRunning).toBe(true);
    expect((elsewhere as JoinError).message).toContain(
      "member0 (m0) is already running somewhere: its status block is still being written",
    );
    expect(lab.pid(0)).toBeDefined();
  }, 30_000);
});
