// The decision a test file's needs() makes: run, skip with the reason, or (CI=true) fail with it,
// from the tool list and a machine described here instead of this one.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  decide,
  findTool,
  type Machine,
  parseToolList,
  searchPath,
  type ToolEntry,
} from "../helpers/needs-decision.js";

const LIST = `# a comment
socat        socat
fence_wti    fence-agents      /usr/sbin/fence_wti
telnet       inetutils-telnet  /usr/bin/telnet
`;
const known = parseToolList(LIST, "test.list");

function machine(present: string[], o: { isRoot?: boolean; ci?: boolean } = {}): Machine {
  return {
    isRoot: o.isRoot ?? true,
    ci: o.ci ?? false,
    known,
    find: (e: ToolEntry) => (present.includes(e.tool) ? `/found/${e.tool}` : undefined),
  };
}

describe("the tool list", () => {
  it("reads command, package and an optional fixed path, and skips comments and blank lines", () => {
    expect([...known.values()]).toEqual([
      { tool: "socat", pkg: "socat" },
      { tool: "fence_wti", pkg: "fence-agents", path: "/usr/sbin/fence_wti" },
      { tool: "telnet", pkg: "inetutils-telnet", path: "/usr/bin/telnet" },
    ]);
  });

  it("names the line that is not COMMAND PACKAGE [PATH]", () => {
    expect(() => parseToolList("socat\n", "x.list")).toThrow(
      'x.list line 1: "socat" is not "COMMAND PACKAGE',
    );
    expect(() => parseToolList("\nip iproute2 sbin/ip\n", "x.list")).toThrow("x.list line 2:");
    expect(() => parseToolList("ip iproute2 /sbin/ip extra\n", "x.list")).toThrow("x.list line 1:");
  });

  it("is the file the install script reads, and lists every tool this suite asks for", () => {
    const real = parseToolList(readFileSync("tools/test-tools.list", "utf8"), "tools/test-tools.list");
    for (const tool of [
      "socat",
      "fence_dummy",
      "telnet",
      "snmpget",
      "tmux",
      "nft",
      "arping",
      "fuser",
      "stress-ng",
    ])
      expect(real.has(tool), tool).toBe(true);
    expect(real.get("ocf:heartbeat:Dummy")).toEqual({
      tool: "ocf:heartbeat:Dummy",
      pkg: "resource-agents",
      path: "/usr/lib/ocf/resource.d/heartbeat/Dummy",
    });
  });
});

describe("finding a tool", () => {
  const exists = (paths: string[]) => (p: string) => paths.includes(p);

  it("looks on PATH, then in the sbin directories a plain user's PATH lacks", () => {
    const dirs = searchPath("/usr/local/bin:/usr/bin:/bin");
    expect(dirs).toEqual(["/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"]);
    const mkfs = { tool: "mkfs.ext4", pkg: "e2fsprogs" };
    expect(findTool(mkfs, dirs, exists(["/usr/sbin/mkfs.ext4"]))).toBe("/usr/sbin/mkfs.ext4");
    expect(findTool(mkfs, dirs, exists([]))).toBeUndefined();
    expect(searchPath("/usr/sbin:/usr/bin")).toEqual(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/sbin"]);
  });

  it("takes the first PATH directory that has it, so a PATH without it hides it", () => {
    const socat = known.get("socat") as ToolEntry;
    expect(findTool(socat, ["/a", "/b/"], exists(["/b/socat", "/c/socat"]))).toBe("/b/socat");
    expect(findTool(socat, ["/a"], exists(["/c/socat"]))).toBeUndefined();
  });

  it("looks only at the fixed path of a tool that has one", () => {
    const telnet = known.get("telnet") as ToolEntry;
    expect(findTool(telnet, ["/usr/local/bin"], exists(["/usr/local/bin/telnet"]))).toBeUndefined();
    expect(findTool(telnet, [], exists(["/usr/bin/telnet"]))).toBe("/usr/bin/telnet");
  });
});

describe("the decision", () => {
  it("runs when root and every tool are here", () => {
    expect(decide({ root: true, tools: ["socat", "telnet"] }, machine(["socat", "telnet"]))).toEqual({
      run: true,
    });
    expect(decide({}, machine([], { isRoot: false }))).toEqual({ run: true });
  });

  it("skips a missing tool with its package and the command that installs it", () => {
    expect(decide({ tools: ["socat"] }, machine([]))).toEqual({
      run: false,
      skip: { need: "socat (Debian package socat)", how: "run `sudo tools/test-tools.sh` to install it" },
    });
  });

  it("names every missing tool and each package once", () => {
    const verdict = decide({ tools: ["socat", "fence_wti", "telnet"] }, machine(["socat"]));
    expect(verdict).toMatchObject({
      skip: { need: "fence_wti and telnet (Debian packages fence-agents and inetutils-telnet)" },
    });
  });

  it("fails under CI=true, with one sentence naming the tool and its package", () => {
    const verdict = decide({ tools: ["fence_wti"] }, machine([], { ci: true }));
    expect(verdict).toMatchObject({
      run: false,
      failure:
        "fence_wti (Debian package fence-agents) is not installed, and a CI=true run must have it: run tools/test-tools.sh as root",
    });
  });

  it("skips for root before it looks at tools, and says how to run as root", () => {
    const verdict = decide({ root: true, tools: ["socat"] }, machine([], { isRoot: false }));
    expect(verdict).toEqual({
      run: false,
      skip: { need: "root", how: "run `sudo npm test` (or npm test as root) to run them" },
    });
    expect(decide({ root: true }, machine([], { isRoot: false, ci: true }))).toMatchObject({
      failure: "this test needs root, and a CI=true run must be root: run .ci/run as root",
    });
  });

  it("refuses a tool that is not in the list, so the list stays the one place", () => {
    expect(() => decide({ tools: ["nmap"] }, machine([]))).toThrow(
      "nmap is not in tools/test-tools.list; add it there with the Debian package that has it",
    );
  });
});
