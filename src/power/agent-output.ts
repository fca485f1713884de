// What a fence agent said, made fit for a message: the lines that say what went wrong (fence-agents
// log real errors as "ERROR: ..." or "Failed: ..."), bounded, and with every secret the driver
// sent scrubbed out, however the agent echoed it back.
import { isSecretName, MASK, maskForms } from "../config/secrets.js";

/** At most this many of the agent's lines go into a message. */
export const MAX_REPORTED_LINES = 5;
/** And at most this many characters of them. */
export const MAX_REPORTED_CHARS = 1_000;

/** What agents print in front of a real error: "ERROR: ...", "Failed: ...", fence_kdump's "[error]: ...". */
const ERROR_LINE = /^\[?(error|critical|fatal|failed)\b/i;
/** fence-agents' closing words after any usage error, which say nothing about the cause. */
const BOILERPLATE = /^(ERROR: )?Please use '-h' for usage$/;
/** fence-agents log each error twice: "2024-01-01 10:00:00,123 ERROR: x" and "ERROR:root:x". */
const TIMESTAMP = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)? /;
const LOGGER_NAME = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL):[\w.]+:/;

function normalise(line: string): string {
  const bare = line.trim().replace(TIMESTAMP, "");
  const logger = LOGGER_NAME.exec(bare);
  return logger !== null ? `${logger[1]}: ${bare.slice(logger[0].length).trim()}` : bare;
}

/** The lines of `output` worth reporting, joined with " / "; "" when the agent said nothing. */
export function agentWords(output: string): string {
  const lines: string[] = [];
  for (const raw of output.split("\n")) {
    const line = normalise(raw);
    if (line !== "" && !lines.includes(line)) lines.push(line);
  }
  const errors = lines.filter((l) => ERROR_LINE.test(l) && !BOILERPLATE.test(l));
  const chosen = (errors.length > 0 ? errors : lines.filter((l) => !BOILERPLATE.test(l))).slice(
    errors.length > 0 ? 0 : -MAX_REPORTED_LINES,
  );
  const kept = chosen.slice(0, MAX_REPORTED_LINES);
  let text = kept.join(" / ");
  if (chosen.length > kept.length) text += ` / (${chosen.length - kept.length} more)`;
  return text.length > MAX_REPORTED_CHARS ? `${text.slice(0, MAX_REPORTED_CHARS)}...` : text;
}

/** The forms a value takes when a program echoes it: as given, JSON-escaped, Python-repr-escaped. */
function echoedForms(secret: string): string[] {
  const forms = new Set([
    secret,
    JSON.stringify(secret).slice(1, -1),
    secret.replaceAll("\\", "\\\\").replaceAll("'", "\\'"),
    encodeURIComponent(secret),
  ]);
  return [...forms].filter((f) => f !== "");
}

/** A name=value or name: value pair, as agents print their options. */
const PAIR = /([A-Za-z0-9_.-]+)(['"]?\s*[=:]\s*['"]?)([^\s'",}]+)/g;

/** `text` with every one of `secrets` (and any value printed under a secret's name) as ***. */
export function scrub(text: string, secrets: readonly string[]): string {
  return maskForms(text, secrets.flatMap(echoedForms)).replace(PAIR, (all, name: string, sep: string) =>
    isSecretName(name.replace(/^-+/, "")) ? `${name}${sep}${MASK}` : all,
  );
}
