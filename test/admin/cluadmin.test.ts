// cluadmin end to end on real quorum partition files (on ext4, with direct I/O): changes go to the
// partitions with a view that grows by one, the file is rewritten with only the lines that
// changed, a refused change writes nothing, and concurrent cluadmin processes are serialised.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/cluadmin-main.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { emptyService, NO_OWNER, ServiceState } from "../../src/disk/service-block.js";
import { emptyStatus, MemberState } from "../../src/disk/status-block.js";
import { repairPair, verifyPair } from "../../src/disk/verify.js";
import { type ExampleCluster, exampleCluster } from "../helpers/example-cluster.js";
import { ddWrite, scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-cluadmin-");
afterAll(() => dir.remove());
let n = 0;

/** A fresh cluster: initialised partition files and a cluster.conf that points at them. */
function cluster(): Promise<ExampleCluster> {
  n++;
  return exampleCluster(dir.path, `cluster${n}`);
}

async function cluadmin(
  conf: string,
  ...words: string[]
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(["-c", conf, "-m", "clu1", "--", ...words], {
    out: (t) => (out += `${t}\n`),
    err: (t) => (err += `${t}\n`),
  });
  return { code, out, err };
}

/** Opens the cluster's partitions for `work` (to write, as a member behind cluadmin's back would). */
async function onPair<T>(
  c: { primary: string; backup: string },
  work: (pair: QuorumPair) => Promise<T>,
  write = true,
): Promise<T> {
  const pair = await QuorumPair.open(c.primary, c.backup, { write });
  try {
    return await work(pair);
  } finally {
    pair.close();
  }
}

async function stored(c: { primary: string; backup: string }): Promise<{ view: number; text: string }> {
  return onPair(c, async (pair) => (await pair.readConfig()).config, false);
}

/** How many lines differ between two texts: the changed window, after common head and tail. */
function changedLines(before: string, after: string): number {
  const a = before.split("\n");
  const b = after.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  return Math.max(a.length, b.length) - head - tail;
}

describe("cluadmin on real quorum partitions", () => {
  it("adds, modifies and deletes a service: each a new view on the partitions and in the file", async () => {
    const c = await cluster();
    const added = await cluadmin(
      c.conf,
      "service",
      "add",
      "db",
      "preferred_member=clu3",
      "resource0.type=script",
      "resource0.path=/etc/init.d/postgresql",
    );
    expect(added).toMatchObject({ code: 0, out: "service add db: done (configuration view 1).\n" });
    let copy = await stored(c);
    expect(copy.view).toBe(1);
    expect(copy.text).toBe(readFileSync(c.conf, "utf8"));
    expect(copy.text).toContain(
      "start service2\n  name = db\n  preferred_member = clu3\n  start resource0\n    type = script",
    );

    const before = readFileSync(c.conf, "utf8");
    expect((await cluadmin(c.conf, "service", "modify", "db", "max_restarts=5")).code).toBe(0);
    expect(changedLines(before, readFileSync(c.conf, "utf8"))).toBe(1);
    copy = await stored(c);
    expect(copy.view).toBe(2);

    expect((await cluadmin(c.conf, "service", "delete", "web")).code).toBe(0);
    copy = await stored(c);
    expect(copy.view).toBe(3);
    expect(copy.text).not.toContain("name = web");
    const shown = await cluadmin(c.conf, "service", "show", "config");
    expect(shown.out).toMatch(
      /^db\s+clu3\s+no\s+10 s\s+5 in 300 s\s+no\s+script \/etc\/init\.d\/postgresql$/m,
    );
    expect(shown.out).not.toMatch(/^web/m);
  });

  it("deletes only a disabled service, and reuses its slot only once no UP member runs an older view", async () => {
    const c = await cluster();
    // web (service1) as a daemon left it: running on member 1; member 2 UP in view 0.
    const web = {
      ...emptyService(1),
      name: "web",
      state: ServiceState.Running,
      owner: 1,
      ownerIncarnation: 4,
    };
    const status = (member: number, configView: number) => ({
      ...emptyStatus(member),
      state: MemberState.Up,
      incarnation: 4,
      heartbeat: 9,
      nodeName: `clu${member + 1}`,
      configView,
    });
    await onPair(c, async (pair) => {
      await pair.writeService(web);
      await pair.writeStatus(status(1, 0));
    });
    const refused = await cluadmin(c.conf, "service", "delete", "web");
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      "cluadmin: service delete web: service1 (web) is running on the quorum partitions; a service is deleted only once it is disabled: cluadmin -- service disable web\n",
    );
    expect((await stored(c)).view).toBe(0);

    await onPair(c, (pair) =>
      pair.writeService({ ...web, state: ServiceState.Disabled, owner: NO_OWNER, ownerIncarnation: 0 }),
    );
    expect((await cluadmin(c.conf, "service", "delete", "web")).code).toBe(0);
    expect((await stored(c)).view).toBe(1);
    // Member 1 still runs view 0, which has web in slot 1: a new service takes a slot never used.
    expect(
      (await cluadmin(c.conf, "service", "add", "db", "resource0.type=script", "resource0.path=/bin/true"))
        .code,
    ).toBe(0);
    expect((await stored(c)).text).toContain("start service2\n  name = db");

    // Once every UP member runs the current view, the slot is taken again, from an empty block.
    await onPair(c, (pair) => pair.writeStatus(status(1, 2)));
    expect(
      (await cluadmin(c.conf, "service", "add", "mail", "resource0.type=script", "resource0.path=/bin/true"))
        .code,
    ).toBe(0);
    expect((await stored(c)).text).toContain("start service1\n  name = mail");
    expect(await onPair(c, async (pair) => (await pair.readServices()).records[1], false)).toEqual(
      emptyService(1),
    );
  });

  it("backs the configuration up on the partitions, and restores it as a new view", async () => {
    const c = await cluster();
    expect(await cluadmin(c.conf, "cluster", "restore")).toMatchObject({
      code: 1,
      err: expect.stringContaining("there is no saved configuration"),
    });
    expect((await cluadmin(c.conf, "service", "add", "one")).code).toBe(0);
    expect(await cluadmin(c.conf, "cluster", "backup")).toMatchObject({
      code: 0,
      out: "Saved configuration view 1 on the quorum partitions (backup 1).\n",
    });
    expect((await cluadmin(c.conf, "service", "delete", "one")).code).toBe(0);
    expect((await stored(c)).text).not.toContain("name = one\n");
    expect(await cluadmin(c.conf, "cluster", "restore")).toMatchObject({
      code: 0,
      out: "cluster restore: done (configuration view 3).\n",
    });
    const copy = await stored(c);
    expect(copy.text).toContain("name = one\n");
    expect(readFileSync(c.conf, "utf8")).toBe(copy.text);

    // The saved copy is checked and mended like every other region.
    const pair = await QuorumPair.open(c.primary, c.backup, { write: true });
    try {
      const saved = pair.layout.regions.savedConfig;
      ddWrite(c.backup, saved.firstSlot * pair.layout.slotBytes + 100, Buffer.from("rot"));
      const before = await verifyPair(pair);
      expect(before.damage).toEqual([
        expect.objectContaining({ region: "savedConfig", verdict: "backup-bad", source: "primary" }),
      ]);
      expect((await repairPair(pair)).after.damage).toEqual([]);
    } finally {
      pair.close();
    }
  });

  it("refuses a change that would make the configuration invalid, and writes nothing", async () => {
    const c = await cluster();
    expect((await cluadmin(c.conf, "cluster", "loglevel", "info")).code).toBe(0);
    const fileBefore = readFileSync(c.conf);
    const partitionBefore = await stored(c);
    const refused = await cluadmin(
      c.conf,
      "service",
      "modify",
      "nfs1",
      "preferred_member=nobody",
      "check_interval=0",
    );
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/nothing was written/);
    expect(refused.err).toMatch(
      /cluster\d+\.conf:\d+: preferred_member "nobody" of service0 is not a member/,
    );
    expect(refused.err).toMatch(/check_interval in service0 must be a number of seconds from 1 to 3600$/m);
    expect(readFileSync(c.conf)).toEqual(fileBefore);
    expect(await stored(c)).toEqual(partitionBefore);
  });

  it("serialises cluadmin processes changing the configuration at once: no change is lost", async () => {
    const c = await cluster();
    const bin = join(process.cwd(), "dist/cli/cluadmin.js");
    const runs = ["alpha", "beta", "gamma", "delta"].map(
      (name) =>
        new Promise<number>((resolve) => {
          const child = spawn(
            process.execPath,
            [bin, "-c", c.conf, "-m", "clu1", "--", "service", "add", name],
            { stdio: "ignore" },
          );
          child.on("exit", (code) => resolve(code ?? -1));
        }),
    );
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0]);
    const copy = await stored(c);
    expect(copy.view).toBe(4);
    for (const name of ["alpha", "beta", "gamma", "delta"]) expect(copy.text).toContain(`name = ${name}\n`);
    expect(readFileSync(c.conf, "utf8")).toBe(copy.text);
  });

  it("keeps cluadmin processes on different members apart through the disk lock", async () => {
    const c = await cluster();
    const bin = join(process.cwd(), "dist/cli/cluadmin.js");
    // Two members, each with its own copy of the file (as on two machines), adding at once.
    const confB = `${c.conf}.clu2`;
    writeFileSync(confB, readFileSync(c.conf));
    const add = (conf: string, member: string, name: string) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [bin, "-c", conf, "-m", member, "--", "service", "add", name], {
          stdio: "ignore",
        });
        child.on("exit", (code) => resolve(code ?? -1));
      });
    const runs: Promise<number>[] = [];
    for (let i = 0; i < 3; i++) runs.push(add(c.conf, "clu1", `a${i}`), add(confB, "clu2", `b${i}`));
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0, 0, 0]);
    const copy = await stored(c);
    expect(copy.view).toBe(6);
    for (const name of ["a0", "a1", "a2", "b0", "b1", "b2"]) expect(copy.text).toContain(`name = ${name}\n`);
  });

  it("reports a shared disk it cannot reach as a failed command", async () => {
    const c = await cluster();
    const broken = `${c.conf}.broken`;
    writeFileSync(broken, readFileSync(c.conf, "utf8").replace(c.primary, "/nonexistent/p.img"));
    let err = "";
    const code = await main(["-c", broken, "-m", "clu1", "--", "cluster", "name", "x"], {
      out: () => {},
      err: (t) => (err += t),
    });
    expect(code).toBe(1);
    expect(err).toMatch(/cluadmin: cluster name x: .*\/nonexistent\/p\.img.*ENOENT/);
  });

  it("takes the configuration from the partitions once it is there, not from a stale file", async () => {
    const c = await cluster();
    expect((await cluadmin(c.conf, "service", "add", "one")).code).toBe(0);
    // Another member's copy of the file is older: it never saw "one".
    writeFileSync(c.conf, c.text);
    expect((await cluadmin(c.conf, "service", "add", "two")).code).toBe(0);
    const text = (await stored(c)).text;
    expect(text).toContain("name = one\n");
    expect(text).toContain("name = two\n");
  });

  it("checks a file: exit 0 when valid, 1 with every error when not", async () => {
    const c = await cluster();
    expect(await cluadmin(c.conf, "config", "check")).toMatchObject({
      code: 0,
      out: expect.stringContaining("valid (3 members, 2 services)"),
    });
    const bad = join(dir.path, "bad.conf");
    writeFileSync(bad, "[cluster]\nname = x\ntko = 1\n[quorum]\nprimary = /a\n");
    const r = await cluadmin(c.conf, "config", "check", bad);
    expect(r.code).toBe(1);
    expect(r.out.trim().split("\n")).toEqual([
      `${bad}:1: the file has no [members] section`,
      `${bad}:3: tko in [cluster] must be a whole number from 2 to 1000`,
      `${bad}:4: [quorum] needs "backup = ..." (an absolute path)`,
    ]);
    let out = "";
    const code = await main(["-c", c.conf, "--json", "--", "config", "check", bad], {
      out: (t) => (out += t),
      err: () => {},
    });
    expect(code).toBe(1);
    expect(JSON.parse(out)).toMatchObject({
      valid: false,
      errors: [{ line: 1 }, { line: 3, key: "tko" }, { line: 4, key: "backup" }],
    });
  });

  it("counts one member and one service in the singular", async () => {
    const one = join(dir.path, "one.conf");
    writeFileSync(
      one,
      "[cluster]\nname = one\nkey_file = /etc/clumanager/authkey\n[quorum]\nprimary = /dev/sdb1\nbackup = /dev/sdb2\n" +
        "[members]\nstart member0\n  name = clu1\n  start power\n    type = watchdog\n    timeout = 10\n  end power\nend member0\n" +
        "[services]\nstart service0\n  name = web\nend service0\n",
    );
    expect(await cluadmin(one, "config", "check")).toEqual({
      code: 0,
      out: `${one}: valid (1 member, 1 service).\n`,
      err: "",
    });
  });

  it("warns at config check of a member without fencing, and shows it no outlet", async () => {
    const c = await cluster();
    const text = readFileSync(c.conf, "utf8");
    // member2 (clu3) keeps its fence_agent block's lines, but as type none they are unknown keys:
    // replace the whole power block.
    const unfenced = text.replace(
      /(start member2[\s\S]*?)start power[\s\S]*?end power/,
      "$1start power\n    type = none\n  end power",
    );
    writeFileSync(c.conf, unfenced);
    const r = await cluadmin(c.conf, "config", "check");
    expect(r.code).toBe(0);
    expect(r.err).toBe(
      "cluadmin: warning: member clu3 has power switch type none, so nothing can switch it off: once it stops " +
        "heartbeating (hung, or its daemon died) its services are restarted on another member at once, while its " +
        "own copies may still be running; give it a real switch, or type watchdog\n",
    );
    const shown = await cluadmin(c.conf, "member", "show");
    expect(shown.out).toMatch(/^2 +clu3 +none +- +net /m);
    expect(shown.out).toMatch(/^1 +clu2 +wti_nps +2 +net /m);
  });

  it("prints the configuration with every secret value masked, and paths that merely say key shown", async () => {
    const c = await cluster();
    writeFileSync(
      c.conf,
      readFileSync(c.conf, "utf8").replace(
        "    arg.lanplus = 1\n",
        "    arg.lanplus = 1\n    arg.ssh_key = TOPSECRET\n",
      ),
    );
    const r = await cluadmin(c.conf, "cluster", "show", "config");
    expect(r.code).toBe(0);
    expect(r.out).toContain("arg.ssh_key = ***");
    expect(r.out).toContain("password = ***");
    expect(r.out).not.toMatch(/TOPSECRET|change me|= secret/);
    expect(r.out).toContain("key_file = /etc/clumanager/authkey");
  });

  it("shows members with --json, without their switch passwords", async () => {
    const c = await cluster();
    let out = "";
    const code = await main(["-c", c.conf, "--json", "--", "member", "show"], {
      out: (t) => (out += t),
      err: () => {},
    });
    expect(code).toBe(0);
    const members = JSON.parse(out);
    expect(members[1].power).toMatchObject({ type: "wti_nps", password: "***" });
    expect(members[2].power.args).toMatchObject({ ip: "10.0.0.23", password: "***" });
    expect(out).not.toContain("change me");
    expect(out).not.toContain("secret");
  });

  it("answers an unknown command with the nearest one, and usage errors with 64", async () => {
    const c = await cluster();
    expect(await cluadmin(c.conf, "servce", "show")).toMatchObject({
      code: 64,
      err: expect.stringContaining('did you mean "service show config"?'),
    });
    expect(await cluadmin(c.conf, "service", "delete")).toMatchObject({
      code: 64,
      err: expect.stringContaining("usage: service delete NAME"),
    });
    expect(await cluadmin(c.conf, "service", "delete", "nonesuch")).toMatchObject({
      code: 1,
      err: expect.stringContaining('there is no service named "nonesuch"'),
    });
    expect((await cluadmin(c.conf, "help")).out).toMatch(/^service add NAME/m);
  });

  it("refuses changes from a host that is not a member, saying how to name one", async () => {
    const c = await cluster();
    let err = "";
    const code = await main(["-c", c.conf, "-m", "stranger", "--", "cluster", "name", "other"], {
      out: () => {},
      err: (t) => (err += t),
    });
    expect(code).toBe(1);
    expect(err).toMatch(/this host is not a member named "stranger" .* --member NAME/);
  });

  it("runs a script from standard input, stopping nothing, exiting with the first failure", async () => {
    const c = await cluster();
    const bin = join(process.cwd(), "dist/cli/cluadmin.js");
    const child = spawn(process.execPath, [bin, "-c", c.conf, "-m", "clu1"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stdin.end("# a script\ncluster loglevel info\nservice delete nonesuch\nservice show config nfs1\n");
    const code = await new Promise<number>((resolve) => child.on("exit", (c2) => resolve(c2 ?? -1)));
    expect(code).toBe(1);
    expect(out).toMatch(/cluster loglevel info: done/);
    expect(out).toMatch(/^nfs1\s+clu1/m);
  });

  it("ends a piped script at quit or exit, with the status of the first failure before it", async () => {
    const c = await cluster();
    const bin = join(process.cwd(), "dist/cli/cluadmin.js");
    /** Writes the lines and keeps the pipe open: cluadmin must leave at the word, not at its end. */
    const piped = (lines: string) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, "-c", c.conf, "-m", "clu1"], {
          stdio: ["pipe", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.on("exit", (code) => {
          child.stdin.destroy();
          resolve({ code: code ?? -1, out, err });
        });
        child.stdin.write(lines);
      });
    const quit = await piped("service show config nfs1\nquit\nservice delete nonesuch\n");
    expect(quit).toMatchObject({ code: 0, err: "" });
    expect(quit.out).toMatch(/^nfs1\s+clu1/m);
    const exit = await piped("service delete nonesuch\n  exit  \nservice show config nfs1\n");
    expect(exit.code).toBe(1);
    expect(exit.err).toContain('there is no service named "nonesuch"');
    expect(exit.out).not.toMatch(/nfs1/);
  });
});
