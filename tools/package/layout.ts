// What the Debian package holds and says about itself, as data: the builder (build-deb.ts) only
// copies what this lists, so a test can read the whole layout without building anything.

export const PACKAGE = "clumanager";
/** Where the program tree (package.json, dist, node_modules, the addon) is installed. */
export const LIB_DIR = `/usr/lib/${PACKAGE}`;
export const DOC_DIR = `/usr/share/doc/${PACKAGE}`;
export const COMMANDS = ["clumanager", "cluadmin", "clustonith", "cludiskutil"] as const;
export const MAN_PAGES = [
  "clumanager.8",
  "cluadmin.8",
  "clustonith.8",
  "cludiskutil.8",
  "cluster.conf.5",
] as const;
/** The oldest Node.js the code runs on (package.json's engines). */
export const NODE_MIN = "20.19";

/**
 * Run-time needs, each for a program the code calls by path or name: the ip resource runs
 * /usr/sbin/ip and arping, the fs resource findmnt, fsck, mount, umount and fuser, the self-fence
 * falls back to reboot. Not named, being essential or always there: util-linux (findmnt, fsck)
 * and an init system (reboot). The shared libraries of the two addons are added by the builder,
 * as dpkg-shlibdeps finds them.
 */
export const DEPENDS = [`nodejs (>= ${NODE_MIN})`, "iproute2", "iputils-arping", "mount", "psmisc"] as const;
/** What most clusters use: real fence agents and OCF resource agents, fsck for ext2/3/4. */
export const RECOMMENDS = ["fence-agents", "resource-agents", "e2fsprogs"] as const;
/** Handy beside it: socat for the lab's RPS-10 simulator, nftables for its network cuts. */
export const SUGGESTS = ["socat", "nftables"] as const;

/** Files under /etc that dpkg keeps when the administrator changed them. */
export const CONFFILES = [`/etc/init.d/${PACKAGE}`, `/etc/default/${PACKAGE}`] as const;

export type Entry =
  /** A file of the tree, copied with this mode. */
  | { kind: "file"; from: string; to: string; mode: number }
  /** A file of the tree, compressed with gzip -9n (man pages, changelog). */
  | { kind: "gzip"; from: string; to: string }
  /** A directory of the tree, copied whole (files 0644, directories 0755). */
  | { kind: "tree"; from: string; to: string }
  /** A file made by the builder. */
  | { kind: "text"; text: string; to: string; mode: number };

/** Paths are relative to the project root; `to` is the path on the installed system. */
export function packageEntries(stagedModules: string): Entry[] {
  return [
    { kind: "file", from: "package.json", to: `${LIB_DIR}/package.json`, mode: 0o644 },
    { kind: "tree", from: "dist", to: `${LIB_DIR}/dist` },
    { kind: "tree", from: stagedModules, to: `${LIB_DIR}/node_modules` },
    {
      kind: "file",
      from: "addons/rawio/build/Release/rawio.node",
      to: `${LIB_DIR}/addons/rawio/build/Release/rawio.node`,
      mode: 0o644,
    },
    ...COMMANDS.map(
      (c): Entry => ({ kind: "text", text: wrapperScript(c), to: `/usr/bin/${c}`, mode: 0o755 }),
    ),
    ...MAN_PAGES.map((page): Entry => {
      const section = page.slice(page.lastIndexOf(".") + 1);
      return { kind: "gzip", from: `man/${page}`, to: `/usr/share/man/man${section}/${page}.gz` };
    }),
    {
      kind: "file",
      from: "conf/clumanager.service",
      to: `/lib/systemd/system/${PACKAGE}.service`,
      mode: 0o644,
    },
    { kind: "file", from: "conf/clumanager", to: `/etc/init.d/${PACKAGE}`, mode: 0o755 },
    { kind: "file", from: "conf/clumanager.default", to: `/etc/default/${PACKAGE}`, mode: 0o644 },
    { kind: "file", from: "conf/cluster.conf", to: `${DOC_DIR}/examples/cluster.conf`, mode: 0o644 },
    // The package is native (its version is package.json's, with no Debian revision), so its
    // one changelog is changelog.gz, not changelog.Debian.gz.
    { kind: "gzip", from: "tools/package/debian/changelog", to: `${DOC_DIR}/changelog.gz` },
  ];
}

/** /usr/bin/NAME: runs the command from the installed tree with the system's Node.js. */
export function wrapperScript(command: string): string {
  return [
    "#!/bin/sh",
    `# ${command}: the ${PACKAGE} command, run from ${LIB_DIR} by the system's Node.js.`,
    `exec /usr/bin/node ${LIB_DIR}/dist/cli/${command}.js "$@"`,
    "",
  ].join("\n");
}

export interface ControlFields {
  version: string;
  arch: string;
  maintainer: string;
  installedSizeKiB: number;
  /** What dpkg-shlibdeps says the shipped shared objects need, e.g. "libc6 (>= 2.33)". */
  sharedLibraries: readonly string[];
  homepage?: string;
}

export function controlFile(f: ControlFields): string {
  const fields: [string, string | undefined][] = [
    ["Package", PACKAGE],
    ["Version", f.version],
    ["Architecture", f.arch],
    ["Maintainer", f.maintainer],
    ["Installed-Size", String(f.installedSizeKiB)],
    ["Depends", [...DEPENDS, ...f.sharedLibraries].join(", ")],
    ["Recommends", RECOMMENDS.join(", ")],
    ["Suggests", SUGGESTS.join(", ")],
    ["Section", "admin"],
    ["Priority", "optional"],
    ["Homepage", f.homepage],
    [
      "Description",
      [
        "shared-storage failover cluster manager",
        " clumanager runs a cluster of two to sixteen Linux servers that share a disk,",
        " in the style of Red Hat Cluster Manager 1.x: every member writes its heartbeat",
        " to two quorum partitions with direct I/O, a member that stops is power-cycled",
        " through its remote power switch (WTI RPS-10 and NPS, APC, any fence agent, or",
        " a watchdog), and only then are its services (floating IP addresses,",
        " filesystems, init scripts, OCF resource agents) started on a healthy member.",
        " .",
        " The package holds the member daemon (clumanager), the administration shell",
        " (cluadmin), the power switch test tool (clustonith) and the quorum partition",
        " tool (cludiskutil), with a systemd unit and a SysV init script.",
      ].join("\n"),
    ],
  ];
  return `${fields
    .filter((kv): kv is [string, string] => kv[1] !== undefined)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n")}\n`;
}

/** dpkg's Installed-Size: the sum of each file's size rounded up to KiB, directories one each. */
export function installedSizeKiB(fileSizes: readonly number[], directories: number): number {
  return fileSizes.reduce((sum, size) => sum + Math.ceil(size / 1024), 0) + directories;
}

/** The package file's name, as dpkg-name would give it. */
export function debFileName(version: string, arch: string): string {
  return `${PACKAGE}_${version}_${arch}.deb`;
}

const MODULE_CLUTTER_DIRS = new Set(["test", "tests", "__tests__", ".github", ".husky", "benchmarks"]);
/** Version-control and editor files, and HTML documentation pages that load scripts off the web. */
const MODULE_CLUTTER_FILES =
  /^(\.git\w*|\.npmignore|\.editorconfig|\.eslintrc.*|\.prettierrc.*|\.taprc|\.travis\.yml|.*\.html)$/;

/**
 * node_modules paths that must not be shipped: prebuilt addons for other systems (serialport
 * carries Windows, macOS, Android and musl builds), and the .bin links npm makes. `relative` is
 * a path under node_modules; `nodePlatformArch` is e.g. "linux-x64".
 */
export function dropFromModules(relative: string, nodePlatformArch: string): boolean {
  const parts = relative.split("/");
  if (parts[0] === ".bin") return true;
  const name = parts[parts.length - 1]!;
  if (MODULE_CLUTTER_FILES.test(name)) return true;
  // A module's own tests, CI and documentation site: nothing loads them at run time.
  if (parts.slice(0, -1).some((p) => MODULE_CLUTTER_DIRS.has(p)) || MODULE_CLUTTER_DIRS.has(name))
    return true;
  const at = parts.indexOf("prebuilds");
  if (at < 0 || parts.length <= at + 1) return false;
  const target = parts[at + 1]!;
  if (target !== nodePlatformArch) return true;
  // Within our own platform's folder, keep only the glibc builds: Debian is not musl.
  const file = parts[at + 2];
  return file?.includes(".musl.") === true;
}
