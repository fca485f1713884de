// The Debian package's layout and control data, read without building it: what it installs and
// where, what it depends on, and the unit's hardening staying clear of what a member needs.
// tools/package/check-deb.sh builds, installs and purges the real thing.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { copyrightFile, copyrightLines, licenseTerms } from "../../tools/package/copyright.js";
import {
  COMMANDS,
  CONFFILES,
  controlFile,
  DEPENDS,
  debFileName,
  dropFromModules,
  type Entry,
  installedSizeKiB,
  LIB_DIR,
  MAN_PAGES,
  NODE_MIN,
  packageEntries,
  wrapperScript,
} from "../../tools/package/layout.js";

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");
const pkg = JSON.parse(read("package.json")) as { version: string; engines: { node: string } };
const entries = packageEntries("/var/tmp/staged/node_modules");
const byTarget = new Map<string, Entry>(entries.map((e) => [e.to, e]));

describe("the package layout", () => {
  it("puts a wrapper for each command in /usr/bin that runs the installed tree with node", () => {
    for (const c of COMMANDS) {
      const e = byTarget.get(`/usr/bin/${c}`);
      expect(e).toMatchObject({ kind: "text", mode: 0o755 });
      expect(wrapperScript(c)).toMatch(
        new RegExp(`^#!/bin/sh\\n[^]*\\nexec /usr/bin/node ${LIB_DIR}/dist/cli/${c}\\.js "\\$@"\\n$`),
      );
      expect(existsSync(new URL(`src/cli/${c}.ts`, root))).toBe(true);
    }
  });

  it("installs every man page of man/, gzipped, in the directory of its section", () => {
    expect([...MAN_PAGES].sort()).toEqual(readdirSync(new URL("man", root)).sort());
    for (const page of MAN_PAGES) {
      const section = page.split(".").pop();
      expect(byTarget.get(`/usr/share/man/man${section}/${page}.gz`)).toEqual({
        kind: "gzip",
        from: `man/${page}`,
        to: `/usr/share/man/man${section}/${page}.gz`,
      });
    }
  });

  it("takes every file it names from the tree, and marks exactly its /etc files as conffiles", () => {
    for (const e of entries) {
      if (e.kind === "file" || e.kind === "gzip")
        expect(existsSync(new URL(e.from, root)), e.from).toBe(true);
    }
    expect(
      entries
        .filter((e) => e.to.startsWith("/etc/"))
        .map((e) => e.to)
        .sort(),
    ).toEqual([...CONFFILES].sort());
    expect(byTarget.get("/etc/init.d/clumanager")).toMatchObject({ from: "conf/clumanager", mode: 0o755 });
    expect(byTarget.get("/lib/systemd/system/clumanager.service")).toMatchObject({
      from: "conf/clumanager.service",
    });
    expect(byTarget.get("/usr/share/doc/clumanager/examples/cluster.conf")).toMatchObject({
      from: "conf/cluster.conf",
    });
    expect(byTarget.get(`${LIB_DIR}/node_modules`)).toMatchObject({
      kind: "tree",
      from: "/var/tmp/staged/node_modules",
    });
  });

  it("runs the programs the unit and the init script call, and reads the defaults file both use", () => {
    const unit = read("conf/clumanager.service");
    const init = read("conf/clumanager");
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/clumanager /m);
    expect(init).toContain(`CLUMANAGER=$\{CLUMANAGER:-/usr/bin/clumanager}`);
    expect(unit).toContain("EnvironmentFile=-/etc/default/clumanager");
    expect(init).toContain(". /etc/default/clumanager");
    // systemd reads the defaults file too: plain KEY="value" lines, and all of them commented
    // out, so that installing the package changes nothing an environment sets.
    const lines = read("conf/clumanager.default").split("\n");
    expect(lines.filter((l) => l !== "" && !l.startsWith("#"))).toEqual([]);
    const examples = lines.filter((l) => /^#[A-Z_]+=/.test(l)).map((l) => l.slice(1));
    expect(examples.map((l) => l.slice(0, l.indexOf("=")))).toEqual(["CLUSTER_CONF", "CLUMANAGER_OPTS"]);
    for (const l of examples) expect(l).toMatch(/^[A-Z_]+="[^"$`\\]*"$/);
  });

  it("keeps the changelog's version and the Node.js minimum in step with package.json", () => {
    expect(read("tools/package/debian/changelog")).toMatch(new RegExp(`^clumanager \\(${pkg.version}\\) `));
    expect(pkg.engines.node).toBe(`>=${NODE_MIN}`);
    expect(debFileName(pkg.version, "amd64")).toBe(`clumanager_${pkg.version}_amd64.deb`);
  });
});

describe("the control file", () => {
  const control = controlFile({
    version: "0.1.0",
    arch: "arm64",
    maintainer: "A B <a@example.org>",
    installedSizeKiB: 5000,
    sharedLibraries: ["libc6 (>= 2.33)"],
  });
  const fields = new Map(
    control
      .split("\n")
      .filter((l) => /^[A-Z]/.test(l))
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)] as const),
  );

  it("names the package, version, architecture and size, and ends in a newline", () => {
    expect(fields.get("Package")).toBe("clumanager");
    expect(fields.get("Version")).toBe("0.1.0");
    expect(fields.get("Architecture")).toBe("arm64");
    expect(fields.get("Installed-Size")).toBe("5000");
    expect(control.endsWith("\n")).toBe(true);
    // A long description: every continuation line indented, blank ones written " .".
    const description = control.slice(control.indexOf("Description:")).split("\n").slice(1, -1);
    for (const line of description) expect(line).toMatch(/^ \S/);
  });

  it("depends on Node.js, the tools the resources run and the addons' libraries; recommends the agents", () => {
    expect(fields.get("Depends")).toBe([...DEPENDS, "libc6 (>= 2.33)"].join(", "));
    expect(fields.get("Depends")).toContain(`nodejs (>= ${NODE_MIN})`);
    // /usr/sbin/ip, arping, mount/umount and fuser, as src/services calls them.
    for (const p of ["iproute2", "iputils-arping", "mount", "psmisc"]) expect(DEPENDS).toContain(p);
    expect(fields.get("Recommends")).toContain("fence-agents");
    expect(fields.get("Recommends")).toContain("resource-agents");
  });

  it("counts Installed-Size as dpkg does: each file rounded up to KiB, one per directory", () => {
    expect(installedSizeKiB([1, 1024, 1025], 3)).toBe(1 + 1 + 2 + 3);
  });
});

describe("the bundled modules", () => {
  it("drops other systems' prebuilt addons, musl builds, .bin links, tests and clutter", () => {
    const p = "@serialport/bindings-cpp/prebuilds";
    expect(dropFromModules(`${p}/linux-x64/@serialport+bindings-cpp.glibc.node`, "linux-x64")).toBe(false);
    expect(dropFromModules(`${p}/linux-x64/@serialport+bindings-cpp.musl.node`, "linux-x64")).toBe(true);
    expect(dropFromModules(`${p}/win32-x64/@serialport+bindings-cpp.node`, "linux-x64")).toBe(true);
    expect(dropFromModules(`${p}/linux-arm64`, "linux-x64")).toBe(true);
    expect(dropFromModules(p, "linux-x64")).toBe(false);
    expect(dropFromModules(".bin", "linux-x64")).toBe(true);
    expect(dropFromModules("pino/test/fixtures/ts/transpile.cjs", "linux-x64")).toBe(true);
    expect(dropFromModules("pino/index.html", "linux-x64")).toBe(true);
    expect(dropFromModules("process-warning/.gitattributes", "linux-x64")).toBe(true);
    expect(dropFromModules("pino/lib/tools.js", "linux-x64")).toBe(false);
    expect(dropFromModules("commander/LICENSE", "linux-x64")).toBe(false);
  });

  it("gives each module a copyright paragraph and each licence its text once", () => {
    const mit =
      "MIT License\n\nCopyright (c) 2026 Ours\n\nPermission is hereby granted.\n\nTHE SOFTWARE IS PROVIDED.";
    const text = copyrightFile({
      ownLicense: mit,
      ownLicenseName: "MIT",
      modules: [
        {
          path: "split2",
          license: "ISC",
          copyright: ["2016 M"],
          licenseText: "Copyright (c) 2016 M\n\nISC terms.",
        },
        { path: "@s/stream", license: "MIT", copyright: [] },
      ],
    });
    expect(text).toMatch(
      /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/\n/,
    );
    expect(text).toContain("Files: *\nCopyright: 2026 Ours\nLicense: MIT\n");
    expect(text).toContain(
      "Files: node_modules/@s/stream/*\nCopyright: the authors of @s/stream\nLicense: MIT\n",
    );
    expect(text).toContain("Files: node_modules/split2/*\nCopyright: 2016 M\nLicense: ISC\n");
    expect(text).toContain("License: MIT\n Permission is hereby granted.\n .\n THE SOFTWARE IS PROVIDED.\n");
    expect(text).toContain("License: ISC\n ISC terms.\n");
    // One stand-alone paragraph per licence, however many files are under it.
    expect(text.split("\n\n").filter((para) => para.startsWith("License: MIT\n"))).toHaveLength(1);
    expect(() =>
      copyrightFile({
        ownLicense: mit,
        ownLicenseName: "MIT",
        modules: [{ path: "x", license: "BSD-2-Clause", copyright: [] }],
      }),
    ).toThrow("node_modules/x is under BSD-2-Clause but no bundled module ships that licence's text");
  });

  it("reads copyright holders and licence terms out of a licence file", () => {
    expect(copyrightLines("The MIT License\n\nCopyright (c) 2015 A\nCopyright © 2016 B\n\nterms")).toEqual([
      "2015 A",
      "2016 B",
    ]);
    expect(licenseTerms("The MIT License (MIT)\nCopyright 2015 A\n\nterms\n")).toBe("terms");
    // ISC's terms speak of the copyright notice: that line stays.
    expect(
      licenseTerms(
        "ISC License\n\nCopyright (c) 2014, M\n\nfee is hereby granted, provided that the above\ncopyright notice and this permission notice appear\n",
      ),
    ).toBe(
      "fee is hereby granted, provided that the above\ncopyright notice and this permission notice appear",
    );
  });
});

describe("the systemd unit's hardening", () => {
  const settings = read("conf/clumanager.service")
    .split("\n")
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => l.slice(0, l.indexOf("=")));

  it("sets none of the options that would hide devices, /proc/sysrq-trigger or its mounts", () => {
    const harmful = [
      "PrivateDevices",
      "DevicePolicy",
      "DeviceAllow",
      "ProtectClock",
      "ProtectSystem",
      "ProtectHome",
      "PrivateTmp",
      "PrivateMounts",
      "ProtectKernelTunables",
      "ProtectKernelModules",
      "ProtectKernelLogs",
      "ProtectControlGroups",
      "ProtectHostname",
      "ProtectProc",
      "ReadOnlyPaths",
      "InaccessiblePaths",
      "PrivateNetwork",
      "MemoryDenyWriteExecute",
      "User",
      "DynamicUser",
    ];
    expect(settings.filter((s) => harmful.includes(s))).toEqual([]);
  });

  it("lets the daemon stop its services itself, and keeps the sockets heartbeats and resources use", () => {
    const unit = read("conf/clumanager.service");
    expect(unit).toMatch(/^KillMode=mixed$/m);
    const families = /^RestrictAddressFamilies=(.*)$/m.exec(unit)?.[1]?.split(" ");
    expect(families).toEqual(
      expect.arrayContaining(["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"]),
    );
    // Every setting carries its reason: the line above it is a comment.
    const lines = unit.split("\n");
    for (const s of [
      "SystemCallArchitectures",
      "LockPersonality",
      "SystemCallFilter",
      "RestrictAddressFamilies",
      "RestrictRealtime",
      "CapabilityBoundingSet",
      "KillMode",
    ]) {
      const at = lines.findIndex((l) => l.startsWith(`${s}=`));
      expect(lines[at - 1], s).toMatch(/^#/);
    }
  });
});
