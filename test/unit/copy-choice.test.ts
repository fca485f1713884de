import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { judgeCopies, staleCopy, trustedCopy } from "../../src/disk/copy-choice.js";
import { NewestSeen, nextGeneration } from "../../src/disk/generations.js";

const same = () => true;
const different = () => false;

describe("which copy of a block to believe", () => {
  it("takes the higher generation, whichever copy holds it", () => {
    expect(judgeCopies({ generation: 6 }, { generation: 28 }, same)).toBe("primary-stale");
    expect(trustedCopy("primary-stale")).toBe("backup");
    expect(staleCopy("primary-stale")).toBe("primary");
    expect(judgeCopies({ generation: 29 }, { generation: 28 }, same)).toBe("backup-stale");
    expect(trustedCopy("backup-stale")).toBe("primary");
    expect(staleCopy("backup-stale")).toBe("backup");
  });

  it("believes neither of two good copies with one generation and different bytes", () => {
    expect(judgeCopies({ generation: 4 }, { generation: 4 }, different)).toBe("conflict");
    expect(trustedCopy("conflict")).toBeUndefined();
    expect(staleCopy("conflict")).toBeUndefined();
    expect(judgeCopies({ generation: 4 }, { generation: 4 }, same)).toBe("ok");
    expect(staleCopy("ok")).toBeUndefined();
  });

  it("takes the good copy over a damaged one, and neither when both are damaged", () => {
    expect(judgeCopies(undefined, { generation: 1 }, same)).toBe("primary-bad");
    expect(trustedCopy("primary-bad")).toBe("backup");
    expect(judgeCopies({ generation: 1 }, undefined, same)).toBe("backup-bad");
    expect(staleCopy("backup-bad")).toBe("backup");
    expect(judgeCopies(undefined, undefined, same)).toBe("both-bad");
    expect(trustedCopy("both-bad")).toBeUndefined();
  });

  it("never trusts the copy with the lower generation", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.boolean(), (p, b, identical) => {
        const verdict = judgeCopies({ generation: p }, { generation: b }, () => identical);
        const trusted = trustedCopy(verdict);
        if (p > b) expect(trusted).toBe("primary");
        else if (b > p) expect(trusted).toBe("backup");
        else expect(trusted === undefined).toBe(!identical);
      }),
    );
  });
});

describe("generations that only grow", () => {
  it("is one above everything known, whatever is missing", () => {
    expect(nextGeneration([])).toBe(1);
    expect(nextGeneration([undefined, 7, 3])).toBe(8);
    expect(() => nextGeneration([Number.MAX_SAFE_INTEGER])).toThrow(/cannot grow/);
  });

  it("never hands back an older version than one already seen", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { maxLength: 40 }), (generations) => {
        const seen = new NewestSeen<{ generation: number }>();
        let highest = -1;
        for (const generation of generations) {
          const kept = seen.keep(3, { generation });
          highest = Math.max(highest, generation);
          expect(kept.generation).toBe(highest);
        }
      }),
    );
  });
});
