// Tests that need root (loop devices, blockdev --setro). CI runs as root, so there they must run:
// a CI run without root fails rather than skipping quietly. Elsewhere they are skipped, loudly.
import { describe } from "vitest";

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

export function describeAsRoot(name: string, body: () => void): void {
  if (isRoot) {
    describe(name, body);
    return;
  }
  if (process.env.CI === "true") {
    throw new Error(`"${name}" needs root and CI must run as root; run .ci/run as root`);
  }
  process.stderr.write(`\n*** SKIPPED (needs root): ${name} ***\n\n`);
  describe.skip(name, body);
}
