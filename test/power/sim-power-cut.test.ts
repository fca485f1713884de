// A simulated switch confirms an outlet off only once the outlet's hook (in the lab: killing the
// member's processes) has run to its end, as a real relay has cut the power before it says so.
// Answering first let a peer start a service while the fenced member's copy still ran.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Rps10Switch } from "../../src/power/rps10.js";
import { WtiNpsSwitch } from "../../src/power/wti-nps.js";
import { Rps10Simulator } from "../../tools/sim/rps10.js";
import { NpsSimulator } from "../../tools/sim/wti-nps.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-power-cut-");
/** A hook slower than the switch's reply: it records the cut only after 400 ms. */
const hook = (name: string) => `sleep 0.4; echo "$OUTLET $STATE" >> ${join(dir.path, name)}`;
const cuts = (name: string) => {
  const file = join(dir.path, name);
  return existsSync(file) ? readFileSync(file, "utf8") : "";
};
const rps10 = new Rps10Simulator({ link: join(dir.path, "ttyRPS"), outlets: 2, hook: hook("rps10.cuts") });
const nps = new NpsSimulator({ port: 0, outlets: 2, hook: hook("nps.cuts") });

needsTools(["socat"])("a simulated switch's confirmed off", () => {
  beforeAll(async () => {
    await Promise.all([rps10.start(), nps.start()]);
  });
  afterAll(async () => {
    await Promise.all([rps10.stop(), nps.stop()]);
    dir.remove();
  });

  it("RPS-10: comes only once the outlet's hook has run", async () => {
    await new Rps10Switch({ device: rps10.link }).off("1");
    expect(cuts("rps10.cuts")).toBe("1 off\n");
  });

  it("NPS: comes only once the plug's hook has run", async () => {
    await new WtiNpsSwitch({ host: "127.0.0.1", port: nps.port }).off("2");
    expect(cuts("nps.cuts")).toBe("2 off\n");
  });
});
