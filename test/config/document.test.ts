import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatValue, parseDocument, serialise, splitValue } from "../../src/config/document.js";

const example = readFileSync("conf/cluster.conf", "utf8");

describe("the cluster.conf document", () => {
  it("serialises the shipped example byte for byte", () => {
    expect(serialise(parseDocument(example))).toBe(example);
  });

  it("serialises any text byte for byte, and never throws on it", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const doc = parseDocument(text);
        expect(serialise(doc)).toBe(text);
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws on text made of its own syntax in any order", () => {
    const piece = fc.constantFrom(
      "[cluster]",
      "[x]",
      "start a",
      "end a",
      "start b",
      "end b",
      "k = v",
      'k = "q',
      "# c",
      "",
      "  x=1 # y",
      "junk",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (lines) => {
        const text = lines.join("\n");
        const doc = parseDocument(text);
        expect(serialise(doc)).toBe(text);
        for (const p of doc.problems) expect(p.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads sections, nested blocks, entries and trailing comments, with their lines", () => {
    const doc = parseDocument(
      "[members]\nstart member0\n  name = clu1   # the first\n  start power\n    type = none\n  end power\nend member0\n",
    );
    expect(doc.problems).toEqual([]);
    const member = doc.sections[0]!.children[0]!;
    expect(member).toMatchObject({ kind: "block", name: "member0", line: 2, endLine: 7 });
    expect(member.kind === "block" && member.children[0]).toEqual({
      kind: "entry",
      key: "name",
      value: "clu1",
      line: 3,
    });
  });

  it("names the line of every structural mistake", () => {
    const doc = parseDocument("k = v\n[s]\nstart a\nend b\nwhat is this\nend c\n[t]\nstart z\n");
    expect(doc.problems).toEqual([
      { line: 1, message: '"k" comes before any [section]' },
      { line: 4, message: '"end b" does not match "start a" on line 3' },
      {
        line: 5,
        message: 'cannot read this line: expected "key = value", "[section]", "start NAME" or "end NAME"',
      },
      { line: 6, message: '"end c" does not match "start a" on line 3' },
      { line: 3, message: '"start a" has no "end a" before the next section' },
      { line: 8, message: '"start z" has no "end z"' },
    ]);
  });

  it("quotes values that would not survive bare, and reads them back", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((s) => !s.includes("\n") && !s.includes("\r")),
        (value) => {
          expect(splitValue(formatValue(value))).toEqual({ value, ok: true });
        },
      ),
      { numRuns: 2000 },
    );
    expect(formatValue("change me")).toBe("change me");
    expect(formatValue("a #b")).toBe('"a #b"');
    expect(splitValue('"a \\" b" # c')).toEqual({ value: 'a " b', ok: true });
    expect(splitValue('"open')).toMatchObject({ ok: false });
  });
});
