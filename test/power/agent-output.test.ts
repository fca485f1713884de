// What of a fence agent's output goes into a message: its real error, bounded, without secrets.
import { describe, expect, it } from "vitest";
import { agentWords, MAX_REPORTED_CHARS, MAX_REPORTED_LINES, scrub } from "../../src/power/agent-output.js";
import { BoundedOutput } from "../../src/power/agent-process.js";

// What Debian's fence_ipmilan prints when ipmitool is missing (its stderr, as captured).
const IPMILAN = `/usr/sbin/fence_ipmilan:5: DeprecationWarning: 'pipes' is deprecated and slated for removal in Python 3.13
  from pipes import quote
2026-12-04 02:41:47,595 ERROR: Ipmitool not found or not accessible

2026-12-04 02:41:47,595 ERROR: Please use '-h' for usage

`;
// fence_wti without an address: every error twice, once per log handler.
const WTI = `WARNING:root:Parse error: Ignoring unknown option 'bogus=1'

ERROR:root:Failed: You have to enter fence address

2026-12-04 02:42:07,749 ERROR: Failed: You have to enter fence address

ERROR:root:Please use '-h' for usage

2026-12-04 02:42:07,749 ERROR: Please use '-h' for usage
`;

describe("agentWords", () => {
  it("keeps the error lines, once each, without the closing usage line", () => {
    expect(agentWords(IPMILAN)).toBe("ERROR: Ipmitool not found or not accessible");
    expect(agentWords(WTI)).toBe("ERROR: Failed: You have to enter fence address");
  });

  it("falls back to the last lines when none says ERROR or Failed", () => {
    expect(agentWords("one\ntwo\nthree\nfour\nfive\nsix\nseven\n")).toBe("three / four / five / six / seven");
    expect(agentWords("")).toBe("");
  });

  it("is bounded in lines and characters", () => {
    const many = Array.from({ length: 50 }, (_, i) => `ERROR: problem ${i}`).join("\n");
    const words = agentWords(many);
    expect(words.split(" / ")).toHaveLength(MAX_REPORTED_LINES + 1);
    expect(words).toMatch(/\(45 more\)$/);
    expect(agentWords(`ERROR: ${"x".repeat(10_000)}`).length).toBeLessThanOrEqual(MAX_REPORTED_CHARS + 3);
  });
});

describe("scrub", () => {
  it("hides a secret as given, JSON-escaped, repr-escaped and URL-encoded, and any secret-named value", () => {
    const secret = `a"b'c\\d e`;
    const echoed = [
      `got password=${secret}`,
      `json ${JSON.stringify({ password: secret })}`,
      `repr {'--password': 'a"b\\'c\\\\d e'}`,
      `url ?pw=${encodeURIComponent(secret)}`,
      "apikey: other-value",
    ].join("\n");
    const out = scrub(echoed, [secret]);
    expect(out).not.toMatch(/b'c|b\\'c|c\\d|c\\\\d|other-value/);
    expect(out).toContain("apikey: ***");
  });
});

describe("BoundedOutput", () => {
  it("keeps the first and the last half of a long output, and says how much it left out", () => {
    const out = new BoundedOutput(100);
    for (let i = 0; i < 100; i++) out.add(Buffer.from(`${String(i).padStart(3, "0")}\n`));
    const text = out.text();
    expect(text.startsWith("000\n001\n")).toBe(true);
    expect(text.endsWith("098\n099\n")).toBe(true);
    expect(text).toContain("(300 bytes left out)");
  });
});
