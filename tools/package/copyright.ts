// The package's debian/copyright (machine-readable format 1.0): clumanager's own licence, and one
// paragraph for each Node module it bundles, with that module's licence text as it ships it.

export interface BundledModule {
  /** Its folder under node_modules, e.g. "@serialport/stream". */
  path: string;
  /** The SPDX name from its package.json. */
  license: string;
  /** The "Copyright ..." lines of its licence file (empty if it has none). */
  copyright: string[];
  /** Its licence file's text (undefined if it ships none). */
  licenseText?: string;
}

export interface CopyrightInput {
  /** Our own LICENSE file. */
  ownLicense: string;
  ownLicenseName: string;
  modules: readonly BundledModule[];
}

const FORMAT = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/";
/**
 * A line naming a holder: "Copyright (c) 2015 A", "Copyright © B", "Copyright 2014-2018, C". Not
 * "copyright notice and this permission notice...", which is part of the terms.
 */
const HOLDER_LINE = /^\s*copyright\s*(\(c\)|©|\d)/i;
/** Longer than this, a first line mentioning a licence is its text, not its title. */
const TITLE_MAX = 60;

/** The "Copyright ..." lines of a licence file, without the word itself. */
export function copyrightLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => HOLDER_LINE.test(l))
    .map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, "").trim())
    .filter((l) => l !== "");
}

/** A licence file minus its title and copyright lines: the licence terms alone. */
export function licenseTerms(text: string): string {
  const lines = text.replace(/\r/g, "").split("\n");
  const isCopyright = (l: string) => HOLDER_LINE.test(l);
  // A title is a short line naming the licence, such as "The MIT License (MIT)".
  const isTitle = (l: string) => l.length < TITLE_MAX && /licen[cs]e/i.test(l);
  let first = 0;
  while (
    first < lines.length &&
    (lines[first]!.trim() === "" || isCopyright(lines[first]!) || isTitle(lines[first]!))
  )
    first++;
  return lines
    .slice(first)
    .filter((l) => !isCopyright(l))
    .join("\n")
    .trim();
}

/** Indents a text as a field's continuation lines: blank lines become " .". */
function continuation(text: string): string {
  return text
    .split("\n")
    .map((l) => (l.trim() === "" ? " ." : ` ${l.trimEnd()}`))
    .join("\n");
}

export function copyrightFile(input: CopyrightInput): string {
  const paragraphs: string[] = [
    [
      `Format: ${FORMAT}`,
      "Upstream-Name: clumanager",
      "Comment: Bundled Node.js modules are installed under /usr/lib/clumanager/node_modules.",
    ].join("\n"),
    [
      "Files: *",
      `Copyright: ${copyrightLines(input.ownLicense).join("\n           ") || "The clumanager authors"}`,
      `License: ${input.ownLicenseName}`,
    ].join("\n"),
  ];
  const texts = new Map<string, string>([[input.ownLicenseName, licenseTerms(input.ownLicense)]]);
  for (const m of [...input.modules].sort((a, b) => a.path.localeCompare(b.path))) {
    const holders = m.copyright.length > 0 ? m.copyright : [`the authors of ${m.path}`];
    paragraphs.push(
      [
        `Files: node_modules/${m.path}/*`,
        `Copyright: ${holders.join("\n           ")}`,
        `License: ${m.license}`,
      ].join("\n"),
    );
    if (!texts.has(m.license) && m.licenseText !== undefined)
      texts.set(m.license, licenseTerms(m.licenseText));
  }
  for (const m of input.modules) {
    if (!texts.has(m.license))
      throw new Error(
        `node_modules/${m.path} is under ${m.license} but no bundled module ships that licence's text; add it to the copyright by hand`,
      );
  }
  for (const [name, terms] of texts) paragraphs.push(`License: ${name}\n${continuation(terms)}`);
  return `${paragraphs.join("\n\n")}\n`;
}
