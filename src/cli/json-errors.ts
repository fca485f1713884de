// --json promises JSON on standard output, failure included: a command that fails without having
// printed JSON since its error gets one error object, carrying the sentence it wrote on standard
// error and its exit status. The sentence is the one already printed, so it is masked already;
// nothing else (no configuration, no argument) goes into the object.
import { EXIT } from "./exit-codes.js";
import type { CommandIo } from "./io.js";

export interface JsonError {
  error: {
    /** The first line written on standard error, without the "command: " in front. */
    message: string;
    /** The process's exit status. */
    exitCode: number;
    /** The error's further lines, when it had more than one (each error of a cluster.conf). */
    details?: string[];
  };
}

/** Whether --json is among the options (before a "--" that starts cluadmin's command words). */
export function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/** Runs a command; with `json`, a failure that left no JSON after its error text gets the error
 * object. A command that throws prints one line and exits 70 (a bug), --json or not. */
export async function withJsonErrors(
  command: string,
  json: boolean,
  io: CommandIo,
  run: (io: CommandIo) => Promise<number>,
): Promise<number> {
  const prefix = `${command}: `;
  /** Error text written since the last output: what a failure is about. Warnings are not. */
  let errors: string[] = [];
  let printed = false;
  const watched: CommandIo = {
    out(text) {
      printed = true;
      errors = [];
      io.out(text);
    },
    err(text) {
      if (!text.startsWith(`${prefix}warning: `)) errors.push(text);
      io.err(text);
    },
  };
  let code: number;
  try {
    code = await run(watched);
  } catch (err) {
    watched.err(`${prefix}internal error: ${err instanceof Error ? err.message : String(err)}`);
    code = EXIT.software;
  }
  if (json && code !== EXIT.ok && (errors.length > 0 || !printed))
    io.out(JSON.stringify(errorObject(prefix, errors, code)));
  return code;
}

function errorObject(prefix: string, texts: readonly string[], exitCode: number): JsonError {
  const lines = texts.flatMap((t) => t.replace(/\n$/, "").split("\n"));
  const first = lines[0] ?? `${prefix}exited with status ${exitCode}`;
  const message = first.startsWith(prefix) ? first.slice(prefix.length) : first;
  const details = lines.slice(1).map((l) => (l.startsWith(prefix) ? l.slice(prefix.length) : l));
  return { error: { message, exitCode, ...(details.length > 0 ? { details } : {}) } };
}
