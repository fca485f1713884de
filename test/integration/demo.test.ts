// `npm run demo` as a new user runs it: real members, files for the partitions, no root needed.
// It must tell the whole story in order and exit 0.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { isRoot } from "../helpers/root.js";

it("the demo tells the failover story in order and exits 0, run by a user who is not root", () => {
  const demo = [process.execPath, "--import", "tsx", "tools/lab/demo.ts"];
  // As root, the demo runs as nobody: that it needs no root is the point.
  const [command, ...args] = isRoot ? ["runuser", "-u", "nobody", "--", "env", "HOME=/tmp", ...demo] : demo;
  const r = spawnSync(command as string, args, { encoding: "utf8", timeout: 60_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const story = [
    /quorum partitions on files/,
    /web0 +running +m0/,
    /m1 sees m0's heartbeat counter stand still/,
    /m1 declares m0 hung/,
    /m1 tells m0's power switch to turn it off/,
    /the switch confirms m0 off/,
    /m1 takes web0 and starts it/,
    /rejoins in a new incarnation/,
    /web0 +running +m1/,
  ];
  let from = 0;
  for (const step of story) {
    const at = r.stdout.slice(from).search(step);
    expect(at, `${step} after offset ${from} in:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
    from += at;
  }
  expect(r.stdout).toMatch(/the client is answered again, by m1/);
}, 70_000);
