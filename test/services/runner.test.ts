// A service's resources as one: order, reverse order, clean-up after a failed start, and checks.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ServiceRunner } from "../../src/services/runner.js";
import { ScriptResource } from "../../src/services/script.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
const journal = join(dir.path, "journal");

/** A script that records each action in one journal, and fails the actions it is told to. */
function step(name: string, failOn: string[] = []): ScriptResource {
  const path = join(dir.path, name);
  const state = `${path}.up`;
  const fails = failOn
    .map((a) => `[ "$1" = ${a} ] && { echo "${name} $1 failed" >> ${journal}; exit 1; }`)
    .join("\n");
  writeFileSync(
    path,
    `#!/bin/sh
${fails}
case "$1" in
  start) echo "${name} start" >> ${journal}; touch ${state} ;;
  stop) echo "${name} stop" >> ${journal}; rm -f ${state} ;;
  status) [ -e ${state} ] && exit 0; exit 3 ;;
esac
`,
    { mode: 0o755 },
  );
  return new ScriptResource(path);
}

const context = { cluster: "lab", member: "m0", service: "web", log: () => {} };
const entries = () => readFileSync(journal, "utf8").trim().split("\n");

describe("a service runner", () => {
  it("starts in order, checks every resource, and stops in reverse", async () => {
    writeFileSync(journal, "");
    const runner = new ServiceRunner([step("a"), step("b"), step("c")], context);
    expect(await runner.start()).toEqual({ ok: true, cleanedUp: true, detail: "3 resources started" });
    expect(await runner.check()).toEqual({ ok: true, detail: "running" });
    expect(await runner.stop()).toEqual({ ok: true, detail: "stopped" });
    expect(entries()).toEqual(["a start", "b start", "c start", "c stop", "b stop", "a stop"]);
    expect((await runner.check()).ok).toBe(false);
  });

  it("stops what it started when a start fails part way", async () => {
    writeFileSync(journal, "");
    const runner = new ServiceRunner([step("a"), step("b", ["start"]), step("c")], context);
    const out = await runner.start();
    expect(out).toMatchObject({ ok: false, cleanedUp: true });
    expect(out.detail).toMatch(/b: start: exited with status 1$/);
    expect(entries()).toEqual(["a start", "b start failed", "b stop", "a stop"]);
  });

  it("reports a failed clean-up, having still stopped all it could", async () => {
    writeFileSync(journal, "");
    const runner = new ServiceRunner([step("a"), step("b", ["stop"]), step("c", ["start"])], context);
    const out = await runner.start();
    expect(out).toMatchObject({ ok: false, cleanedUp: false });
    expect(out.detail).toMatch(
      /c: start: exited with status 1; then stopping failed: .*b: stop: exited with status 1$/,
    );
    expect(entries()).toEqual(["a start", "b start", "c start failed", "c stop", "b stop failed", "a stop"]);
  });

  it("says which resource is not running", async () => {
    writeFileSync(journal, "");
    const b = step("b2");
    const runner = new ServiceRunner([step("a2"), b], context);
    await runner.start();
    await b.stop({ ...context, index: 1 });
    expect(await runner.check()).toEqual({ ok: false, detail: `script ${dir.path}/b2 is not running` });
  });
});
