// cluster.conf is read through one bounded reader: a device, a FIFO or a file over the size limit
// is refused with one sentence, at once, instead of being read forever or blocking.
import { execFile, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigFileError, MAX_CONFIG_FILE_BYTES, readConfigFile } from "../../src/config/read.js";
import { EXAMPLE_CONF } from "../helpers/example-cluster.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-read-");
afterAll(() => dir.remove());

const fifo = join(dir.path, "cluster.fifo");
execFileSync("mkfifo", [fifo]);
const huge = join(dir.path, "huge.conf");
// A file just over the limit: comments, which would parse.
writeFileSync(huge, `${EXAMPLE_CONF}${"#".repeat(MAX_CONFIG_FILE_BYTES - EXAMPLE_CONF.length)}\n`);

function refusal(path: string): string {
  try {
    readConfigFile(path);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return (err as Error).message;
  }
  throw new Error(`${path} was read`);
}

describe("reading cluster.conf", () => {
  it("reads a regular file, up to the limit exactly", () => {
    const at = join(dir.path, "at-limit.conf");
    const text = `${EXAMPLE_CONF}${"#".repeat(MAX_CONFIG_FILE_BYTES - EXAMPLE_CONF.length - 1)}\n`;
    writeFileSync(at, text);
    expect(readConfigFile(at)).toBe(text);
  });

  it("refuses /dev/zero, a FIFO and a directory as not regular files", () => {
    expect(refusal("/dev/zero")).toBe(
      "/dev/zero is a character device, not a regular file; give the path of the cluster.conf file itself",
    );
    expect(refusal(fifo)).toBe(
      `${fifo} is a FIFO, not a regular file; give the path of the cluster.conf file itself`,
    );
    expect(refusal(dir.path)).toBe(
      `${dir.path} is a directory, not a regular file; give the path of the cluster.conf file itself`,
    );
  });

  it("refuses a file over the limit, and names the limit", () => {
    expect(refusal(huge)).toBe(
      `${huge} is larger than ${MAX_CONFIG_FILE_BYTES} bytes, the most a cluster.conf may be; check that it is the cluster configuration`,
    );
  });

  it("says which file is missing", () => {
    expect(refusal(join(dir.path, "none.conf"))).toBe(`cannot read ${join(dir.path, "none.conf")}: ENOENT`);
  });

  it("the real cluadmin answers /dev/zero, a FIFO and a huge file with one line: config check 1, else 78", async () => {
    const run = promisify(execFile);
    const bin = join(process.cwd(), "dist/cli/cluadmin.js");
    for (const [file, words, code] of [
      ["/dev/zero", ["config", "check"], 1],
      [fifo, ["config", "check"], 1],
      [huge, ["config", "check"], 1],
      ["/dev/zero", ["member", "show"], 78],
    ] as const) {
      // Without the bounded reader, /dev/zero is read until memory runs out and the FIFO blocks:
      // the kill after 20 s (a bound on the test, not a speed target) turns either into a failure.
      const result = await run(process.execPath, [bin, "-c", file, "--", ...words], {
        timeout: 20_000,
        maxBuffer: 1 << 20,
      }).then(
        () => ({ code: 0, stderr: "", stdout: "" }),
        (err: { code: number | null; stdout: string; stderr: string }) => err,
      );
      expect(result.code, file).toBe(code);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n"), file).toHaveLength(1);
      expect(result.stderr).toMatch(
        /is a character device, not a regular file|is a FIFO, not a regular file|is larger than 1048576 bytes/,
      );
    }
  });
});
