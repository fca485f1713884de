// A cluster.conf that holds secrets inline (password = ..., arg.apikey = ...) must not be readable
// by group or others. The check only warns: the file is the administrator's, and the *_file form
// (password_file = /etc/clumanager/nps.pass) keeps the secrets out of it altogether.
import { statSync } from "node:fs";
import type { ConfDocument, Node } from "./document.js";
import { isSecretName } from "./secrets.js";

/** The keys that hold a secret value in the file itself, with their lines. */
export function inlineSecrets(doc: ConfDocument): { key: string; line: number }[] {
  const found: { key: string; line: number }[] = [];
  const walk = (nodes: readonly Node[]) => {
    for (const node of nodes) {
      if (node.kind === "block") walk(node.children);
      else if (isSecretName(node.key) && node.value !== "") found.push({ key: node.key, line: node.line });
    }
  };
  for (const section of doc.sections) walk(section.children);
  return found;
}

/** The warning for a file of mode `mode` holding `secrets`, or undefined when there is none. */
export function exposureWarning(
  path: string,
  mode: number,
  secrets: readonly { key: string; line: number }[],
): string | undefined {
  const readers = [(mode & 0o040) !== 0 ? "group" : "", (mode & 0o004) !== 0 ? "others" : ""].filter(
    (r) => r !== "",
  );
  if (secrets.length === 0 || readers.length === 0) return undefined;
  const first = secrets[0]!;
  const more = secrets.length > 1 ? ` and ${secrets.length - 1} more` : "";
  const octal = (mode & 0o7777).toString(8).padStart(4, "0");
  return `${path} holds secrets (${first.key} on line ${first.line}${more}) and is readable by ${readers.join(" and ")} (mode ${octal}): run chmod 600 ${path}, or move them to files of their own with the *_file form (password_file = PATH, arg.NAME_file = PATH)`;
}

/** exposureWarning for the file at `path` as it is now; undefined if it cannot be looked at. */
export function checkExposure(path: string, doc: ConfDocument): string | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  return exposureWarning(path, mode, inlineSecrets(doc));
}
