// A real vitest run of a file whose tool is missing (socat, hidden by a PATH without it): skipped
// with one line naming the tool, its package and the command, exit 0; under CI=true a failure with
// one sentence, exit 1. Either way its scratch folder is gone at the end of the run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-needs-run-");
afterAll(() => dir.remove());
// node alone on PATH: socat (in /usr/bin) is hidden; the sbin directories are still searched.
const bin = join(dir.path, "bin");
mkdirSync(bin);
symlinkSync(process.execPath, join(bin, "node"));

function fixtureRun(env: Record<string, string>): { status: number | null; out: string; scratch: string } {
  const out = join(dir.path, `scratch-${Object.keys(env).join("-") || "plain"}`);
  const r = spawnSync(
    process.execPath,
    ["node_modules/vitest/vitest.mjs", "run", "--config", "test/fixtures/needs/vitest.config.ts"],
    {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        CI: "",
        FORCE_COLOR: "0",
        NO_COLOR: "1",
        ...env,
        PATH: bin,
        NEEDS_FIXTURE_OUT: out,
      },
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}`, scratch: readFileSync(out, "utf8") };
}

describe("a test file whose tool is missing", () => {
  it("is skipped, named once with its package and the command that installs it, and the run passes", () => {
    const r = fixtureRun({});
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(
      "*** skipped 2 tests (1 file) that need socat (Debian package socat): run `sudo tools/test-tools.sh` to install it ***",
    );
    expect(r.out).toMatch(/\n0 passed, 0 failed, 2 skipped\n/);
    expect(r.out).not.toMatch(/ENOENT/);
    expect(existsSync(r.scratch)).toBe(false);
  });

  it("fails a CI=true run with one sentence naming the tool and its package", () => {
    const r = fixtureRun({ CI: "true" });
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain(
      "Error: socat (Debian package socat) is not installed, and a CI=true run must have it: run tools/test-tools.sh as root",
    );
    expect(r.out).toMatch(/\n0 passed, 1 failed, 2 skipped\n/);
    expect(existsSync(r.scratch)).toBe(false);
  });
});
