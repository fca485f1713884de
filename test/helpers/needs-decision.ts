// What a test file needs (root, Debian tools) and what to do when it is not here: the decision
// alone, from the tool list's text and a view of the machine, so a unit test can make it.

/** One line of tools/test-tools.list. */
export interface ToolEntry {
  tool: string;
  pkg: string;
  /** The only place the program that runs the tool looks for it, when it does not search PATH. */
  path?: string;
}

/** Where Debian keeps root's tools; on root's PATH, not on a plain user's. */
export const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The command that installs what is missing (and that pretest runs as root). */
export const INSTALL_COMMAND = "sudo tools/test-tools.sh";

export function parseToolList(text: string, source: string): Map<string, ToolEntry> {
  const tools = new Map<string, ToolEntry>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [tool, pkg, path, ...rest] = line.split(/\s+/);
    if (
      tool === undefined ||
      pkg === undefined ||
      rest.length > 0 ||
      (path !== undefined && !path.startsWith("/"))
    )
      throw new Error(
        `${source} line ${i + 1}: "${line}" is not "COMMAND PACKAGE [/ABSOLUTE/PATH]"; fix that line`,
      );
    tools.set(tool, { tool, pkg, ...(path !== undefined ? { path } : {}) });
  });
  return tools;
}

/** Where `entry` is found: its fixed path, or the first directory of `searchPath` holding it. */
export function findTool(
  entry: ToolEntry,
  searchPath: readonly string[],
  isExecutable: (path: string) => boolean,
): string | undefined {
  if (entry.path !== undefined) return isExecutable(entry.path) ? entry.path : undefined;
  for (const dir of searchPath) {
    const candidate = `${dir.replace(/\/+$/, "")}/${entry.tool}`;
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** PATH's directories, then the sbin ones it lacks. */
export function searchPath(pathVariable: string | undefined): string[] {
  const dirs = (pathVariable ?? "").split(":").filter((d) => d !== "");
  return [...dirs, ...SBIN_DIRS.filter((d) => !dirs.includes(d))];
}

export interface Needs {
  root?: boolean;
  tools?: readonly string[];
}

export interface Machine {
  isRoot: boolean;
  ci: boolean;
  known: ReadonlyMap<string, ToolEntry>;
  find: (entry: ToolEntry) => string | undefined;
}

/** What a skipped test needs, as the summary groups it: "skipped N tests that need NEED: HOW". */
export interface Skip {
  need: string;
  how: string;
}

export type Verdict =
  | { run: true }
  | { run: false; skip: Skip /** set under CI=true, where a missing need fails the run */; failure?: string };

const list = (items: readonly string[]) =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;

export function decide(needs: Needs, machine: Machine): Verdict {
  if (needs.root === true && !machine.isRoot) {
    const skip = { need: "root", how: "run `sudo npm test` (or npm test as root) to run them" };
    return machine.ci
      ? {
          run: false,
          skip,
          failure: "this test needs root, and a CI=true run must be root: run .ci/run as root",
        }
      : { run: false, skip };
  }
  const missing: ToolEntry[] = [];
  for (const tool of needs.tools ?? []) {
    const entry = machine.known.get(tool);
    if (entry === undefined)
      throw new Error(
        `${tool} is not in tools/test-tools.list; add it there with the Debian package that has it`,
      );
    if (machine.find(entry) === undefined) missing.push(entry);
  }
  if (missing.length === 0) return { run: true };
  const packages = [...new Set(missing.map((e) => e.pkg))];
  const need = `${list(missing.map((e) => e.tool))} (Debian ${packages.length > 1 ? "packages" : "package"} ${list(packages)})`;
  const skip = { need, how: `run \`${INSTALL_COMMAND}\` to install it` };
  return machine.ci
    ? {
        run: false,
        skip,
        failure: `${need} ${missing.length > 1 ? "are" : "is"} not installed, and a CI=true run must have it: run tools/test-tools.sh as root`,
      }
    : { run: false, skip };
}
