// Tests that need root (loop devices, blockdev --setro, namespaces). CI runs as root, so there they
// must run: a CI run without root fails rather than skipping quietly. Elsewhere they are skipped,
// and the summary says so once, with the command that runs them. Root and tools: needs.ts.
import { isRoot, needs } from "./needs.js";

export { isRoot };

export function describeAsRoot(name: string, body: () => void, tools: readonly string[] = []): void {
  needs({ root: true, tools })(name, body);
}
