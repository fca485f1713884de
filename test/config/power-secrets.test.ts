// The power block's secrets and agent arguments in cluster.conf: the *_file form that keeps a
// secret off the shared disk, the names the fence_agent driver sends itself, and the warning for a
// file that holds secrets others can read.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { parseDocument } from "../../src/config/document.js";
import { checkExposure, exposureWarning, inlineSecrets } from "../../src/config/secret-exposure.js";
import { type ConfigError, validateText } from "../../src/config/validate.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-power-secrets-");
afterAll(() => dir.remove());

/** A two-member file whose second member's power block holds `power` (indented lines). */
const withPower = (power: string) => `[cluster]
name = octane
[quorum]
primary = /dev/sdb1
backup = /dev/sdb2
[members]
start member0
  name = clu1
  start power
    type = none
  end power
end member0
start member1
  name = clu2
  start power
${power}
  end power
end member1
`;
/** withPower puts the power block's first line on line 16. */
const FIRST = 16;

function errorsOf(text: string): ConfigError[] {
  const r = validateText(text);
  return r.ok ? [] : r.errors;
}

describe("fence_agent arguments in cluster.conf", () => {
  const agent = (...args: string[]) =>
    withPower(["    type = fence_agent", "    agent = fence_ipmilan", "    outlet = 1", ...args].join("\n"));

  it.each(["action", "plug", "port", "nodename", "option", "Action"])(
    "refuses arg.%s with its line: the driver sends it itself",
    (name) => {
      const errors = errorsOf(agent("    arg.ip = 10.0.0.1", `    arg.${name} = off`));
      expect(errors).toEqual([
        {
          line: FIRST + 4,
          key: `arg.${name}`,
          message: `arg.${name} in the power block of member1: "${name}" is sent by clumanager itself (the action asked, the outlet as plug, the member's name as nodename); remove it`,
        },
      ]);
    },
  );

  it("reads arg.NAME_file of a secret as a file to read, and other *_file arguments as they are", () => {
    const r = validateText(
      agent(
        "    arg.apikey_file = /etc/clumanager/api.key",
        "    arg.status_file = /tmp/s",
        "    arg.login = admin",
      ),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.members[1]!.power).toEqual({
      type: "fence_agent",
      agent: "fence_ipmilan",
      args: { status_file: "/tmp/s", login: "admin" },
      argFiles: { apikey: "/etc/clumanager/api.key" },
      outlet: "1",
    });
  });

  it("refuses a secret given inline and as a file, at the later line, and a relative secret file", () => {
    expect(errorsOf(agent("    arg.password = pw", "    arg.password_file = /etc/pw"))).toEqual([
      {
        line: FIRST + 4,
        key: "arg.password_file",
        message:
          "the power block of member1 gives arg.password (line 19) and arg.password_file; keep only arg.password_file, so the disk holds a path and not the secret",
      },
    ]);
    expect(errorsOf(agent("    arg.passwd_file = pw"))).toMatchObject([
      {
        line: FIRST + 3,
        message: 'arg.passwd_file in the power block of member1 must be an absolute path, not "pw"',
      },
    ]);
  });
});

describe("password_file and community_file in cluster.conf", () => {
  it("reads password_file for wti_nps and community_file for apc_snmp", () => {
    const nps = validateText(
      withPower(
        "    type = wti_nps\n    host = 10.0.0.5\n    outlet = 2\n    password_file = /etc/clumanager/nps.pass",
      ),
    );
    expect(nps.ok && nps.config.members[1]!.power).toEqual({
      type: "wti_nps",
      host: "10.0.0.5",
      passwordFile: "/etc/clumanager/nps.pass",
      outlet: "2",
    });
    const apc = validateText(
      withPower(
        "    type = apc_snmp\n    host = 10.0.0.6\n    outlet = 2\n    community_file = /etc/clumanager/apc",
      ),
    );
    expect(apc.ok && apc.config.members[1]!.power).toMatchObject({ communityFile: "/etc/clumanager/apc" });
  });

  it("refuses password and password_file together, naming both lines", () => {
    expect(
      errorsOf(
        withPower(
          "    type = wti_nps\n    host = 10.0.0.5\n    password_file = /etc/pw\n    outlet = 2\n    password = pw",
        ),
      ),
    ).toEqual([
      {
        line: FIRST + 4,
        key: "password",
        message:
          "the power block of member1 gives password_file (line 18) and password; keep only password_file, so the disk holds a path and not the secret",
      },
    ]);
  });
});

describe("a cluster.conf holding secrets that others can read", () => {
  const text = withPower(
    "    type = wti_nps\n    host = 10.0.0.5\n    outlet = 2\n    password = nps-secret",
  );

  it("finds the inline secrets, and none in the *_file form", () => {
    expect(inlineSecrets(parseDocument(text))).toEqual([{ key: "password", line: FIRST + 3 }]);
    expect(
      inlineSecrets(parseDocument(text.replace("password = nps-secret", "password_file = /etc/pw"))),
    ).toEqual([]);
  });

  it("warns, in one sentence naming the file and its mode, only when group or others can read it", () => {
    const file = join(dir.path, "cluster.conf");
    writeFileSync(file, text);
    chmodSync(file, 0o644);
    expect(checkExposure(file, parseDocument(text))).toBe(
      `${file} holds secrets (password on line 19) and is readable by group and others (mode 0644): run chmod 600 ${file}, or move them to files of their own with the *_file form (password_file = PATH, arg.NAME_file = PATH)`,
    );
    chmodSync(file, 0o600);
    expect(checkExposure(file, parseDocument(text))).toBeUndefined();
    expect(exposureWarning("/x", 0o640, [{ key: "arg.apikey", line: 3 }])).toMatch(
      /readable by group \(mode 0640\)/,
    );
    expect(exposureWarning("/x", 0o644, [])).toBeUndefined();
  });

  it("is said by cluadmin config check, on stderr, and the check still passes", async () => {
    const file = join(dir.path, "checked.conf");
    writeFileSync(file, text, { mode: 0o644 });
    chmodSync(file, 0o644);
    let out = "";
    let err = "";
    const run = () =>
      cluadmin(["-c", file, "--", "config", "check"], { out: (t) => (out += t), err: (t) => (err += t) });
    expect(await run()).toBe(0);
    expect(out).toMatch(/valid \(2 members, 0 services\)/);
    expect(err).toMatch(
      /^cluadmin: warning: \S+checked\.conf holds secrets \(password on line 19\) and is readable by group and others \(mode 0644\)/,
    );
    expect(err).not.toContain("nps-secret");
    chmodSync(file, 0o600);
    err = "";
    expect(await run()).toBe(0);
    // What is left is the warning about member clu1's type none, not about secrets.
    expect(err).toMatch(/^cluadmin: warning: member clu1 has power switch type none, [^\n]*$/);
  });
});
