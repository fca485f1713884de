// Resources against real programs: LSB scripts written here, and Debian's resource-agents
// (ocf:heartbeat:Dummy), which .ci/run installs.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OcfResource } from "../../src/services/ocf.js";
import type { ResourceContext } from "../../src/services/resource.js";
import { ScriptResource } from "../../src/services/script.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());

function context(): ResourceContext & { lines: string[] } {
  const lines: string[] = [];
  return { cluster: "lab", member: "m0", service: "web", index: 0, log: (l) => lines.push(l), lines };
}

/** An init script whose state is a file, and which records the environment it ran with. */
function lsbScript(name: string, body = ""): string {
  const path = join(dir.path, name);
  const state = `${path}.running`;
  writeFileSync(
    path,
    `#!/bin/sh
env | grep ^CLU_ | sort > ${path}.env
${body}
case "$1" in
  start) echo "starting $CLU_SERVICE"; touch ${state} ;;
  stop) echo "stopping"; rm -f ${state} ;;
  status) [ -e ${state} ] && exit 0; exit 3 ;;
  *) exit 2 ;;
esac
`,
    { mode: 0o755 },
  );
  return path;
}

describe("an LSB script resource", () => {
  it("starts, reports running, stops and reports stopped, with its output in the log", async () => {
    const ctx = context();
    const r = new ScriptResource(lsbScript("good"));
    expect(await r.status(ctx)).toBe("stopped");
    await r.start(ctx);
    expect(await r.status(ctx)).toBe("running");
    await r.stop(ctx);
    expect(await r.status(ctx)).toBe("stopped");
    expect(ctx.lines).toContain(`script ${dir.path}/good start: starting web`);
    expect(readFileSync(`${dir.path}/good.env`, "utf8")).toBe(
      "CLU_CLUSTER=lab\nCLU_MEMBER=m0\nCLU_SERVICE=web\n",
    );
  });

  it("treats a status that is neither 0 nor 3 as a failure, naming the code", async () => {
    const r = new ScriptResource(lsbScript("odd", '[ "$1" = status ] && exit 4'));
    await expect(r.status(context())).rejects.toThrow(
      `script ${dir.path}/odd: status: exited with status 4, which is neither 0 (running) nor 3 (stopped)`,
    );
  });

  it("kills a start that runs past its deadline, and says so", async () => {
    const r = new ScriptResource(lsbScript("slow", '[ "$1" = start ] && exec sleep 30'), { start: 300 });
    const t0 = Date.now();
    await expect(r.start(context())).rejects.toMatchObject({
      kind: "timeout",
      message: `script ${dir.path}/slow: start: did not finish within 300 ms and was killed`,
    });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it("refuses a script that does not exist or cannot run", async () => {
    await expect(new ScriptResource(join(dir.path, "nope")).start(context())).rejects.toThrow(
      `${dir.path}/nope does not exist`,
    );
    const plain = join(dir.path, "plain");
    writeFileSync(plain, "#!/bin/sh\n", { mode: 0o644 });
    await expect(new ScriptResource(plain).start(context())).rejects.toThrow(
      "is not an executable file; chmod +x it",
    );
  });

  it("finishes when the script exits, though a daemon it started still holds its output", async () => {
    const pidFile = join(dir.path, "daemon.pid");
    // As many init scripts do: start a daemon that inherits stdout, and return at once.
    const r = new ScriptResource(
      lsbScript("daemonizes", `[ "$1" = start ] && { sleep 30 & echo $! > ${pidFile}; exit 0; }`),
    );
    const t0 = Date.now();
    await r.start(context());
    expect(Date.now() - t0).toBeLessThan(5_000);
    process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
  });

  it("logs at most a bounded number of output lines", async () => {
    const ctx = context();
    const r = new ScriptResource(lsbScript("chatty", '[ "$1" = start ] && { seq 1 500; exit 0; }'));
    await r.start(ctx);
    expect(ctx.lines.length).toBe(201);
    expect(ctx.lines.at(-1)).toBe(`script ${dir.path}/chatty start: 300 more lines of output not logged`);
  });
});

needsTools(["ocf:heartbeat:Dummy"])("an OCF resource agent (heartbeat:Dummy from resource-agents)", () => {
  it("starts, monitors running, stops, monitors not running, with OCF_RESKEY_ parameters", async () => {
    const ctx = context();
    const state = join(dir.path, "dummy.state");
    const r = new OcfResource("heartbeat:Dummy", { state });
    expect(await r.status(ctx)).toBe("stopped");
    await r.start(ctx);
    expect(existsSync(state)).toBe(true);
    expect(await r.status(ctx)).toBe("running");
    await r.stop(ctx);
    expect(existsSync(state)).toBe(false);
    expect(await r.status(ctx)).toBe("stopped");
    // Stopping what is stopped succeeds, as OCF requires.
    await r.stop(ctx);
  });

  it("names an agent that is not installed, and refuses a malformed agent name", async () => {
    await expect(new OcfResource("heartbeat:NoSuchAgent", {}).start(context())).rejects.toThrow(
      "there is no agent /usr/lib/ocf/resource.d/heartbeat/NoSuchAgent; install the package that provides it",
    );
    expect(() => new OcfResource("../../bin/sh", {})).toThrow('"../../bin/sh" is not PROVIDER:TYPE');
    expect(() => new OcfResource("heartbeat:Dummy", { "a;b": "x" })).toThrow(
      'parameter name "a;b" is not valid',
    );
  });

  it("reports an agent's failure with the OCF meaning of its code", async () => {
    // Dummy validates that its state file's directory exists: a missing one is "not configured".
    const r = new OcfResource("heartbeat:Dummy", { state: "/nonexistent/dir/dummy.state" });
    await expect(r.start(context())).rejects.toThrow(/^ocf heartbeat:Dummy: start: exited with \d+ \(/);
  });
});
