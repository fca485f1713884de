// The periodic look at the peers' switches: one session per switch and round, however many
// peers' outlets are on it, so a peer's fence rarely finds the switch busy with a check.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { MemberConfig } from "../../src/config/model.js";
import { SwitchChecker } from "../../src/daemon/switch-check.js";
import { NpsSimulator } from "../../tools/sim/wti-nps.js";

const shared = new NpsSimulator({ port: 0, outlets: 4 });
const own = new NpsSimulator({ port: 0, outlets: 1 });
beforeAll(async () => {
  await shared.start();
  await own.start();
});
afterAll(async () => {
  await shared.stop();
  await own.stop();
});

const peer = (id: number, sim: NpsSimulator, outlet: string): MemberConfig =>
  ({
    id,
    name: `clu${id}`,
    channels: [],
    power: { type: "wti_nps", host: "127.0.0.1", port: sim.port, outlet },
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
