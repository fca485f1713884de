// cluster.conf as a document: every line kept as written, and a tree of sections, blocks and
// entries that points back at the lines. Serialising is joining the lines, so a file read and
// written unchanged is byte for byte the same, and an edit touches only the lines it must.
//
//   [section]             a section header
//   key = value           an entry; a value may be "quoted" to hold a # or outer spaces
//   start NAME ... end NAME   a nested block
//   # comment             anywhere; after a value, a # preceded by a space starts a comment

/** A document holds at most this many lines; a longer file is refused, not half read. */
export const MAX_LINES = 100_000;
/** Blocks nest at most this deep (member > chan/power, service > resource). */
export const MAX_DEPTH = 8;

export interface Entry {
  kind: "entry";
  key: string;
  value: string;
  /** 1-based line number. */
  line: number;
}

export interface Block {
  kind: "block";
  name: string;
  line: number;
  /** Line of its "end NAME", or undefined when the file ends first. */
  endLine: number | undefined;
  children: Node[];
}

export type Node = Entry | Block;

export interface Section {
  name: string;
  line: number;
  children: Node[];
}

export interface SyntaxProblem {
  line: number;
  message: string;
}

export interface ConfDocument {
  lines: string[];
  /** Whether the text ended with a line break (kept on serialising). */
  finalNewline: boolean;
  sections: Section[];
  problems: SyntaxProblem[];
}

const SECTION = /^\s*\[\s*([A-Za-z0-9_.-]*)\s*\]\s*(?:#.*)?$/;
const START = /^\s*start\s+(\S+)\s*(?:#.*)?$/;
const END = /^\s*end\s+(\S+)\s*(?:#.*)?$/;
const ENTRY = /^\s*([A-Za-z0-9_.-]+)\s*=(.*)$/;
const BLANK_OR_COMMENT = /^\s*(?:#.*)?$/;

/** Splits `rest` (what follows "key =") into the value and whatever comment follows it. */
export function splitValue(rest: string): { value: string; ok: boolean } {
  const text = rest.trim();
  if (text.startsWith('"')) {
    let value = "";
    for (let i = 1; i < text.length; i++) {
      const c = text[i]!;
      if (c === "\\" && i + 1 < text.length) {
        value += text[++i];
        continue;
      }
      if (c === '"') {
        const after = text.slice(i + 1).trim();
        return { value, ok: after === "" || after.startsWith("#") };
      }
      value += c;
    }
    return { value, ok: false };
  }
  const comment = text.search(/(^|\s)#/);
  return { value: (comment === -1 ? text : text.slice(0, comment)).trim(), ok: true };
}

/** Writes a value so that splitValue gives it back: quoted when it would not survive bare. */
export function formatValue(value: string): string {
  if (value === "" || value !== value.trim() || /(^|\s)#/.test(value) || value.startsWith('"')) {
    return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  }
  return value;
}

export function parseDocument(text: string): ConfDocument {
  const finalNewline = text.endsWith("\n");
  const body = finalNewline ? text.slice(0, -1) : text;
  const lines = body === "" && !finalNewline ? [] : body.split("\n");
  const problems: SyntaxProblem[] = [];
  const sections: Section[] = [];
  if (lines.length > MAX_LINES) {
    return {
      lines,
      finalNewline,
      sections,
      problems: [{ line: MAX_LINES + 1, message: `the file has more than ${MAX_LINES} lines` }],
    };
  }
  let section: Section | undefined;
  const open: Block[] = [];
  const container = (): Node[] | undefined => open.at(-1)?.children ?? section?.children;

  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (BLANK_OR_COMMENT.test(text)) continue;
    const header = SECTION.exec(text);
    if (header) {
      for (const b of open)
        problems.push({
          line: b.line,
          message: `"start ${b.name}" has no "end ${b.name}" before the next section`,
        });
      open.length = 0;
      section = { name: header[1]!, line, children: [] };
      sections.push(section);
      continue;
    }
    const start = START.exec(text);
    if (start) {
      const into = container();
      if (into === undefined) {
        problems.push({ line, message: `"start ${start[1]}" comes before any [section]` });
        continue;
      }
      if (open.length >= MAX_DEPTH) {
        problems.push({ line, message: `blocks are nested more than ${MAX_DEPTH} deep` });
        continue;
      }
      const block: Block = { kind: "block", name: start[1]!, line, endLine: undefined, children: [] };
      into.push(block);
      open.push(block);
      continue;
    }
    const end = END.exec(text);
    if (end) {
      const top = open.at(-1);
      if (top === undefined) {
        problems.push({ line, message: `"end ${end[1]}" closes no block` });
        continue;
      }
      if (top.name !== end[1]) {
        problems.push({
          line,
          message: `"end ${end[1]}" does not match "start ${top.name}" on line ${top.line}`,
        });
        continue;
      }
      top.endLine = line;
      open.pop();
      continue;
    }
    const entry = ENTRY.exec(text);
    if (entry) {
      const into = container();
      if (into === undefined) {
        problems.push({ line, message: `"${entry[1]}" comes before any [section]` });
        continue;
      }
      const { value, ok } = splitValue(entry[2]!);
      if (!ok) {
        problems.push({
          line,
          message: `the quoted value of "${entry[1]}" is not closed properly`,
        });
        continue;
      }
      into.push({ kind: "entry", key: entry[1]!, value, line });
      continue;
    }
    problems.push({
      line,
      message: `cannot read this line: expected "key = value", "[section]", "start NAME" or "end NAME"`,
    });
  }
  for (const b of open) problems.push({ line: b.line, message: `"start ${b.name}" has no "end ${b.name}"` });
  return { lines, finalNewline, sections, problems };
}

export function serialise(doc: ConfDocument): string {
  return doc.lines.join("\n") + (doc.finalNewline ? "\n" : "");
}
