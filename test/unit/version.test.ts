// --version on each of the four commands: one line, NAME VERSION from package.json, exit 0, and
// nothing else done (no config read, no daemon asked), even where the command needs an action.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { main as cludiskutil } from "../../src/cli/cludiskutil-main.js";
import { main as clumanager } from "../../src/cli/clumanager-main.js";
import { main as clustonith } from "../../src/cli/clustonith-main.js";
import type { CommandIo } from "../../src/cli/io.js";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

function capture(): CommandIo & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return { outs, errs, out: (t) => outs.push(t), err: (t) => errs.push(t) };
}

const COMMANDS = { clumanager, cluadmin, clustonith, cludiskutil } as const;

describe("--version", () => {
  for (const [name, main] of Object.entries(COMMANDS)) {
    it(`${name} prints "${name} VERSION" and exits 0`, async () => {
      const io = capture();
      // A config that does not exist proves nothing is read before the version is printed.
      const code = await main(["--version", "-c", "/nonexistent/cluster.conf"], io);
      expect(code).toBe(0);
      expect(io.outs.join("")).toBe(`${name} ${version}\n`);
      expect(io.errs).toEqual([]);
    });
  }
});
