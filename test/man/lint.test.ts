// The man pages pass mandoc's lint (tools/check-man.sh, which CI runs too): a raw control byte
// or a macro typo renders as garbage in `man`, and nothing else would notice.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const CHECK = "tools/check-man.sh";
needsTools(["mandoc"])("the man pages", () => {
  const dir = scratchDir("clumanager-man-");
  afterAll(() => dir.remove());

  it("draw no mandoc warning or error", () => {
    const r = spawnSync("sh", [CHECK], { encoding: "utf8" });
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  });

  it("fail the check with a raw form feed, as cluadmin(8) once held", () => {
    const page = join(dir.path, "cluadmin.8");
    const text = readFileSync("man/cluadmin.8", "latin1");
    writeFileSync(page, text.replace("\\fR[\\fIMEMBER", "\f\f\f\\fIMEMBER"), "latin1");
    const r = spawnSync("sh", [CHECK, page], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cluadmin\.8:\d+:\d+: ERROR: skipping bad character: 0xc/);
  });
});
