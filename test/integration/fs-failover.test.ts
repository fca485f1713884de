// A filesystem on a device both members see (an ext4 loop device), each member in its own network
// and mount namespace: mounted by one member at a time, and the data its owner wrote is there
// when the survivor mounts it after the owner was fenced.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Lab } from "../helpers/lab.js";
import { attachLoop, detachAll } from "../helpers/loop.js";
import { needs, toolPath } from "../helpers/needs.js";
import { zeroFile } from "../helpers/scratch.js";

let rps10: string[] = [];
const lab = new Lab({
  members: 2,
  netns: true,
  power: (m) => ({ type: "rps10", device: rps10[m] as string }),
});
const mnt = join(lab.dir.path, "export");
const figure = (text: string) => process.stdout.write(`  [figure] ${text}\n`);

/** Whether the filesystem is mounted in member m's mount namespace, as its daemon sees it. */
function mountedFor(m: number): boolean {
  return readFileSync(`/proc/${lab.pid(m)}/mountinfo`, "utf8").includes(` ${mnt} `);
}

needs({ root: true, tools: ["socat", "ip", "mkfs.ext4", "fuser"] })(
  "a shared filesystem that moves with its service",
  () => {
    beforeAll(async () => {
      const device = attachLoop(zeroFile(join(lab.dir.path, "shared-fs.img"), 32 << 20));
      execFileSync(toolPath("mkfs.ext4"), ["-q", "-F", device]);
      // Inside the mount: who mounted it, in order. Outside: what each member found when it did.
      const record = join(lab.dir.path, "record.sh");
      writeFileSync(
        record,
        `#!/bin/sh
case "$1" in
  start) echo "$CLU_MEMBER" >> ${mnt}/history; cp ${mnt}/history ${lab.dir.path}/seen.$CLU_MEMBER; touch ${lab.dir.path}/up.$CLU_MEMBER ;;
  stop) rm -f ${lab.dir.path}/up.$CLU_MEMBER ;;
  status) [ -e ${lab.dir.path}/up.$CLU_MEMBER ] && [ -e ${mnt}/history ] && exit 0; exit 3 ;;
esac
`,
        { mode: 0o755 },
      );
      lab.options.services = `start service0
  name = data
  preferred_member = m0
  check_interval = 1
  start resource0
    type = fs
    device = ${device}
    mount_point = ${mnt}
    fstype = ext4
    force_unmount = yes
  end resource0
  start resource1
    type = script
    path = ${record}
  end resource1
end service0
`;
      await lab.create();
      rps10 = await lab.startRps10PerMember();
      await lab.startAll();
    }, 60_000);
    afterAll(async () => {
      await lab.close();
      detachAll();
    });

    it("mounts on m0, then on m1 after m0 was fenced, with m0's data intact", async () => {
      await lab.waitFor("m0 to mount and record", 20_000, () =>
        existsSync(join(lab.dir.path, "seen.m0")) ? true : undefined,
      );
      expect(readFileSync(join(lab.dir.path, "seen.m0"), "utf8")).toBe("m0\n");
      // Mounted where its owner runs, and nowhere else: not in m1's mount namespace, not here.
      expect(mountedFor(0)).toBe(true);
      expect(mountedFor(1)).toBe(false);
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(` ${mnt} `);
      const t0 = Date.now();
      lab.signal(0, "SIGSTOP");
      await lab.waitFor("m1 to mount and record", 40_000, () =>
        existsSync(join(lab.dir.path, "seen.m1")) ? true : undefined,
      );
      figure(
        `SIGSTOP of the owner to the filesystem mounted and written on the survivor: ${Date.now() - t0} ms`,
      );
      expect(readFileSync(join(lab.dir.path, "seen.m1"), "utf8")).toBe("m0\nm1\n");
      expect(mountedFor(1)).toBe(true);
      // m1 mounted only after m0's switch confirmed it off.
      const fenced = lab
        .log(1)
        .find((l) => Date.parse(l.time) >= t0 && l.event === "fence" && / fenced: /.test(l.msg));
      const starting = lab.log(1).find((l) => l.msg === "service data: starting");
      expect(Date.parse((starting as { time: string }).time)).toBeGreaterThanOrEqual(
        Date.parse((fenced as { time: string }).time),
      );
    }, 60_000);
  },
);
