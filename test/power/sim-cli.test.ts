import { describe, expect, it } from "vitest";
import { runSimProgram as runSim } from "../helpers/sim-program.js";

describe("switch simulators' command lines", () => {
  it("refuse an unknown fault or model with one sentence and exit 64, before listening", () => {
    const cases: [string, string[], string][] = [
      [
        "rps10",
        ["--link", "/nonexistent/rps10", "--fault", "bogus"],
        "rps10 simulator: --fault must be one of none, silent, stall, garbage, late, stuck, not bogus\n",
      ],
      [
        "wti-nps",
        ["--port", "0", "--fault", "bogus"],
        "wti-nps simulator: --fault must be one of none, silent, stall, garbage, stuck, not bogus\n",
      ],
      [
        "apc-snmp",
        ["--port", "0", "--model", "pdu9"],
        "apc-snmp simulator: --model must be one of rpdu, masterswitch, not pdu9\n",
      ],
    ];
    for (const [script, args, message] of cases) {
      const r = runSim(script, args);
      expect(r.status, script).toBe(64);
      expect(r.stderr, script).toBe(message);
      expect(r.stdout, script).toBe("");
    }
  });

  it("names a missing required option and shows the usage", () => {
    const r = runSim("apc-snmp", []);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/^apc-snmp simulator: --port PORT is required\nusage: /);
  });
});
