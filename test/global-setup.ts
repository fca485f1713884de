// Every scratch folder of a test run goes into one folder of the run's own (scratchDir looks for
// it in the environment the test processes inherit), removed when the run ends: a file that was
// skipped or failed before its afterAll leaves nothing in /var/tmp. A folder left with something in
// it is named, so a test that does not clean up after itself is seen; an empty one is what a file
// made at import and then skipped, and goes without a word.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SCRATCH_ROOT_VARIABLE, scratchDir } from "../tools/lab/scratch.js";

/** At most this many leftover names are printed; the count is always given. */
const MAX_NAMED = 20;

export default function setup(): () => void {
  const root = scratchDir("clumanager-run-");
  process.env[SCRATCH_ROOT_VARIABLE] = root.path;
  return () => {
    const holdsSomething = (path: string) => !statSync(path).isDirectory() || readdirSync(path).length > 0;
    const left = readdirSync(root.path).filter((name) => holdsSomething(join(root.path, name)));
    root.remove();
    if (left.length === 0) return;
    const named = left.slice(0, MAX_NAMED).join(", ") + (left.length > MAX_NAMED ? ", ..." : "");
    process.stdout.write(
      `\nscratch: ${left.length} ${left.length === 1 ? "folder was" : "folders were"} left in ${root.path} with files in them by tests that did not remove them, and removed with it: ${named}\n`,
    );
  };
}
