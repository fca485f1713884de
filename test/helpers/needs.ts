// describe() for a test file that needs root or Debian tools: it runs when they are here; when they
// are not, its tests are collected as skipped with the reason (the summary names it once, with the
// command that would run them), and under CI=true one more test fails with that reason, so a CI run
// never passes without them. The tools and their packages: tools/test-tools.list.
import { accessSync, constants, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import {
  decide,
  findTool,
  type Machine,
  type Needs,
  parseToolList,
  type Skip,
  searchPath,
} from "./needs-decision.js";

declare module "vitest" {
  interface TaskMeta {
    /** Why a suite's tests are skipped; test/summary-reporter.ts groups them by it. */
    needs?: Skip;
  }
}

const LIST = fileURLToPath(new URL("../../tools/test-tools.list", import.meta.url));
const known = parseToolList(readFileSync(LIST, "utf8"), LIST);

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const machine: Machine = {
  isRoot: typeof process.getuid === "function" && process.getuid() === 0,
  ci: process.env.CI === "true",
  known,
  find: (entry) => findTool(entry, searchPath(process.env.PATH), isExecutable),
};

export const isRoot = machine.isRoot;

/** A describe() that runs its body only where `needs` are met. */
export function needs(what: Needs): (name: string, body: () => void) => void {
  return (name, body) => {
    const verdict = decide(what, machine);
    if (verdict.run) {
      describe(name, body);
      return;
    }
    describe(name, { skip: true, meta: { needs: verdict.skip } }, body);
    const failure = verdict.failure;
    if (failure !== undefined)
      it(`${name}: has what it needs`, () => {
        throw new Error(failure);
      });
  };
}

export const needsTools = (tools: readonly string[]) => needs({ tools });

/**
 * The absolute path of a listed tool, for tests that run it themselves: a plain user's PATH lacks
 * /usr/sbin, where mkfs.ext4 and the fence agents are. Call it inside a test or hook of a needs()
 * suite, which has made sure the tool is here.
 */
export function toolPath(tool: string): string {
  const entry = known.get(tool);
  if (entry === undefined) throw new Error(`${tool} is not in ${LIST}; add it there`);
  const path = machine.find(entry);
  if (path === undefined) throw new Error(`${tool} is not installed (Debian package ${entry.pkg})`);
  return path;
}
