// Secrets kept in files of their own, read when a driver is built: the file's first line, and one
// clear sentence when it is missing, unreadable or empty. Also: the member's name reaches the agent.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MemberConfig } from "../../src/config/model.js";
import { SwitchChecker } from "../../src/daemon/switch-check.js";
import { createSwitch } from "../../src/power/create.js";
import { powerCycle } from "../../src/power/power-cycle.js";
import { MAX_SECRET_FILE_BYTES, readSecretFile } from "../../src/power/secret-file.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-secret-file-");
afterAll(() => dir.remove());
const file = (name: string, text: string, mode = 0o600) => {
  const path = join(dir.path, name);
  writeFileSync(path, text, { mode });
  return path;
};
const seen = join(dir.path, "stdin");
const agent = file("fence_record", `#!/bin/sh\ncat > ${seen}\nexit 0\n`, 0o755);

describe("readSecretFile", () => {
  it("gives the first line without its line break", () => {
    expect(readSecretFile(file("crlf", "s3cret\r\nnext\n"), "password")).toBe("s3cret");
    expect(readSecretFile(file("bare", "s3cret"), "password")).toBe("s3cret");
  });

  it("says in one sentence what is wrong with the file", () => {
    const fix = "; put the password on its first line, in a file only root can read";
    expect(() => readSecretFile(join(dir.path, "nope"), "password")).toThrow(
      `the password file ${join(dir.path, "nope")} does not exist${fix}`,
    );
    const empty = file("empty", "\nsecond\n");
    expect(() => readSecretFile(empty, "password")).toThrow(`the password file ${empty} is empty${fix}`);
    const sub = join(dir.path, "sub");
    mkdirSync(sub);
    expect(() => readSecretFile(sub, "password")).toThrow(
      `the password file ${sub} is not a regular file${fix}`,
    );
    const long = file("long", "x".repeat(MAX_SECRET_FILE_BYTES + 10));
    expect(() => readSecretFile(long, "password")).toThrow(/has no line break in its first 4096 bytes/);
  });

  it("does not hang on a FIFO", () => {
    const fifo = join(dir.path, "fifo");
    execFileSync("mkfifo", [fifo]);
    expect(() => readSecretFile(fifo, "password")).toThrow(/is not a regular file/);
  });
});

describe("createSwitch with secrets in files", () => {
  it("sends the agent the first line of each arg.NAME_file as NAME=, and the member's name", async () => {
    const key = file("api.key", "k-123\n");
    const sw = createSwitch(
      { type: "fence_agent", agent, args: { ip: "10.0.0.1" }, argFiles: { apikey: key } },
      { nodename: "clu2" },
    );
    expect(await sw.status("3")).toBe("on");
    expect(readFileSync(seen, "utf8")).toBe(
      "ip=10.0.0.1\napikey=k-123\nnodename=clu2\naction=status\nplug=3\n",
    );
  });

  it("refuses to build a switch whose secret file is missing, as a configuration error", () => {
    const missing = join(dir.path, "nps.pass");
    expect(() => createSwitch({ type: "wti_nps", host: "10.0.0.5", passwordFile: missing })).toThrow(
      expect.objectContaining({
        kind: "config",
        message: `wti_nps 10.0.0.5: reading its secret: the password file ${missing} does not exist; put the password on its first line, in a file only root can read`,
      }),
    );
    expect(() =>
      createSwitch({ type: "apc_snmp", host: "10.0.0.6", communityFile: file("c-empty", "") }),
    ).toThrow(/the community file \S+ is empty/);
  });
});

describe("the member's name reaches the agent as nodename=", () => {
  it("in a fence's power cycle", async () => {
    const result = await powerCycle({ type: "fence_agent", agent }, "5", {
      warn: () => {},
      nodename: "clu3",
    });
    expect(result.confirmedOff).toBe(true);
    // The last run is the on that follows the confirmed off.
    expect(readFileSync(seen, "utf8")).toBe("nodename=clu3\naction=on\nplug=5\n");
  });

  it("in the daemon's switch check", async () => {
    const peer = {
      id: 1,
      name: "clu4",
      channels: [],
      power: { type: "fence_agent", agent, outlet: "2" },
    } as unknown as MemberConfig;
    await new SwitchChecker(
      [peer],
      () => false,
      () => {},
    ).checkAll();
    expect(readFileSync(seen, "utf8")).toBe("nodename=clu4\naction=monitor\n");
  });
});
