// A fence's power cycle reports the confirmed off the moment it is seen, before the member is
// switched on again: recovery waits for the off, not for the on.
import { afterAll, beforeAll, expect, it } from "vitest";
import { powerCycle } from "../../src/power/power-cycle.js";
import { NpsSimulator } from "../../tools/sim/wti-nps.js";

const sim = new NpsSimulator({ port: 0, outlets: 2 });
beforeAll(() => sim.start());
afterAll(() => sim.stop());

it("tells of the confirmed off while the outlet is still off, then switches it on", async () => {
  const seen: string[] = [];
  const result = await powerCycle({ type: "wti_nps", host: "127.0.0.1", port: sim.port }, "1", {
    warn: (m) => seen.push(`warn ${m}`),
    observer: (e) => seen.push(e.step),
    onOff: (r) => seen.push(`told ${r.confirmedOff} with plug1 ${sim.bank.get("1")}`),
  });
  expect(result).toMatchObject({ confirmedOff: true, byTime: false });
  expect(result.onFailed).toBeUndefined();
  const told = seen.indexOf("told true with plug1 off");
  expect(told).toBeGreaterThan(seen.indexOf("off confirmed"));
  expect(seen.indexOf("on confirmed")).toBeGreaterThan(told);
  expect(sim.bank.get("1")).toBe("on");
});
