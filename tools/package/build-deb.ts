// npm run package: builds clumanager_<version>_<arch>.deb with dpkg-deb from this tree (the built
// addon, dist/, production node_modules installed afresh from package-lock.json) as layout.ts
// lists it. Usage: tsx tools/package/build-deb.ts [--out DIR]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type BundledModule, copyrightFile, copyrightLines } from "./copyright.js";
import {
  CONFFILES,
  controlFile,
  DOC_DIR,
  debFileName,
  dropFromModules,
  type Entry,
  installedSizeKiB,
  packageEntries,
} from "./layout.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEBIAN_DIR = join(ROOT, "tools/package/debian");
const MAINTAINER_SCRIPTS = ["postinst", "prerm", "postrm"] as const;
/** npm ci of the production modules: generous for a cold cache, bounded all the same. */
const NPM_TIMEOUT_MS = 300_000;
const TOOL_TIMEOUT_MS = 120_000;
/** Directories deeper than this under node_modules are a loop or a broken install. */
const MAX_DEPTH = 32;

class BuildError extends Error {}

function run(command: string, args: string[], cwd = ROOT, timeout = TOOL_TIMEOUT_MS): string {
  return execFileSync(command, args, {
    cwd,
    timeout,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
}

function need(path: string, hint: string): void {
  if (!existsSync(join(ROOT, path))) throw new BuildError(`${path} is missing; ${hint}`);
}

/** The version at the top of the Debian changelog and its maintainer (the trailer line). */
function changelogHead(): { version: string; maintainer: string } {
  const text = readFileSync(join(DEBIAN_DIR, "changelog"), "utf8");
  const version = /^clumanager \(([^)]+)\)/.exec(text)?.[1];
  const maintainer = /^ -- (.+?>) {2}/m.exec(text)?.[1];
  if (version === undefined || maintainer === undefined)
    throw new BuildError("tools/package/debian/changelog does not start with a Debian changelog entry");
  return { version, maintainer };
}

/** Installs the production modules from package-lock.json into a folder of their own. */
function stageModules(staging: string): string {
  const dir = join(staging, "modules");
  mkdirSync(dir);
  for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(ROOT, f), join(dir, f));
  // --ignore-scripts: our own install script would rebuild the addon, and serialport's loads its
  // prebuilt binding at run time anyway.
  run(
    "npm",
    [
      "ci",
      "--omit=dev",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--loglevel=error",
    ],
    dir,
    NPM_TIMEOUT_MS,
  );
  return join(dir, "node_modules");
}

interface Staged {
  files: string[];
  directories: number;
}

function ensureDir(path: string, staged: Staged): void {
  if (existsSync(path)) return;
  ensureDir(dirname(path), staged);
  mkdirSync(path, { mode: 0o755 });
  chmodSync(path, 0o755);
  staged.directories++;
}

function place(target: string, staged: Staged, write: () => void, mode: number): void {
  ensureDir(dirname(target), staged);
  write();
  chmodSync(target, mode);
  staged.files.push(target);
}

function copyTree(from: string, to: string, staged: Staged, keep: (rel: string) => boolean, depth = 0): void {
  if (depth > MAX_DEPTH) throw new BuildError(`${from} is nested deeper than ${MAX_DEPTH} folders`);
  ensureDir(to, staged);
  for (const name of readdirSync(from).sort()) {
    const src = join(from, name);
    const dest = join(to, name);
    const st = lstatSync(src);
    if (st.isSymbolicLink()) throw new BuildError(`${src} is a symbolic link; the package copies files only`);
    if (!keep(src)) continue;
    if (st.isDirectory()) copyTree(src, dest, staged, keep, depth + 1);
    else place(dest, staged, () => copyFileSync(src, dest), isScript(src) ? 0o755 : 0o644);
  }
}

/** A file that starts with "#!" is a program (dist/cli/*.js, a module's bin): it stays executable. */
function isScript(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString("latin1") === "#!";
  } finally {
    closeSync(fd);
  }
}

/** The Depends entries for the shipped shared objects, from dpkg-shlibdeps (dpkg-dev). */
function sharedLibraryDepends(root: string, staging: string): string[] {
  const objects = walk(root).filter((f) => f.endsWith(".node"));
  // dpkg-shlibdeps wants a source tree's debian/control to look up the binary package.
  const tree = join(staging, "shlibdeps");
  mkdirSync(join(tree, "debian"), { recursive: true });
  writeFileSync(
    join(tree, "debian/control"),
    "Source: clumanager\n\nPackage: clumanager\nArchitecture: any\n",
  );
  const out = execFileSync("dpkg-shlibdeps", ["-O", ...objects.map((o) => `-e${o}`)], {
    cwd: tree,
    timeout: TOOL_TIMEOUT_MS,
    encoding: "utf8",
    // Its warnings are about Node-API symbols, which the node binary provides.
    stdio: ["ignore", "pipe", "ignore"],
  });
  const line = /^shlibs:Depends=(.*)$/m.exec(out)?.[1];
  if (line === undefined)
    throw new BuildError(`dpkg-shlibdeps gave no shlibs:Depends line for ${objects.join(", ")}`);
  return line
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "");
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)],
  );
}

function placeEntry(e: Entry, root: string, staged: Staged, modules: string): void {
  const target = join(root, e.to);
  switch (e.kind) {
    case "file":
      place(target, staged, () => copyFileSync(join(ROOT, e.from), target), e.mode);
      break;
    case "text":
      place(target, staged, () => writeFileSync(target, e.text), e.mode);
      break;
    case "gzip":
      // gzip -9n: no name or time in the header, so the same input gives the same bytes.
      place(
        target,
        staged,
        () => writeFileSync(target, gzipSync(readFileSync(join(ROOT, e.from)), { level: 9 })),
        0o644,
      );
      break;
    case "tree": {
      const from = resolve(ROOT, e.from);
      const platform = `${process.platform}-${process.arch}`;
      const keep =
        from === modules
          ? (src: string) => !dropFromModules(relative(modules, src), platform)
          : (src: string) => !src.endsWith(".map");
      copyTree(from, target, staged, keep);
      break;
    }
  }
}

/** Every module folder under node_modules (scoped and nested ones too), with its licence. */
function bundledModules(modules: string): BundledModule[] {
  const found: BundledModule[] = [];
  const visit = (dir: string, depth: number) => {
    if (depth > MAX_DEPTH || !existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".")) continue;
      if (name.startsWith("@")) {
        visit(join(dir, name), depth + 1);
        continue;
      }
      const moduleDir = join(dir, name);
      const manifest = join(moduleDir, "package.json");
      if (!existsSync(manifest)) continue;
      const { license } = JSON.parse(readFileSync(manifest, "utf8")) as { license?: string };
      const licenseFile = readdirSync(moduleDir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
      const licenseText = licenseFile ? readFileSync(join(moduleDir, licenseFile), "utf8") : undefined;
      found.push({
        path: relative(modules, moduleDir),
        license: license ?? "UNKNOWN",
        copyright: licenseText ? copyrightLines(licenseText) : [],
        ...(licenseText !== undefined ? { licenseText } : {}),
      });
      visit(join(moduleDir, "node_modules"), depth + 1);
    }
  };
  visit(modules, 0);
  return found;
}

interface ControlInput {
  version: string;
  arch: string;
  maintainer: string;
  sharedLibraries: string[];
}

function writeControl(root: string, staged: Staged, c: ControlInput): void {
  const debian = join(root, "DEBIAN");
  mkdirSync(debian, { mode: 0o755 });
  const sizes = staged.files.map((f) => statSync(f).size);
  const control = controlFile({
    ...c,
    installedSizeKiB: installedSizeKiB(sizes, staged.directories),
  });
  writeFileSync(join(debian, "control"), control, { mode: 0o644 });
  writeFileSync(join(debian, "conffiles"), `${CONFFILES.join("\n")}\n`, { mode: 0o644 });
  const conffiles = new Set<string>(CONFFILES);
  const sums = staged.files
    .map((f) => `/${relative(root, f)}`)
    .filter((p) => !conffiles.has(p))
    .sort()
    .map(
      (p) =>
        `${createHash("md5")
          .update(readFileSync(join(root, p)))
          .digest("hex")}  ${p.slice(1)}`,
    );
  writeFileSync(join(debian, "md5sums"), `${sums.join("\n")}\n`, { mode: 0o644 });
  for (const script of MAINTAINER_SCRIPTS) {
    copyFileSync(join(DEBIAN_DIR, script), join(debian, script));
    chmodSync(join(debian, script), 0o755);
  }
}

/** Every file and folder gets the last commit's time, so two builds of one commit are alike. */
function sourceDateEpoch(): number {
  const given = process.env.SOURCE_DATE_EPOCH;
  if (given !== undefined && /^\d+$/.test(given)) return Number(given);
  try {
    return Number(run("git", ["log", "-1", "--format=%ct"]).trim());
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

function touchAll(dir: string, epoch: number): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (lstatSync(path).isDirectory()) touchAll(path, epoch);
    utimesSync(path, epoch, epoch);
  }
  utimesSync(dir, epoch, epoch);
}

export function build(outDir: string): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const head = changelogHead();
  if (head.version !== version)
    throw new BuildError(
      `tools/package/debian/changelog starts at ${head.version} but package.json is at ${version}; add an entry for ${version}`,
    );
  need("dist/cli/clumanager.js", "run npx tsc -p . (or npm run build) first");
  need("addons/rawio/build/Release/rawio.node", "run npm run build (it builds the addon) first");
  const arch = run("dpkg", ["--print-architecture"]).trim();
  const staging = mkdtempSync("/var/tmp/clumanager-deb-");
  try {
    const modules = stageModules(staging);
    const root = join(staging, "root");
    const staged: Staged = { files: [], directories: 0 };
    mkdirSync(root, { mode: 0o755 });
    chmodSync(root, 0o755);
    for (const entry of packageEntries(modules)) placeEntry(entry, root, staged, modules);
    // The addon is shipped without its symbols, as Debian ships every shared object.
    run("strip", [
      "--strip-unneeded",
      "--remove-section=.comment",
      "--remove-section=.note",
      join(root, "usr/lib/clumanager/addons/rawio/build/Release/rawio.node"),
    ]);
    const copyright = copyrightFile({
      ownLicense: readFileSync(join(ROOT, "LICENSE"), "utf8"),
      ownLicenseName: "MIT",
      modules: bundledModules(modules),
    });
    place(
      join(root, DOC_DIR, "copyright"),
      staged,
      () => writeFileSync(join(root, DOC_DIR, "copyright"), copyright),
      0o644,
    );
    const sharedLibraries = sharedLibraryDepends(root, staging);
    writeControl(root, staged, { version, arch, maintainer: head.maintainer, sharedLibraries });
    const epoch = sourceDateEpoch();
    touchAll(root, epoch);
    mkdirSync(outDir, { recursive: true });
    const deb = join(outDir, debFileName(version, arch));
    execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", root, deb], {
      timeout: TOOL_TIMEOUT_MS,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
    });
    return deb;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function parseOut(argv: readonly string[]): string {
  if (argv.length === 0) return ROOT;
  if (argv.length === 2 && argv[0] === "--out") return resolve(argv[1]!);
  throw new BuildError(`unexpected arguments "${argv.join(" ")}"; usage: build-deb.ts [--out DIR]`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const deb = build(parseOut(process.argv.slice(2)));
    const shown = relative(process.cwd(), deb);
    console.log(`${shown.startsWith("..") ? deb : shown}: ${Math.round(statSync(deb).size / 1024)} KiB`);
  } catch (err) {
    console.error(`build-deb: ${err instanceof BuildError ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
