// cluster status with neither a daemon nor readable partitions: one sentence that says both.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());

describe("cluadmin cluster status", () => {
  it("says that no daemon answered and why the partitions could not be read", async () => {
    const config = join(dir.path, "cluster.conf");
    const missing = join(dir.path, "missing");
    writeFileSync(
      config,
      readFileSync("conf/cluster.conf", "utf8")
        .replace("primary = /dev/sdb1", `primary = ${missing}/p`)
        .replace("backup = /dev/sdb2", `backup = ${missing}/b`),
    );
    const err: string[] = [];
    const code = await cluadmin(["-c", config, "--run-dir", missing, "--", "cluster", "status"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    expect(code).toBe(1);
    expect(err.join("")).toBe(
      `cluadmin: cluster status: no daemon answers at ${missing}/clumanager.sock (ENOENT), and the quorum ` +
        `partitions cannot be read either: opening for direct I/O (read-only) on ${missing}/p failed: ` +
        "No such file or directory (ENOENT)",
    );
  });
});
