// The init-service front as an administrator drives it: the SysV script in conf/ calling
// clumanager start|stop|restart|status|reload|condrestart, with LSB exit codes.
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { main as clumanager } from "../../src/cli/clumanager-main.js";
import { DAEMON_EXIT } from "../../src/daemon/run.js";
import { Lab } from "../helpers/lab.js";
import { describeAsRoot } from "../helpers/root.js";
import { scratchDir } from "../helpers/scratch.js";

const INIT_SCRIPT = resolve("conf/clumanager");
// Member 0 fences itself through a watchdog: a file stands in for the device, so the test can see
// every keepalive and the magic close.
const lab = new Lab({
  members: 2,
  power: (m) =>
    m === 0 ? { type: "watchdog", device: watchdogFile } : { type: "wti_nps", host: "127.0.0.1", port: 9 },
});
let watchdogFile = "";
const startDir = scratchDir("clumanager-start-");
afterAll(() => startDir.remove());
let wrapper = "";
let logFile = "";

function init(action: string, config = lab.config): { status: number; out: string } {
  const r = spawnSync("sh", [INIT_SCRIPT, action], {
    encoding: "utf8",
    timeout: 60_000,
    env: {
      ...process.env,
      CLUMANAGER: wrapper,
      CLUSTER_CONF: config,
      CLUMANAGER_OPTS: `--member m0 --run-dir ${lab.runDir(0)} --lab --log-file ${logFile}`,
    },
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe("clumanager's command line", () => {
  it("refuses an unknown action with LSB status 2 and the usage", async () => {
    const err: string[] = [];
    const code = await clumanager(["launch"], { out: () => {}, err: (t) => err.push(t) });
    expect(code).toBe(2);
    expect(err.join("")).toMatch(/unknown action "launch"\nusage: clumanager/);
  });

  it("runs the daemon only in the foreground", async () => {
    const err: string[] = [];
    expect(await clumanager(["daemon"], { out: () => {}, err: (t) => err.push(t) })).toBe(DAEMON_EXIT.usage);
    expect(err.join("")).toContain("use clumanager start");
  });

  it("names the file and what to do when the configuration cannot be read", async () => {
    const err: string[] = [];
    const code = await clumanager(["daemon", "--foreground", "-c", "/nonexistent/cluster.conf"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    expect(code).toBe(DAEMON_EXIT.config);
    expect(err.join("")).toBe(
      "clumanager: cannot read /nonexistent/cluster.conf (ENOENT); pass the cluster configuration with -c FILE",
    );
  });

  it("start says why a daemon that cannot read its configuration gave up, with LSB status 6", () => {
    const log = join(startDir.path, "start.log");
    writeFileSync(log, "clumanager: an error of an earlier start\n");
    const r = spawnSync(
      process.execPath,
      [
        resolve("dist/cli/clumanager.js"),
        "start",
        "-c",
        "/nonexistent/cluster.conf",
        "--run-dir",
        join(startDir.path, "run"),
        "--log-file",
        log,
      ],
      { encoding: "utf8", timeout: 40_000 },
    );
    expect(r.status).toBe(6);
    expect(`${r.stdout}${r.stderr}`).toBe(
      "clumanager: cannot read /nonexistent/cluster.conf (ENOENT); pass the cluster configuration with -c FILE\n" +
        `clumanager: the daemon exited with status 78 before joining; see ${log}\n`,
    );
  }, 45_000);

  it("warns at start of a cluster.conf holding secrets that others can read, even when the start fails", async () => {
    // The example's partitions (/dev/sdb1, /dev/sdb2) are not there, so the start fails after
    // the file was read; its warning must not go with it.
    const file = join(startDir.path, "exposed.conf");
    writeFileSync(
      file,
      readFileSync("conf/cluster.conf", "utf8").replaceAll("/dev/sdb", join(startDir.path, "none")),
    );
    chmodSync(file, 0o644);
    const err: string[] = [];
    const code = await clumanager(["daemon", "--foreground", "-c", file, "--member", "clu1", "--lab"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    expect(code).toBe(DAEMON_EXIT.cannotJoin);
    expect(err[0]).toMatch(
      new RegExp(
        `^clumanager: warning: ${file} holds secrets \\(password on line \\d+ and 1 more\\) and is readable by group and others \\(mode 0644\\)`,
      ),
    );
    expect(err.join("\n")).not.toMatch(/change me|= secret/);
  });
});

describe("a member without fencing", () => {
  it("is warned of at daemon start, even when the start fails", async () => {
    const file = join(startDir.path, "unfenced.conf");
    const text = readFileSync("conf/cluster.conf", "utf8").replaceAll(
      "/dev/sdb",
      join(startDir.path, "none"),
    );
    writeFileSync(
      file,
      text.replace(
        /(start member2[\s\S]*?)start power[\s\S]*?end power/,
        "$1start power\n    type = none\n  end power",
      ),
      { mode: 0o600 },
    );
    const err: string[] = [];
    const code = await clumanager(["daemon", "--foreground", "-c", file, "--member", "clu1", "--lab"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    expect(code).toBe(DAEMON_EXIT.cannotJoin);
    expect(err[0]).toBe(
      "clumanager: warning: member clu3 has power switch type none, so nothing can switch it off: once it " +
        "stops heartbeating (hung, or its daemon died) its services are restarted on another member at once, " +
        "while its own copies may still be running; give it a real switch, or type watchdog",
    );
  });
});

describeAsRoot("the SysV init script", () => {
  beforeAll(async () => {
    watchdogFile = join(lab.dir.path, "watchdog");
    writeFileSync(watchdogFile, "");
    await lab.create();
    lab.writeConfig();
    wrapper = join(lab.dir.path, "clumanager-wrapper");
    logFile = join(lab.dir.path, "service.log");
    writeFileSync(
      wrapper,
      `#!/bin/sh\nexec ${process.execPath} ${resolve("dist/cli/clumanager.js")} "$@"\n`,
      {
        mode: 0o755,
      },
    );
  }, 30_000);
  afterAll(async () => {
    init("stop");
    await lab.close();
  });

  it("status says 3 before start, start joins, status says 0, and a second start is harmless", () => {
    expect(init("status")).toEqual({ status: 3, out: "clumanager is not running\n" });
    const started = init("start");
    expect(started.status).toBe(0);
    expect(started.out).toMatch(/^clumanager started \(pid \d+\)\n$/);
    expect(init("status").out).toMatch(/^clumanager is running \(pid \d+\)\n$/);
    expect(init("start")).toMatchObject({ status: 0, out: expect.stringContaining("already running") });
  }, 60_000);

  it("checks its peers' power switches and says which one does not answer", async () => {
    const row = await lab.waitFor("the switch check of member 1", 10_000, async () => {
      const r = (await lab.status(0)).members[1];
      return r?.power.check !== undefined ? r : undefined;
    });
    expect(row.power.check).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^wti_nps 127\.0\.0\.1:9: /),
    });
    const log = readFileSync(logFile, "utf8");
    expect(log).toContain("the power switch of member m1 does not answer, so fencing it would fail");
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    expect(
      await cluadmin(["-c", lab.config, "--run-dir", lab.runDir(0), "--", "cluster", "status"], io),
    ).toBe(0);
    expect(out.join("\n")).toMatch(/^0 +m0 +up +1 .* self +watchdog \S+\/watchdog$/m);
    expect(out.join("\n")).toMatch(/^1 +m1 +unknown .*wti_nps 127\.0\.0\.1 outlet 2 \(NOT ANSWERING\)$/m);
    expect(out.join("\n")).toContain(
      "power switches not answering (fencing these members would fail):\n  m1: wti_nps",
    );
  });

  it("feeds the member's watchdog after each write to both partitions", async () => {
    const fed = statSync(watchdogFile).size;
    await new Promise((r) => setTimeout(r, 1_000));
    // Five heartbeats a second; each successful one is a keepalive byte.
    expect(statSync(watchdogFile).size).toBeGreaterThanOrEqual(fed + 3);
    expect(readFileSync(watchdogFile).subarray(-1)).toEqual(Buffer.from([0]));
  });

  it("reload re-reads the configuration; condrestart restarts a running daemon", () => {
    expect(init("reload").status).toBe(0);
    const before = Number(/pid (\d+)/.exec(init("status").out)?.[1]);
    expect(init("condrestart").status).toBe(0);
    const after = Number(/pid (\d+)/.exec(init("status").out)?.[1]);
    expect(after).not.toBe(before);
    const log = readFileSync(logFile, "utf8");
    expect(log).toContain("reloaded");
    expect(log).toContain("marked DOWN on the quorum partitions; leaving cleanly");
  }, 60_000);

  it("stop leaves cleanly; stop, status and reload of a stopped daemon give 0, 3 and 7", () => {
    expect(init("stop")).toEqual({ status: 0, out: "clumanager stopped\n" });
    // The magic close: a member that left cleanly disarms its watchdog.
    expect(readFileSync(watchdogFile, "latin1").at(-1)).toBe("V");
    expect(init("stop")).toEqual({ status: 0, out: "clumanager is not running\n" });
    expect(init("status").status).toBe(3);
    expect(init("reload").status).toBe(7);
    expect(init("condrestart")).toEqual({ status: 0, out: "" });
    expect(init("status").status).toBe(3);
  }, 60_000);

  it("status is 1 when the pid file names a process that is gone", () => {
    writeFileSync(join(lab.runDir(0), "clumanager.pid"), "999999\n");
    expect(init("status")).toEqual({
      status: 1,
      out: "clumanager is not running, but its pid file names pid 999999\n",
    });
  });

  it("a start on an invalid configuration fails with 6, says why and points at the log", () => {
    const broken = join(lab.dir.path, "broken.conf");
    writeFileSync(broken, readFileSync(lab.config, "utf8").replace(/^tko = \d+$/m, "tko = many"));
    const r = init("start", broken);
    expect(r.status).toBe(6);
    expect(r.out).toMatch(
      new RegExp(
        `^clumanager: ${broken} is not a valid configuration:\n${broken}:\\d+: tko in \\[cluster\\] .*\n` +
          `clumanager: the daemon exited with status 78 before joining; see ${logFile}\n$`,
      ),
    );
    expect(readFileSync(logFile, "utf8")).toMatch(/broken\.conf:\d+: .*tko/);
    expect(init("bogus").status).toBe(2);
  }, 60_000);
});
