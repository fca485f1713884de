// --json keeps its promise when a command fails: the real commands (from dist) print one JSON
// error object on standard output, with the sentence they wrote on standard error and the exit
// status they end with, and nothing of the configuration's secrets.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-json-errors-");
afterAll(() => dir.remove());
const at = (name: string) => join(dir.path, name);

const example = readFileSync("conf/cluster.conf", "utf8");
const conf = at("cluster.conf");
writeFileSync(conf, example, { mode: 0o600 });
const invalid = at("invalid.conf");
writeFileSync(invalid, example.replace(/^tko = \d+/m, "tko = many"), { mode: 0o600 });
const blankP = zeroFile(at("blank-p.img"), 4 << 20);
const blankB = zeroFile(at("blank-b.img"), 4 << 20);
const missing = at("missing");
/** Values cluster.conf keeps secret (a switch password, a fence agent's password). */
const SECRETS = ["change me", "arg.password = secret", '"secret"'];

type Cli = "cluadmin" | "cludiskutil" | "clustonith";

function run(
  cli: Cli,
  args: readonly string[],
  input = "",
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(process.cwd(), `dist/cli/${cli}.js`), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.end(input);
  });
}

interface Case {
  cli: Cli;
  args: string[];
  code: number;
  message: RegExp;
  details?: RegExp;
}

const CASES: Case[] = [
  { cli: "cluadmin", args: ["--json", "--bogus"], code: 64, message: /^unknown option '--bogus'; usage: / },
  {
    cli: "cluadmin",
    args: ["--json", "--", "frobnicate"],
    code: 64,
    message: /^unknown command "frobnicate"/,
  },
  {
    cli: "cluadmin",
    args: ["--json", "-c", conf, "--", "config", "check", "a", "b"],
    code: 64,
    message: /^config check takes at most one file; usage: config check \[FILE\]$/,
  },
  {
    cli: "cluadmin",
    args: ["--json", "-c", missing, "--", "member", "show"],
    code: 78,
    message: /^cannot read .*missing \(ENOENT\); pass the cluster configuration with -c FILE$/,
  },
  {
    cli: "cluadmin",
    args: ["--json", "-c", invalid, "--", "member", "show"],
    code: 1,
    message: /invalid\.conf is not valid:$/,
    details: /invalid\.conf:\d+: .*tko/,
  },
  {
    cli: "cluadmin",
    args: ["--json", "-c", conf, "--", "service", "show", "config", "nosuch"],
    code: 1,
    message: /^no service "nosuch"/,
  },
  {
    cli: "cluadmin",
    args: ["--json", "-c", conf, "--run-dir", at("no-daemon"), "--", "service", "restart", "web"],
    code: 69,
    message: /^service restart web: no daemon answers at .*clumanager\.sock \(ENOENT\): .*start it first$/,
  },
  { cli: "cludiskutil", args: ["--json"], code: 64, message: /^choose what to do; usage: cludiskutil / },
  {
    cli: "cludiskutil",
    args: ["--json", "-t", "--repair", "--primary", blankP, "--backup", blankB],
    code: 64,
    message: /^choose one of -t, --repair; usage: /,
  },
  {
    cli: "cludiskutil",
    args: ["--json", "--verify", "-c", missing],
    code: 78,
    message: /^cannot read .*missing \(ENOENT\); pass the cluster configuration with -c FILE$/,
  },
  {
    cli: "cludiskutil",
    args: ["--json", "--verify", "--primary", missing, "--backup", blankB],
    code: 66,
    message: /missing failed: No such file or directory \(ENOENT\)$/,
  },
  {
    cli: "cludiskutil",
    args: ["--json", "-p", "--primary", blankP, "--backup", blankB],
    code: 65,
    message: /^neither partition holds a usable header: .*initialise them with cludiskutil -I$/,
  },
  { cli: "clustonith", args: ["--json"], code: 64, message: /^choose what to do; usage: clustonith / },
  {
    cli: "clustonith",
    args: ["--json", "--type", "bogus", "--status", "--outlet", "1"],
    code: 64,
    message: /^unknown switch type "bogus"/,
  },
  {
    cli: "clustonith",
    args: ["--json", "-c", conf, "--status", "nosuch"],
    code: 64,
    message: /cluster\.conf has no member "nosuch"; the members are clu1, clu2, clu3/,
  },
  {
    cli: "clustonith",
    args: ["--json", "-c", invalid, "-S"],
    code: 64,
    message: /invalid\.conf is not valid:$/,
    details: /invalid\.conf:\d+: .*tko/,
  },
  {
    cli: "clustonith",
    args: ["--json", "--type", "fence_agent", "--agent", "fence_no_such_agent", "--status", "--outlet", "1"],
    code: 64,
    message: /^fence_agent fence_no_such_agent: finding the agent: no executable fence_no_such_agent/,
  },
];

describe("--json when the command fails", () => {
  for (const c of CASES) {
    it(`${c.cli} ${c.args.map((a) => a.replace(dir.path, "DIR")).join(" ")}: exit ${c.code}`, async () => {
      const r = await run(c.cli, c.args);
      expect(r.code).toBe(c.code);
      const printed = JSON.parse(r.out) as {
        error: { message: string; exitCode: number; details?: string[] };
      };
      expect(printed.error.exitCode).toBe(c.code);
      expect(printed.error.message).toMatch(c.message);
      // The same sentence as on standard error.
      expect(r.err.split("\n")[0]).toBe(`${c.cli}: ${printed.error.message}`);
      if (c.details !== undefined) expect(printed.error.details?.join("\n")).toMatch(c.details);
      for (const secret of SECRETS) expect(r.out).not.toContain(secret);
    });
  }

  it("clustonith's report of a switch that fails carries the exit status in its error too", async () => {
    const r = await run("clustonith", [
      "--json",
      "--type",
      "rps10",
      "--device",
      missing,
      "--status",
      "--outlet",
      "1",
    ]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, error: { kind: "disconnected", exitCode: 1 } });
  });

  it("a cluadmin script gets one error object per failed line, after the lines that succeeded", async () => {
    const r = await run(
      "cluadmin",
      ["--json", "-c", conf],
      "member show\nservice show config nosuch\nfrobnicate\n",
    );
    // The status of the first failure, as without --json.
    expect(r.code).toBe(1);
    const lines = r.out
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual(expect.arrayContaining([expect.objectContaining({ name: "clu1" })]));
    expect(lines[1]).toEqual({ error: { message: 'no service "nosuch"', exitCode: 1 } });
    expect(lines[2].error).toMatchObject({
      exitCode: 64,
      message: expect.stringMatching(/^unknown command/),
    });
    for (const secret of SECRETS) expect(r.out).not.toContain(secret);
  });

  it("without --json, standard output stays empty", async () => {
    const r = await run("cludiskutil", ["-p", "--primary", blankP, "--backup", blankB]);
    expect(r.code).toBe(65);
    expect(r.out).toBe("");
  });
});
