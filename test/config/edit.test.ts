import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseDocument, serialise } from "../../src/config/document.js";
import { addBlock, EditError, getEntry, removeBlock, removeEntry, setEntry } from "../../src/config/edit.js";
import { validateDocument } from "../../src/config/validate.js";

const example = readFileSync("conf/cluster.conf", "utf8");

/** The lines of `after` that are not in `before` at the same place, as a line diff would show. */
function changed(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split("\n");
  const b = after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return { removed: a.slice(start, endA), added: b.slice(start, endB) };
}

describe("editing cluster.conf", () => {
  const doc = parseDocument(example);

  it("replaces a value in place, keeping its indentation and its comment", () => {
    const after = serialise(setEntry(doc, ["cluster"], "tko", "9"));
    expect(changed(example, after)).toEqual({
      removed: ["tko = 7                      # missed intervals before a member is declared hung"],
      added: ["tko = 9                      # missed intervals before a member is declared hung"],
    });
  });

  it("adds a new entry next to its siblings, with their indentation", () => {
    const after = serialise(setEntry(doc, ["services", "service1"], "failback", "yes"));
    expect(changed(example, after)).toEqual({ removed: [], added: ["  failback = yes"] });
    expect(getEntry(parseDocument(after), ["services", "service1"], "failback")).toBe("yes");
  });

  it("quotes a value that needs it, and reads it back", () => {
    const edited = setEntry(doc, ["members", "member1", "power"], "password", "a #hash");
    expect(getEntry(edited, ["members", "member1", "power"], "password")).toBe("a #hash");
  });

  it("adds a block at the end of its section, and the file still validates", () => {
    const edited = addBlock(doc, ["services"], {
      name: "service2",
      entries: [
        ["name", "db"],
        ["preferred_member", "clu3"],
      ],
      blocks: [
        {
          name: "resource0",
          entries: [
            ["type", "script"],
            ["path", "/etc/init.d/postgresql"],
          ],
        },
      ],
    });
    const diff = changed(example, serialise(edited));
    expect(diff.removed).toEqual([]);
    expect(diff.added).toEqual(
      [
        "",
        "start service2",
        "  name = db",
        "  preferred_member = clu3",
        "  start resource0",
        "    type = script",
        "    path = /etc/init.d/postgresql",
        "  end resource0",
        "end service2",
      ].slice(diff.added[0] === "" ? 0 : 1),
    );
    expect(validateDocument(edited).ok).toBe(true);
  });

  it("removes a block and only its lines", () => {
    const after = serialise(removeBlock(doc, ["services", "service1"]));
    const diff = changed(example, after);
    expect(diff.added).toEqual([]);
    expect(diff.removed[0]).toBe("start service1");
    expect(diff.removed.at(-1)).toBe("end service1");
    expect(validateDocument(parseDocument(after)).ok).toBe(true);
  });

  it("removes an entry, and leaves a document without it alone", () => {
    const after = serialise(removeEntry(doc, ["cluster"], "syslog_facility"));
    expect(changed(example, after)).toEqual({ removed: ["syslog_facility = local4"], added: [] });
    expect(serialise(removeEntry(doc, ["cluster"], "nonexistent"))).toBe(example);
  });

  it("keeps CR LF line endings in a CR LF file, on changed and on new lines", () => {
    const crlf = example.replaceAll("\n", "\r\n");
    let edited = setEntry(parseDocument(crlf), ["cluster"], "tko", "9");
    edited = setEntry(edited, ["cluster"], "name", "renamed");
    edited = addBlock(edited, ["services"], { name: "service2", entries: [["name", "db"]] });
    const text = serialise(edited);
    expect(
      text
        .split("\n")
        .slice(0, -1)
        .every((l) => l.endsWith("\r")),
    ).toBe(true);
    expect(text).toContain(
      "tko = 9                      # missed intervals before a member is declared hung\r\n",
    );
    expect(validateDocument(edited).ok).toBe(true);
  });

  it("keeps a trailing comment that holds quotes, and after a quoted value", () => {
    const doc = parseDocument('[cluster]\nloglevel = warning   # was "info" once\nname = "a b"  # quoted\n');
    expect(serialise(setEntry(doc, ["cluster"], "loglevel", "err"))).toContain(
      'loglevel = err   # was "info" once\n',
    );
    expect(serialise(setEntry(doc, ["cluster"], "name", "c"))).toContain("name = c  # quoted\n");
  });

  it("refuses a value with a line break, which would smuggle in another key", () => {
    expect(() =>
      setEntry(doc, ["services", "service1"], "preferred_member", "clu1\n  disabled = yes"),
    ).toThrow(/line break/);
    expect(() => addBlock(doc, ["services"], { name: "service2", entries: [["name", "x\ry"]] })).toThrow(
      /line break/,
    );
  });

  it("refuses edits of things that are not there", () => {
    expect(() => setEntry(doc, ["services", "service9"], "name", "x")).toThrow(EditError);
    expect(() => removeBlock(doc, ["services", "service9"])).toThrow(
      /there is no services > service9 to remove/,
    );
    expect(() => addBlock(doc, ["services"], { name: "service0", entries: [] })).toThrow(
      /service0 already exists/,
    );
  });

  it("creates a missing [services] section when the first service is added", () => {
    const bare = parseDocument(example.slice(0, example.indexOf("[services]")));
    const edited = addBlock(bare, ["services"], { name: "service0", entries: [["name", "web"]] });
    expect(serialise(edited).endsWith("[services]\nstart service0\n  name = web\nend service0\n")).toBe(true);
    expect(validateDocument(edited).ok).toBe(true);
  });
});
