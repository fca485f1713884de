// clustonith with --type fence_agent against real agents: Debian's fence_dummy, and small script
// agents that record what they were sent or misbehave. What the user may pass, what the agent gets,
// and that clustonith itself always ends.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/clustonith-main.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-clustonith-agent-");
afterAll(() => dir.remove());

async function clustonith(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

function script(name: string, body: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

needsTools(["fence_dummy"])("clustonith --type fence_agent with Debian's fence_dummy", () => {
  it("a status read with --arg action=off is refused, and the outlet stays on", async () => {
    const statusFile = join(dir.path, "dummy.status");
    writeFileSync(statusFile, "on");
    const sw = ["--type", "fence_agent", "--agent", "fence_dummy", "--arg", `status_file=${statusFile}`];
    for (const bad of ["action=off", "plug=2", "port=2", "nodename=clu9"]) {
      const r = await clustonith(...sw, "--arg", bad, "--outlet", "1", "--status");
      expect(r.code).toBe(64);
      expect(r.err).toMatch(/^clustonith: --arg "\w+" is sent by clumanager itself/);
      expect(readFileSync(statusFile, "utf8").trim()).toBe("on");
    }
    const ok = await clustonith(...sw, "--outlet", "1", "--status");
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/Outlet 1 is on/);
    expect(readFileSync(statusFile, "utf8").trim()).toBe("on");
  });
});

describe("clustonith --type fence_agent and what the agent is sent", () => {
  const seen = join(dir.path, "agent-stdin");
  const argv = join(dir.path, "agent-argv");
  const agent = script("fence_record", `cat > ${seen}\necho "$*" > ${argv}\nexit 0`);

  it("sends the --password-file password as password=, never on argv or in output", async () => {
    const pw = join(dir.path, "bmc.pass");
    writeFileSync(pw, "bmc-secret\nsecond line\n", { mode: 0o600 });
    const sw = ["--type", "fence_agent", "--agent", agent, "--arg", "ip=10.0.0.21", "--password-file", pw];
    const r = await clustonith(...sw, "--outlet", "4", "--on", "--json");
    expect(r.code).toBe(0);
    expect(readFileSync(seen, "utf8")).toBe("ip=10.0.0.21\npassword=bmc-secret\naction=on\nplug=4\n");
    expect(readFileSync(argv, "utf8").trim()).toBe("");
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, switch: { args: { password: "***" } } });
    expect(r.out + r.err).not.toContain("bmc-secret");
    const twice = await clustonith(...sw, "--arg", "password=x", "--outlet", "4", "--on");
    expect(twice).toMatchObject({ code: 64, err: expect.stringMatching(/give the password once/) });
    const missing = await clustonith(
      ...sw.slice(0, -1),
      join(dir.path, "none.pass"),
      "--outlet",
      "4",
      "--on",
    );
    expect(missing).toMatchObject({
      code: 64,
      err: expect.stringMatching(
        /the password file \S+none\.pass does not exist; put the password on its first line/,
      ),
    });
  });

  it("sends --nodename as nodename=, before its own action and plug", async () => {
    const r = await clustonith(
      "--type",
      "fence_agent",
      "--agent",
      agent,
      "--nodename",
      "clu2",
      "--outlet",
      "3",
      "--off",
    );
    expect(r.code).toBe(0);
    expect(readFileSync(seen, "utf8")).toBe("nodename=clu2\naction=off\nplug=3\n");
    expect((await clustonith("--type", "none", "--nodename", "clu2", "--outlet", "1", "--off")).err).toMatch(
      /--nodename is for --type fence_agent/,
    );
  });

  it("with -c sends the member's name as nodename=", async () => {
    const conf = join(dir.path, "agent-cluster.conf");
    writeFileSync(
      conf,
      `[cluster]\nname = lab\n[quorum]\nprimary = /dev/null/p\nbackup = /dev/null/b\n[members]\nstart member0\n  name = clu1\n  start power\n    type = fence_agent\n    agent = ${agent}\n    outlet = 7\n  end power\nend member0\n`,
      { mode: 0o600 },
    );
    expect((await clustonith("-c", conf, "--status", "clu1")).code).toBe(0);
    expect(readFileSync(seen, "utf8")).toBe("nodename=clu1\naction=status\nplug=7\n");
  });
});

describe("clustonith and an agent that leaves a detached child holding its pipes", () => {
  it("exits within its deadline, and the child is gone", () => {
    const bin = join(process.cwd(), "dist/cli/clustonith.js");
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run "npx tsc -p ." first`);
    const pidFile = join(dir.path, "detached.pid");
    const agent = script("fence_detach", `cat > /dev/null\nsetsid sleep 300 &\necho $! > ${pidFile}\nexit 0`);
    // Killed by spawnSync after 20 s if it hangs, which shows as a null status.
    const r = spawnSync(
      process.execPath,
      [bin, "--type", "fence_agent", "--agent", agent, "--timeout", "2", "--outlet", "1", "--status"],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Outlet 1 is on/);
    const child = Number(readFileSync(pidFile, "utf8"));
    let stat = "";
    try {
      stat = readFileSync(`/proc/${child}/stat`, "utf8");
    } catch {
      // gone altogether
    }
    // Gone, or dead and only waiting to be reaped by whoever inherited it.
    expect(stat === "" || /^\d+ \(.*\) Z/.test(stat)).toBe(true);
  });
});
