// A floating address between two members that are separate hosts on one network (network
// namespaces joined by a bridge): a client in a third namespace reaches the service at the same
// address before and after its owner hangs and is fenced.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Lab } from "../helpers/lab.js";
import { needs } from "../helpers/needs.js";

let rps10: string[] = [];
const lab = new Lab({
  members: 2,
  netns: true,
  power: (m) => ({ type: "rps10", device: rps10[m] as string }),
});
const FLOATING = "192.0.2.50";

const figure = (text: string) => process.stdout.write(`  [figure] ${text}\n`);

/** Who answers at the floating address now, as the client sees it (undefined: nobody). */
function answer(): string | undefined {
  const r = lab.inClient(
    `const s=require("net").connect(8080,"${FLOATING}");let d="";s.on("data",(c)=>d+=c);` +
      `s.on("end",()=>{console.log(d.trim());process.exit(0)});s.on("error",()=>process.exit(1));setTimeout(()=>process.exit(2),1500)`,
  );
  return r.status === 0 ? r.out : undefined;
}

needs({ root: true, tools: ["socat", "ip", "arping"] })(
  "a floating address that moves with its service",
  () => {
    beforeAll(async () => {
      const web = join(lab.dir.path, "web.sh");
      writeFileSync(
        web,
        `#!/bin/sh
# A tiny service on the floating address that answers with the member it runs on.
pidf=${lab.dir.path}/web.$CLU_MEMBER.pid
case "$1" in
  start) nohup ${process.execPath} -e 'require("net").createServer((s) => s.end(process.env.CLU_MEMBER + "\\n")).listen(8080, "${FLOATING}")' > /dev/null 2>&1 &
         echo $! > $pidf; sleep 0.3 ;;
  stop) [ -f $pidf ] && kill $(cat $pidf) 2> /dev/null; rm -f $pidf ;;
  status) [ -f $pidf ] && kill -0 $(cat $pidf) 2> /dev/null && exit 0; exit 3 ;;
esac
`,
        { mode: 0o755 },
      );
      lab.options.services = `start service0
  name = web
  preferred_member = m0
  check_interval = 1
  start resource0
    type = ip
    address = ${FLOATING}/24
    interface = lab0
  end resource0
  start resource1
    type = script
    path = ${web}
  end resource1
end service0
`;
      await lab.create();
      rps10 = await lab.startRps10PerMember();
      await lab.startAll();
    }, 60_000);
    afterAll(async () => {
      await lab.close();
    });

    it("answers from its preferred member, then from the survivor once the owner was fenced", async () => {
      expect(
        await lab.waitFor("m0 to answer at the floating address", 20_000, () =>
          answer() === "m0" ? true : undefined,
        ),
      ).toBe(true);
      const t0 = Date.now();
      lab.signal(0, "SIGSTOP");
      await lab.waitFor("m1 to answer at the floating address", 30_000, () =>
        answer() === "m1" ? true : undefined,
      );
      figure(
        `SIGSTOP of the owner to the client reaching the floating address on the survivor: ${Date.now() - t0} ms`,
      );
      const fenced = lab
        .log(1)
        .find((l) => Date.parse(l.time) >= t0 && l.event === "fence" && / fenced: /.test(l.msg));
      expect(fenced).toBeDefined();
    }, 60_000);
  },
);
