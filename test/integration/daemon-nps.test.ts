// Three members as real processes, fenced through WTI NPS simulators over telnet. Member 2 reaches
// the shared disk through loop devices of its own, so its path alone can be made read-only, and
// its outlet is on a switch whose relay is stuck, so fencing it never succeeds.
import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DAEMON_EXIT } from "../../src/daemon/run.js";
import { Lab, type LogLine } from "../helpers/lab.js";
import { setReadOnly } from "../helpers/loop.js";
import { needsTools } from "../helpers/needs.js";
import { describeAsRoot } from "../helpers/root.js";

let working = 0;
let stuck = 0;
const lab = new Lab({
  members: 3,
  ownPaths: [2],
  power: (m) => ({ type: "wti_nps", host: "127.0.0.1", port: m === 2 ? stuck : working }),
});
const NFT_TABLE = `clumanager_lab_${process.pid}`;

function since(member: number, t0: number, match: (l: LogLine) => boolean): LogLine[] {
  return lab.log(member).filter((l) => Date.parse(l.time) >= t0 && match(l));
}

const figure = (text: string) => process.stdout.write(`  [figure] ${text}\n`);

describeAsRoot("three members fenced through WTI NPS simulators", () => {
  beforeAll(async () => {
    await lab.create();
    lab.usesNps();
    working = await lab.startNps();
    stuck = await lab.startNps(["--fault", "stuck"]);
    await lab.startAll();
  }, 60_000);
  afterAll(async () => {
    spawnSync("nft", ["delete", "table", "inet", NFT_TABLE]);
    await lab.close();
  });

  needsTools(["nft"])("with an nftables rule cutting the network", () => {
    it("network heartbeats cut while the disk is healthy: channels go down, nobody is fenced", async () => {
      await lab.waitFor("every channel to be ok", 5_000, async () =>
        (await lab.status(0)).members.every((m) => m.channels[0] === "ok" || m.channels[0] === "self")
          ? true
          : undefined,
      );
      const t0 = Date.now();
      const ports = lab.ports.join(", ");
      execFileSync("nft", ["add", "table", "inet", NFT_TABLE]);
      execFileSync("nft", [
        "add",
        "chain",
        "inet",
        NFT_TABLE,
        "input",
        "{ type filter hook input priority 0; }",
      ]);
      execFileSync("nft", [
        "add",
        "rule",
        "inet",
        NFT_TABLE,
        "input",
        "udp",
        "dport",
        `{ ${ports} }`,
        "drop",
      ]);
      try {
        const down = await lab.waitFor("member 0 to see the channels down", 10_000, async () => {
          const s = await lab.status(0);
          return s.members[1]?.channels[0] === "down" && s.members[2]?.channels[0] === "down" ? s : undefined;
        });
        expect(down.members.map((m) => m.state)).toEqual(["up", "up", "up"]);
        // Twice tko_netup's window with no network at all: the disk alone keeps everyone up.
        await new Promise((r) => setTimeout(r, 4_000));
        for (let m = 0; m < 3; m++) {
          expect(
            since(m, t0, (l) => l.to === "hung" || l.event === "fence" || l.event === "self-fence"),
          ).toEqual([]);
          expect((await lab.status(m)).members.map((row) => row.state)).toEqual(["up", "up", "up"]);
        }
      } finally {
        execFileSync("nft", ["delete", "table", "inet", NFT_TABLE]);
      }
      await lab.waitFor("the channels to come back", 5_000, async () =>
        (await lab.status(0)).members[1]?.channels[0] === "ok" ? true : undefined,
      );
    }, 30_000);
  });

  it("a member whose path to the disk turns read-only self-fences; its stuck switch means no takeover", async () => {
    const t0 = Date.now();
    const [primary] = lab.devices[2] as [string, string];
    setReadOnly(primary, true);
    try {
      const fenced = await lab.waitFor(
        "member 2 to self-fence",
        10_000,
        () => since(2, t0, (l) => l.event === "self-fence")[0],
      );
      expect(fenced.msg).toMatch(/^self-fencing: a status write to one of the quorum partitions failed/);
      expect(await lab.waitFor("member 2 to exit", 5_000, () => lab.exitStatus(2))).toBe(
        DAEMON_EXIT.selfFenced,
      );

      // Its peers find it hung and try its switch, which answers but never switches off.
      const isFailure = (l: LogLine) => l.event === "fence" && l.peer === 2 && / failed /.test(l.msg);
      const [fencer, failed] = await lab.waitFor("a failed fence of member 2", 40_000, () =>
        [0, 1].map((m) => [m, since(m, t0, isFailure)[0]] as const).find(([, l]) => l !== undefined),
      );
      expect(failed?.msg).toMatch(/fence attempt 1 failed .*its services stay where they are; retrying/);
      const row = await lab.waitFor("the status to say why member 2 is not taken over", 5_000, async () => {
        const r = (await lab.status(fencer)).members[2];
        return r?.fence !== undefined ? r : undefined;
      });
      expect(row.state).toBe("hung");
      expect(row.fence?.message).toContain("failed");
      // The fencing lock lets one member at a time fire the switch: no two attempts overlap.
      const windows = [0, 1].flatMap((m) => {
        const fired = since(m, t0, (l) => l.event === "fence" && l.peer === 2 && l.attempt !== undefined);
        const ended = since(m, t0, isFailure);
        return fired.map((f, i) => [Date.parse(f.time), Date.parse(ended[i]?.time ?? "9999-12-31")] as const);
      });
      windows.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < windows.length; i++)
        expect(windows[i]?.[0]).toBeGreaterThanOrEqual(windows[i - 1]?.[1] as number);
      for (const m of [0, 1]) expect(since(m, t0, (l) => / fenced: /.test(l.msg))).toEqual([]);
      figure(
        `read-only path: self-fenced after ${Date.parse(fenced.time) - t0} ms; stuck switch: first failed fence after ${Date.parse((failed as LogLine).time) - t0} ms`,
      );
    } finally {
      setReadOnly(primary, false);
    }
  }, 60_000);

  it("a member that cannot write both partitions does not join; once it can, it rejoins in a new incarnation", async () => {
    const [primary] = lab.devices[2] as [string, string];
    setReadOnly(primary, true);
    try {
      lab.start(2);
      expect(await lab.waitFor("member 2 to give up joining", 10_000, () => lab.exitStatus(2))).toBe(
        DAEMON_EXIT.cannotJoin,
      );
      expect(lab.log(2).at(-1)?.msg).toMatch(
        /^cannot write both quorum partitions, so this member does not join: /,
      );
    } finally {
      setReadOnly(primary, false);
    }
    lab.start(2);
    await lab.waitFor("member 0 to see member 2 up in incarnation 2", 10_000, async () => {
      const row = (await lab.status(0)).members[2];
      return row?.state === "up" && row.incarnation === 2 ? true : undefined;
    });
    expect((await lab.status(2)).answeredBy?.incarnation).toBe(2);
  }, 30_000);
});
