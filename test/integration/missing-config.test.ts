// A configuration file that is not there is said the same way by every command: one sentence
// naming it and how to give the right one, and exit status 78 (EX_CONFIG). The commands run as
// an administrator runs them, from dist/.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-noconf-");
afterAll(() => dir.remove());
const missing = join(dir.path, "nowhere", "cluster.conf");
const sentence = `cannot read ${missing} (ENOENT); pass the cluster configuration with -c FILE`;

function run(cli: string, args: string[], input = ""): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(`dist/cli/${cli}.js`), ...args], {
    encoding: "utf8",
    input,
    timeout: 30_000,
    env: { ...process.env, CLUSTER_CONF: "" },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("a missing cluster.conf", () => {
  it.each([
    ["cluadmin", ["-c", missing, "--", "member", "show"]],
    ["cluadmin", ["-c", missing, "--", "service", "add", "web"]],
    ["clustonith", ["-c", missing, "-S"]],
    ["cludiskutil", ["-c", missing, "--verify"]],
    ["clumanager", ["daemon", "--foreground", "-c", missing, "--run-dir", join(dir.path, "run")]],
  ])("%s %j: one sentence and exit 78", (cli, args) => {
    const r = run(cli, args as string[]);
    expect(r.err).toBe(`${cli}: ${sentence}\n`);
    expect(r.out).toBe("");
    expect(r.status).toBe(78);
  });

  it("fails a piped cluadmin script with 78 too", () => {
    const r = run("cluadmin", ["-c", missing], "member show\n");
    expect(r.err).toBe(`cluadmin: ${sentence}\n`);
    expect(r.status).toBe(78);
  });

  it("is the same sentence in --json's error object", () => {
    const r = run("clustonith", ["--json", "-c", missing, "-S"]);
    expect(JSON.parse(r.out)).toEqual({ error: { message: sentence, exitCode: 78 } });
  });
});
