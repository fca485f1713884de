// What `clumanager start` repeats of a daemon that gave up: its last error line from the log, with
// the lines that continue it, whether the daemon wrote it before its logger existed or after.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { logSince, REASON_MAX_LINES, startFailureReason } from "../../src/daemon/start-reason.js";
import { scratchDir } from "../helpers/scratch.js";

const json = (level: string, msg: string) => JSON.stringify({ level, time: "t", pid: 1, msg });

describe("the reason a start failed", () => {
  const dir = scratchDir("clumanager-reason-");
  afterAll(() => dir.remove());

  it("is the daemon's plain error line, not the warning before it", () => {
    const text =
      "clumanager: warning: /etc/cluster.conf holds secrets (password on line 9) and is readable by others\n" +
      "clumanager: cannot read /etc/cluster.conf (ENOENT); pass the cluster configuration with -c FILE\n";
    expect(startFailureReason(text)).toEqual([
      "clumanager: cannot read /etc/cluster.conf (ENOENT); pass the cluster configuration with -c FILE",
    ]);
  });

  it("keeps the errors listed under an invalid configuration's line, and no more than a bound", () => {
    const errors = Array.from(
      { length: 30 },
      (_, i) => `/c.conf:${i + 1}: tko in [cluster] must be a number`,
    );
    const reason = startFailureReason(
      `clumanager: /c.conf is not a valid configuration:\n${errors.join("\n")}\n`,
    );
    expect(reason[0]).toBe("clumanager: /c.conf is not a valid configuration:");
    expect(reason[1]).toBe(errors[0]);
    expect(reason).toHaveLength(REASON_MAX_LINES);
  });

  it("is the last JSON line at err or worse once the logger exists", () => {
    const text = [
      json("notice", "joining"),
      json("err", "cannot open the heartbeat channels: EADDRINUSE"),
      json("warning", "a warning after it"),
      "",
    ].join("\n");
    expect(startFailureReason(text)).toEqual(["clumanager: cannot open the heartbeat channels: EADDRINUSE"]);
  });

  it("is nothing when the daemon said no error", () => {
    expect(startFailureReason(`${json("notice", "joined")}\nnot json {\n`)).toEqual([]);
  });

  it("is read from what the log gained since the start, cutting a partial first line", () => {
    const log = join(dir.path, "clumanager.log");
    const old = "clumanager: an older start's error\n";
    writeFileSync(log, `${old}clumanager: this start's error\n`);
    expect(logSince(log, old.length)).toBe("clumanager: this start's error\n");
    expect(logSince(join(dir.path, "missing.log"), 0)).toBe("");
    writeFileSync(log, `${"x".repeat(70 * 1024)}\nclumanager: the end\n`);
    expect(logSince(log, 0)).toBe("clumanager: the end\n");
  });
});
