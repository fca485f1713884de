// The interactive shell as a person meets it: in a real pseudo-terminal (tmux), with the prompt,
// tab completion of commands and service names, questions that check each answer, and history.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { exampleCluster } from "../helpers/example-cluster.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-shell-");
const session = `cluadmin-test-${process.pid}`;
afterAll(() => {
  try {
    execFileSync("tmux", ["kill-session", "-t", session], { stdio: "ignore" });
  } catch {
    // already gone
  }
  dir.remove();
});

const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
const screen = () => tmux("capture-pane", "-p", "-t", session);
const keys = (...k: string[]) => tmux("send-keys", "-t", session, ...k);

/** Waits until the screen shows `pattern` (capture-pane drops trailing spaces: patterns allow for it). */
async function waitFor(pattern: RegExp, ms = 10_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const text = screen();
    if (pattern.test(text)) return text;
    if (Date.now() > until) throw new Error(`the screen never showed ${pattern}:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

needsTools(["tmux"])("the cluadmin shell in a terminal", () => {
  it("prompts, completes, asks and checks, and keeps a history", async () => {
    const { conf } = await exampleCluster(dir.path, "shell");
    const history = join(dir.path, "history");
    const command = `CLUADMIN_HISTORY=${history} ${process.execPath} ${join(process.cwd(), "dist/cli/cluadmin.js")} -c ${conf} -m clu1`;
    tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "40", command);

    await waitFor(/cluadmin>\s*$/m);
    keys("serv", "Tab");
    await waitFor(/cluadmin> service\s*$/m);
    keys("show con", "Tab");
    await waitFor(/cluadmin> service show config\s*$/m);
    keys("Tab", "Tab");
    await waitFor(/nfs1\s+web/);
    keys("C-u", "sevrice show", "Enter");
    await waitFor(/did you mean "service show config"\?/);

    await waitFor(/\(try help\)\ncluadmin>\s*$/m);
    keys("service modify web preferred_member=clu");
    await waitFor(/preferred_member=clu\s*$/m);
    keys("Tab");
    await new Promise((r) => setTimeout(r, 200));
    keys("Tab");
    await waitFor(/preferred_member=clu1\s+preferred_member=clu2\s+preferred_member=clu3/);
    keys("3", "Enter");
    await waitFor(/service modify web: done \(configuration view 1\)\./);

    keys("service add web2", "Enter");
    await waitFor(/Preferred member \(empty for none\):\s*$/m);
    keys("clu2", "Enter");
    await waitFor(/Move back to the preferred member when it rejoins \(yes\/no\) \[no\]:\s*$/m);
    keys("maybe", "Enter");
    await waitFor(/failback must be yes or no/);
    await waitFor(/\[no\]:\s*$/m);
    keys("yes", "Enter");
    for (let i = 0; i < 4; i++) {
      await waitFor(/\]:\s*$/m);
      keys("Enter");
    }
    await waitFor(/service add web2: done \(configuration view 2\)\./);
    expect(readFileSync(conf, "utf8")).toMatch(
      /name = web2\n {2}preferred_member = clu2\n {2}failback = yes\n/,
    );

    keys("exit", "Enter");
    for (let i = 0; i < 100 && !existsSync(history); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(history, "utf8")).toContain("service add web2\n");
  }, 60_000);
});
