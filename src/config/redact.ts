// Masking secrets in what is printed of a configuration. A secret is known by its value, not by
// where it is printed: every value the text holds under a secret name (secrets.ts), on any line,
// whatever the line endings and even on a line the parser refuses, is masked wherever it shows up
// (an error message, a table cell, JSON). The printed configuration also masks each secret line
// whole, however short its value.
import { splitValue } from "./document.js";
import { isSecretName, MASK, maskForms } from "./secrets.js";

/** A value shorter than this is masked on its own line only: masking it everywhere would mangle
 * the output ("member1" for a password "1") and, by where the stars fall, show it anyway. */
export const MIN_MASKED_SECRET = 4;

/** Every kind of line break, not only the parser's "\n": a CR-only or mixed file is read this way. */
const ANY_BREAK = /(\r\n|\r|\n)/;
const ENTRY = /^(\s*)([A-Za-z0-9_.-]+)(\s*=)([\s\S]*)$/;

/** The values under secret names in `text`, in every form they may be printed in. */
export function secretValues(text: string): Set<string> {
  const found = new Set<string>();
  // Both readings of a line: the parser's (up to "\n") and the strictest (up to any break), so a
  // value holding a stray CR is known whole and in part.
  const pieces = [...text.split("\n"), ...text.split(ANY_BREAK)];
  for (const piece of pieces) {
    const entry = ENTRY.exec(piece);
    if (entry === null || !isSecretName(entry[2]!)) continue;
    const rest = entry[4]!;
    const { value } = splitValue(rest);
    for (const form of [value, rest.trim(), rest.replace(/\r$/, "").trim()]) if (form !== "") found.add(form);
    // A quoted value holds its escapes in the file.
    if (rest.trim().startsWith('"')) {
      const inner = rest.trim().slice(1);
      const close = inner.lastIndexOf('"');
      if (close > 0) found.add(inner.slice(0, close));
    }
  }
  return found;
}

/** `text` with every secret (and its JSON-escaped form) replaced by ***, longest first. */
export function redact(text: string, secrets: ReadonlySet<string>): string {
  if (secrets.size === 0) return text;
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_MASKED_SECRET) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  return maskForms(text, forms);
}

/** The configuration text for printing: secret values masked, and each secret line cut after "=". */
export function maskConfigText(text: string, secrets: ReadonlySet<string> = secretValues(text)): string {
  return redact(text, secrets)
    .split(ANY_BREAK)
    .map((piece) => {
      const entry = ENTRY.exec(piece);
      return entry !== null && isSecretName(entry[2]!) ? `${entry[1]}${entry[2]}${entry[3]} ${MASK}` : piece;
    })
    .join("");
}
