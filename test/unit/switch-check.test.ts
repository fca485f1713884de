// The periodic look at the peers' switches: one session per switch and round, however many
// peers' outlets are on it, so a peer's fence rarely finds the switch busy with a check; and a
// shared serial line that another member holds is busy, not dead.
import { join } from "node:path";
import { SerialPort } from "serialport";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemberConfig } from "../../src/config/model.js";
import {
  type CheckChange,
  describeCheck,
  SWITCH_BUSY_CHECKS,
  SwitchChecker,
} from "../../src/daemon/switch-check.js";
import { Rps10Switch } from "../../src/power/rps10.js";
import { Rps10Simulator } from "../../tools/sim/rps10.js";
import { NpsSimulator } from "../../tools/sim/wti-nps.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const shared = new NpsSimulator({ port: 0, outlets: 4 });
const own = new NpsSimulator({ port: 0, outlets: 1 });
const dir = scratchDir("clumanager-switch-check-");
const rps10 = new Rps10Simulator({ link: join(dir.path, "ttyRPS"), outlets: 2 });
needsTools(["socat"])("the switch check, with an RPS-10 on a pseudo-terminal", () => {
  beforeAll(async () => {
    await shared.start();
    await own.start();
    await rps10.start();
  });
  afterAll(async () => {
    await shared.stop();
    await own.stop();
    await rps10.stop();
    dir.remove();
  });

  const peer = (id: number, sim: NpsSimulator, outlet: string): MemberConfig =>
    ({
      id,
      name: `clu${id}`,
      channels: [],
      power: { type: "wti_nps", host: "127.0.0.1", port: sim.port, outlet },
    }) as unknown as MemberConfig;

  const serialPeer = (id: number): MemberConfig =>
    ({
      id,
      name: `clu${id}`,
      channels: [],
      power: { type: "rps10", device: rps10.link, outlet: String(id % 2) },
    }) as unknown as MemberConfig;

  it("checks each switch once a round and gives every peer on it the answer", async () => {
    const peers = [peer(1, shared, "2"), peer(2, shared, "3"), peer(3, own, "1"), peer(4, shared, "4")];
    const changes: string[] = [];
    const checker = new SwitchChecker(
      peers,
      () => false,
      (c) => changes.push(c.member.name),
    );
    await checker.checkAll();
    expect(shared.connections).toBe(1);
    expect(own.connections).toBe(1);
    for (const p of peers)
      expect(checker.result(p.id)).toMatchObject({ ok: true, detail: expect.stringMatching(/answers$/) });
    expect(changes).toEqual([]);
  });

  describe("a serial line shared by members", () => {
    it("two members checking it at the same moment both find the switch answering", async () => {
      const changes: CheckChange[] = [];
      // Members 1 and 2 each check the switch of their peer 0, which is on the one shared line.
      const first = new SwitchChecker(
        [serialPeer(0)],
        () => false,
        (c) => changes.push(c),
      );
      const second = new SwitchChecker(
        [serialPeer(0)],
        () => false,
        (c) => changes.push(c),
      );
      await Promise.all([first.checkAll(), second.checkAll()]);
      expect(changes).toEqual([]);
      expect(first.result(0)).toMatchObject({ ok: true });
      expect(second.result(0)).toMatchObject({ ok: true });
    });

    it("is reported busy, not dead, only once it stayed taken over several checks", async () => {
      const holder = new SerialPort({ path: rps10.link, baudRate: 9600, autoOpen: false, lock: true });
      await new Promise<void>((resolve, reject) => holder.open((err) => (err ? reject(err) : resolve())));
      const changes: CheckChange[] = [];
      const checker = new SwitchChecker(
        [serialPeer(1)],
        () => false,
        (c) => changes.push(c),
        () => new Rps10Switch({ device: rps10.link, timeouts: { busy: 200 } }),
      );
      try {
        for (let i = 1; i < SWITCH_BUSY_CHECKS; i++) await checker.checkAll();
        expect(changes).toEqual([]);
        expect(checker.result(1)).toBeUndefined();
        await checker.checkAll();
        expect(changes).toHaveLength(1);
        const check = changes[0]!.check;
        expect(check).toMatchObject({ ok: false, busy: true });
        const logged = describeCheck("clu1", check);
        expect(logged).toMatch(
          /^the power switch of member clu1 is busy: its line stayed in use by another process/,
        );
        expect(logged).not.toMatch(/does not answer/);
        // Still busy: said once, not again every check.
        await checker.checkAll();
        expect(changes).toHaveLength(1);
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
      await checker.checkAll();
      expect(changes.map((c) => describeCheck(c.member.name, c.check))).toEqual([
        expect.stringMatching(/is busy/),
        "the power switch of member clu1 answers again",
      ]);
    });
  });
});
