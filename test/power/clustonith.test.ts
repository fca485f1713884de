// clustonith end to end against every simulator: the flags, the steps it prints, --json without
// secrets, and its exit codes (0 success or on, 2 off, 1 failure, 64 usage).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/clustonith-main.js";
import { ApcSimulator } from "../../tools/sim/apc-snmp.js";
import { Rps10Simulator } from "../../tools/sim/rps10.js";
import { NpsSimulator } from "../../tools/sim/wti-nps.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-clustonith-");
const rps10 = new Rps10Simulator({ link: join(dir.path, "ttyRPS"), outlets: 4, toggleDelayMs: 50 });
const nps = new NpsSimulator({ port: 0, password: "nps-secret", outlets: 4 });
/** The options that name the simulated NPS; its port is known once it listens. */
const npsSwitch = () => ["--type", "wti_nps", "--host", "127.0.0.1", "--port", String(nps.port)];
const apc = new ApcSimulator({ port: 0, outlets: 4, community: "apc-secret" });
const passwordFile = join(dir.path, "nps.pw");
const communityFile = join(dir.path, "apc.community");

needsTools(["socat"])("clustonith, with an RPS-10 simulator on a pseudo-terminal", () => {
  beforeAll(async () => {
    writeFileSync(passwordFile, "nps-secret\n");
    writeFileSync(communityFile, "apc-secret\n");
    await Promise.all([rps10.start(), nps.start(), apc.start()]);
  });
  afterAll(async () => {
    await Promise.all([rps10.stop(), nps.stop(), apc.stop()]);
    dir.remove();
  });

  async function clustonith(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
    return { code, out, err };
  }

  async function npsIdle(): Promise<void> {
    for (let i = 0; i < 100 && nps.busy; i++) await new Promise((r) => setTimeout(r, 10));
  }

  describe("clustonith against the simulators", () => {
    it("rps10: off, status, on, reboot and -S, printing each step with its duration", async () => {
      const sw = ["--type", "rps10", "--device", rps10.link, "--outlet", "1"];
      const off = await clustonith(...sw, "--off");
      expect(off.code).toBe(0);
      expect(off.out).toMatch(/^rps10 .*ttyRPS outlet 1: off$/m);
      expect(off.out).toMatch(/^ {2}off confirmed +\d+\.\d ms {2}plug 1 off$/m);
      expect(off.out).toMatch(/Outlet 1 is off \(confirmed\); \d+ ms in all\./);
      expect(rps10.bank.get("1")).toBe("off");
      expect((await clustonith(...sw, "--status")).code).toBe(2);
      expect((await clustonith(...sw, "--on")).code).toBe(0);
      expect((await clustonith(...sw, "--status")).code).toBe(0);
      expect((await clustonith(...sw, "-r")).code).toBe(0);
      const table = await clustonith(...sw, "-S");
      expect(table.code).toBe(0);
      expect(table.out).toMatch(/^rps10 .*ttyRPS\s+rps10\s+yes\s+1\s+on$/m);
    });

    it("wti_nps: the password from a file, and never in --json", async () => {
      await npsIdle();
      const sw = [...npsSwitch(), "--password-file", passwordFile];
      const r = await clustonith(...sw, "--outlet", "3", "--off", "--json");
      expect(r.code).toBe(0);
      const json = JSON.parse(r.out);
      expect(json).toMatchObject({
        ok: true,
        state: "off",
        action: "off",
        switch: { type: "wti_nps", password: "***" },
      });
      expect(r.out).not.toContain("nps-secret");
      expect(json.steps.map((s: { step: string }) => s.step)).toEqual(
        expect.arrayContaining(["login", "off sent", "off confirmed"]),
      );
      expect(nps.bank.get("3")).toBe("off");
      await npsIdle();
      expect((await clustonith(...sw, "--outlet", "3", "--on")).code).toBe(0);
    });

    it("wti_nps: a wrong password and an unknown outlet are failures (exit 1)", async () => {
      await npsIdle();
      const wrong = await clustonith(...npsSwitch(), "--password", "nope", "--outlet", "1", "--status");
      expect(wrong.code).toBe(1);
      expect(wrong.err).toMatch(/login: the switch refused the password/);
      await npsIdle();
      const unknown = await clustonith(
        ...npsSwitch(),
        "--password-file",
        passwordFile,
        "--outlet",
        "9",
        "--status",
        "--json",
      );
      expect(unknown.code).toBe(1);
      expect(JSON.parse(unknown.out)).toMatchObject({ ok: false, error: { kind: "unknown-outlet" } });
    });

    it("apc_snmp: the community from a file, off and on, -S, and never the community in --json", async () => {
      const sw = [
        "--type",
        "apc_snmp",
        "--host",
        "127.0.0.1",
        "--port",
        String(apc.port),
        "--community-file",
        communityFile,
      ];
      expect((await clustonith(...sw, "--outlet", "2", "--off")).code).toBe(0);
      expect(apc.bank.get("2")).toBe("off");
      expect((await clustonith(...sw, "--outlet", "2", "--status")).code).toBe(2);
      const status = await clustonith(...sw, "-S", "--outlet", "2", "--json");
      expect(JSON.parse(status.out)).toMatchObject({ ok: true, state: "off", switch: { community: "***" } });
      expect(status.out).not.toContain("apc-secret");
      expect((await clustonith(...sw, "--outlet", "2", "-r", "--snmp-version", "2c")).code).toBe(0);
      expect(apc.bank.get("2")).toBe("on");
    });

    it("fence_agent: reads arguments from --arg-file, and masks its secrets in --json", async () => {
      const seen = join(dir.path, "agent-stdin");
      const agent = join(dir.path, "fence_seen");
      writeFileSync(agent, `#!/bin/sh\ncat > ${seen}\nexit 0\n`, { mode: 0o755 });
      const argFile = join(dir.path, "agent.args");
      writeFileSync(argFile, "# the BMC\nip=10.0.0.21\npassword=bmc-secret\n");
      const r = await clustonith(
        "--type",
        "fence_agent",
        "--agent",
        agent,
        "--arg-file",
        argFile,
        "--outlet",
        "4",
        "--on",
        "--json",
      );
      expect(r.code).toBe(0);
      expect(readFileSync(seen, "utf8")).toBe("ip=10.0.0.21\npassword=bmc-secret\naction=on\nplug=4\n");
      expect(JSON.parse(r.out)).toMatchObject({
        ok: true,
        confirmation: "switch",
        switch: { args: { ip: "10.0.0.21", password: "***" } },
      });
      expect(r.out).not.toContain("bmc-secret");
    });

    needsTools(["fence_dummy"])("with Debian's fence_dummy", () => {
      it("fence_agent: passes --arg to the agent", async () => {
        const statusFile = join(dir.path, "dummy.status");
        const sw = [
          "--type",
          "fence_agent",
          "--agent",
          "fence_dummy",
          "--arg",
          "type=file",
          "--arg",
          `status_file=${statusFile}`,
          "--outlet",
          "1",
        ];
        expect((await clustonith(...sw, "--on")).code).toBe(0);
        expect((await clustonith(...sw, "--status")).code).toBe(0);
        expect((await clustonith(...sw, "--off")).code).toBe(0);
        expect((await clustonith(...sw, "--status")).code).toBe(2);
      });
    });

    it("none: does nothing, says so, and claims no confirmation", async () => {
      const r = await clustonith("--type", "none", "--outlet", "1", "--off");
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/warning: power switch type 'none' does not fence/);
      expect(r.out).toMatch(/Outlet 1 was not switched: type none does nothing/);
      const json = JSON.parse((await clustonith("--type", "none", "--outlet", "1", "--off", "--json")).out);
      expect(json.confirmation).toBe("none");
    });

    it("watchdog: off waits out twice the watchdog timeout; status is not something it can do", async () => {
      const started = Date.now();
      const off = await clustonith(
        "--type",
        "watchdog",
        "--watchdog-timeout",
        "1",
        "--outlet",
        "clu2",
        "--off",
      );
      expect(off.code).toBe(0);
      expect(off.out).toMatch(/is assumed off: its watchdog has surely fired by now/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      const status = await clustonith(
        "--type",
        "watchdog",
        "--watchdog-timeout",
        "1",
        "--outlet",
        "clu2",
        "--status",
      );
      expect(status.code).toBe(1);
      expect(status.err).toMatch(/cannot report whether a member is on/);
    });

    it.each([
      [["--type", "rps10", "--device", "/dev/null", "--status"], /--status needs --outlet N/],
      [["--type", "rps10", "--device", "/dev/null", "--outlet", "1"], /choose what to do/],
      [["--type", "rps10", "--device", "/dev/null", "--outlet", "1", "--on", "--off"], /choose one action/],
      [["--type", "rps10", "--outlet", "1", "--on"], /--type rps10 needs --device PATH/],
      [
        ["--type", "wti_nps", "--host", "h", "--port", "99999", "--outlet", "1", "--on"],
        /--port needs a number from 1 to 65535/,
      ],
      [
        ["--type", "fence_agent", "--agent", "fence_dummy", "--arg", "novalue", "--outlet", "1", "--on"],
        /--arg needs key=value/,
      ],
      [["-c", "/dev/null", "--type", "none", "-S"], /drop --type and --outlet/],
      [["--type", "none", "--off", "clu1"], /naming a member \(clu1\) needs -c FILE/],
      [["--bogus"], /unknown option '--bogus'/],
      [
        ["--type", "rps10", "--device", "/dev/null", "--password", "pw", "--outlet", "1", "--on"],
        /--type rps10 takes no --password \(only wti_nps and fence_agent take one\)/,
      ],
      [
        ["--type", "wti_nps", "--host", "h", "--community-file", "/x", "--outlet", "1", "--on"],
        /--type wti_nps takes no --community-file \(only apc_snmp takes one\)/,
      ],
      [
        ["--outlet", "1", "--on"],
        /say which switch with --type, or take it from a cluster.conf with -c FILE/,
      ],
    ])("usage error %j exits 64 with one line", async (argv, message) => {
      const r = await clustonith(...(argv as string[]));
      expect(r.code).toBe(64);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    });

    it("with -c, checks every member's switch and acts on a member by name", async () => {
      await npsIdle();
      const conf = join(dir.path, "sim-cluster.conf");
      writeFileSync(
        conf,
        `[cluster]
name = lab
[quorum]
primary = /dev/null/p
backup = /dev/null/b
[members]
start member0
  name = clu1
  start power
    type = rps10
    device = ${rps10.link}
    outlet = 3
  end power
end member0
start member1
  name = clu2
  start power
    type = wti_nps
    host = 127.0.0.1
    port = ${nps.port}
    password = nps-secret
    outlet = 4
  end power
end member1
start member2
  name = clu3
  start power
    type = apc_snmp
    host = 127.0.0.1
    port = ${apc.port}
    community = apc-secret
    outlet = 4
  end power
end member2
`,
      );
      const all = await clustonith("-c", conf, "-S");
      expect(all.code).toBe(0);
      expect(all.out).toMatch(/^clu1\s+rps10 \S+\s+rps10\s+yes\s+3\s+on$/m);
      expect(all.out).toMatch(/^clu2\s+wti_nps 127\.0\.0\.1:\d+\s+wti_nps\s+yes\s+4\s+on$/m);
      expect(all.out).toMatch(/^clu3\s+apc_snmp 127\.0\.0\.1:\d+\s+apc_snmp\s+yes\s+4\s+on$/m);
      await npsIdle();
      expect((await clustonith("-c", conf, "--off", "clu2")).code).toBe(0);
      expect(nps.bank.get("4")).toBe("off");
      expect((await clustonith("-c", conf, "--status", "clu2")).code).toBe(2);
      await npsIdle();
      expect((await clustonith("-c", conf, "-r", "clu3")).code).toBe(0);
      const json = JSON.parse((await clustonith("-c", conf, "-S", "--json")).out);
      expect(json.map((r: { member: string; state: string }) => [r.member, r.state])).toEqual([
        ["clu1", "on"],
        ["clu2", "off"],
        ["clu3", "on"],
      ]);
      expect(JSON.stringify(json)).not.toContain("secret");
      // A member whose agent is not installed is a row that says so, not a crash.
      const missing = `${conf}.missing`;
      writeFileSync(
        missing,
        `${readFileSync(conf, "utf8")}start member3\n  name = clu4\n  start power\n    type = fence_agent\n    agent = fence_not_installed\n    outlet = 1\n  end power\nend member3\n`,
      );
      const partial = await clustonith("-c", missing, "-S");
      expect(partial.code).toBe(1);
      expect(partial.out).toMatch(/^clu4\s+fence_agent\s+fence_agent\s+no\s+1\s+-$/m);
      expect(partial.err).toMatch(/no executable fence_not_installed/);
      const unknown = await clustonith("-c", conf, "--status", "clu9");
      expect(unknown).toMatchObject({
        code: 64,
        err: expect.stringMatching(/has no member "clu9"; the members are clu1, clu2, clu3/),
      });
      await npsIdle();
      expect((await clustonith("-c", conf, "--on", "clu2")).code).toBe(0);
    });

    it("the installed command exits the same way as a separate process", () => {
      const bin = join(process.cwd(), "dist/cli/clustonith.js");
      if (!existsSync(bin))
        throw new Error(`${bin} is missing: run "npm install" (it compiles the commands)`);
      const r = spawnSync(process.execPath, [bin, "--type", "none", "--outlet", "1", "--status"], {
        encoding: "utf8",
      });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Outlet 1 is on/);
      expect(spawnSync(process.execPath, [bin], { encoding: "utf8" }).status).toBe(64);
    });
  });
});
