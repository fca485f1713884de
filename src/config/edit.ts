// Edits of a cluster.conf document that change only the lines they must: a value is replaced in
// place (its indentation and trailing comment kept), a new line goes next to its siblings, a
// removed block takes only its own lines. Each edit returns a new document.
import {
  type Block,
  type ConfDocument,
  formatValue,
  type Node,
  parseDocument,
  type Section,
  serialise,
} from "./document.js";

export class EditError extends Error {
  override name = "EditError";
}

/** Where an edit applies: a section, then the names of nested blocks. */
export type Path = readonly [section: string, ...blocks: string[]];

interface Container {
  /** The line that opens it (section header or "start"), 1-based. */
  line: number;
  /** The line that closes it ("end"), or undefined for a section (ends at the next one). */
  endLine: number | undefined;
  children: Node[];
}

function find(doc: ConfDocument, path: Path): Container | undefined {
  const [sectionName, ...blocks] = path;
  const section: Section | undefined = doc.sections.find((s) => s.name === sectionName);
  if (section === undefined) return undefined;
  let here: Container = { line: section.line, endLine: undefined, children: section.children };
  for (const name of blocks) {
    const block = here.children.find((c): c is Block => c.kind === "block" && c.name === name);
    if (block === undefined) return undefined;
    here = { line: block.line, endLine: block.endLine, children: block.children };
  }
  return here;
}

function indentOf(line: string): string {
  return /^\s*/.exec(line)?.[0] ?? "";
}

/** Where a container's content ends: before its "end" line, or after the section's last line. */
function lastContentLine(doc: ConfDocument, c: Container): number {
  if (c.endLine !== undefined) return c.endLine - 1;
  const next = doc.sections.find((s) => s.line > c.line);
  let last = (next?.line ?? doc.lines.length + 1) - 1;
  while (last > c.line && doc.lines[last - 1]!.trim() === "") last--;
  return last;
}

/** The indentation of a new line inside `c`: its siblings', or one step in from its opener. */
function childIndent(doc: ConfDocument, c: Container, pathDepth: number): string {
  const sibling = c.children[0];
  if (sibling !== undefined) return indentOf(doc.lines[sibling.line - 1]!);
  return pathDepth === 0 ? "" : `${indentOf(doc.lines[c.line - 1]!)}  `;
}

/** The file's line ending for new lines: CR LF if most of its lines have one. */
function eolOf(doc: ConfDocument): string {
  const crlf = doc.lines.filter((l) => l.endsWith("\r")).length;
  return crlf * 2 > doc.lines.length ? "\r" : "";
}

/** The whitespace and comment after the value of "key = value  # comment", or "". */
function trailingComment(afterEquals: string): string {
  const text = afterEquals.replace(/^\s*/, "");
  let end = 0;
  if (text.startsWith('"')) {
    for (end = 1; end < text.length; end++) {
      if (text[end] === "\\") end++;
      else if (text[end] === '"') {
        end++;
        break;
      }
    }
  } else {
    const hash = text.search(/(^|\s)#/);
    end = hash === -1 ? text.length : text.slice(0, hash).trimEnd().length;
  }
  const rest = text.slice(end);
  return /^\s*#/.test(rest) ? rest : "";
}

function checkValue(value: string): void {
  if (/[\r\n]/.test(value)) throw new EditError("a value cannot contain a line break");
}

function rebuilt(doc: ConfDocument, lines: string[]): ConfDocument {
  return parseDocument(serialise({ ...doc, lines }));
}

export function getEntry(doc: ConfDocument, path: Path, key: string): string | undefined {
  const c = find(doc, path);
  const entry = c?.children.find((n) => n.kind === "entry" && n.key === key);
  return entry?.kind === "entry" ? entry.value : undefined;
}

/** Sets `key` in the container at `path`: replaces its line, or adds one after its siblings. */
export function setEntry(doc: ConfDocument, path: Path, key: string, value: string): ConfDocument {
  const c = find(doc, path);
  if (c === undefined) throw new EditError(`there is no ${path.join(" > ")} to set ${key} in`);
  checkValue(value);
  const lines = [...doc.lines];
  const existing = c.children.find((n) => n.kind === "entry" && n.key === key);
  if (existing !== undefined) {
    const raw = lines[existing.line - 1]!;
    const cr = raw.endsWith("\r") ? "\r" : "";
    const old = cr ? raw.slice(0, -1) : raw;
    const comment = trailingComment(old.slice(old.indexOf("=") + 1));
    lines[existing.line - 1] = `${indentOf(old)}${key} = ${formatValue(value)}${comment}${cr}`;
    return rebuilt(doc, lines);
  }
  const entries = c.children.filter((n) => n.kind === "entry");
  const after = entries.length > 0 ? entries.at(-1)!.line : c.line;
  lines.splice(
    after,
    0,
    `${childIndent(doc, c, path.length - 1)}${key} = ${formatValue(value)}${eolOf(doc)}`,
  );
  return rebuilt(doc, lines);
}

export function removeEntry(doc: ConfDocument, path: Path, key: string): ConfDocument {
  const c = find(doc, path);
  const existing = c?.children.find((n) => n.kind === "entry" && n.key === key);
  if (existing === undefined) return doc;
  const lines = [...doc.lines];
  lines.splice(existing.line - 1, 1);
  return rebuilt(doc, lines);
}

export interface NewBlock {
  name: string;
  entries: readonly (readonly [string, string])[];
  blocks?: readonly NewBlock[];
}

function render(block: NewBlock, indent: string): string[] {
  for (const [, v] of block.entries) checkValue(v);
  return [
    `${indent}start ${block.name}`,
    ...block.entries.map(([k, v]) => `${indent}  ${k} = ${formatValue(v)}`),
    ...(block.blocks ?? []).flatMap((b) => render(b, `${indent}  `)),
    `${indent}end ${block.name}`,
  ];
}

/** Adds a block at the end of the container at `path` (creating a missing section). */
export function addBlock(doc: ConfDocument, path: Path, block: NewBlock): ConfDocument {
  const c = find(doc, path);
  let lines = [...doc.lines];
  if (c === undefined && path.length === 1) {
    const eol = eolOf(doc);
    lines = [
      ...lines,
      ...(lines.length > 0 && lines.at(-1)!.trim() !== "" ? [eol] : []),
      `[${path[0]}]${eol}`,
    ];
    return addBlock(rebuilt(doc, lines), path, block);
  }
  if (c === undefined) throw new EditError(`there is no ${path.join(" > ")} to add ${block.name} to`);
  if (c.children.some((n) => n.kind === "block" && n.name === block.name)) {
    throw new EditError(`${block.name} already exists in ${path.join(" > ")}`);
  }
  const at = lastContentLine(doc, c);
  const blocks = c.children.filter((n) => n.kind === "block");
  const indent =
    blocks.length > 0 ? indentOf(lines[blocks[0]!.line - 1]!) : childIndent(doc, c, path.length - 1);
  const eol = eolOf(doc);
  lines.splice(at, 0, ...render(block, indent).map((l) => `${l}${eol}`));
  return rebuilt(doc, lines);
}

/** Removes the block at `path` (its own lines only). */
export function removeBlock(doc: ConfDocument, path: Path): ConfDocument {
  const [, ...names] = path;
  if (names.length === 0) throw new EditError("a section cannot be removed, only blocks");
  const c = find(doc, path);
  if (c === undefined || c.endLine === undefined)
    throw new EditError(`there is no ${path.join(" > ")} to remove`);
  const lines = [...doc.lines];
  lines.splice(c.line - 1, c.endLine - c.line + 1);
  return rebuilt(doc, lines);
}
