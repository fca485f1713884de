// Runs one action of a resource (an init script, an OCF agent) as a child of the daemon: never
// detached, so powering the member off, or killing its process group, ends it too. Its output
// goes to the log a line at a time; its time is bounded.
import { spawn } from "node:child_process";

/** After the deadline the program gets SIGTERM, and this long later SIGKILL. */
export const KILL_GRACE_MS = 5_000;
/** After the program exits, its output pipes get this long to close: a daemon it started may
 * hold them open for ever, and its output does not matter once the action is over. */
export const DRAIN_MS = 1_000;
/** A line longer than this is cut; more lines than MAX_OUTPUT_LINES are counted, not logged. */
export const MAX_LINE_CHARS = 1_000;
export const MAX_OUTPUT_LINES = 200;

export interface ProgramRun {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  timeoutMs: number;
  /** Each line the program prints, stdout and stderr alike. */
  onLine: (line: string, stream: "stdout" | "stderr") => void;
}

export type ProgramResult =
  | { kind: "exited"; code: number; durationMs: number; droppedLines: number }
  | { kind: "timed-out"; durationMs: number; droppedLines: number }
  | { kind: "killed"; signal: string; durationMs: number; droppedLines: number }
  | { kind: "not-started"; error: string };

export function runProgram(run: ProgramRun): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    let settled = false;
    const finish = (r: ProgramResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(killTimer);
      clearTimeout(giveUp);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(r);
    };
    let lines = 0;
    let dropped = 0;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    // A minimal, known environment: PATH for the tools scripts call, and what we pass on purpose.
    const child = spawn(run.command, [...run.args], {
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C", ...run.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const reader = (stream: "stdout" | "stderr") => {
      let partial = "";
      return (chunk: Buffer) => {
        partial += chunk.toString("utf8");
        for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
          emit(partial.slice(0, nl), stream);
          partial = partial.slice(nl + 1);
        }
        if (partial.length > MAX_LINE_CHARS) {
          emit(partial, stream);
          partial = "";
        }
      };
    };
    const emit = (line: string, stream: "stdout" | "stderr") => {
      if (line.trim() === "") return;
      if (lines >= MAX_OUTPUT_LINES) {
        dropped++;
        return;
      }
      lines++;
      run.onLine(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}...` : line, stream);
    };
    child.stdout.on("data", reader("stdout"));
    child.stderr.on("data", reader("stderr"));
    let giveUp: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
      // Even a program that ignores SIGKILL (stuck in the kernel) does not hold the action.
      giveUp = setTimeout(
        () => finish({ kind: "timed-out", durationMs: Date.now() - started, droppedLines: dropped }),
        KILL_GRACE_MS + DRAIN_MS,
      );
    }, run.timeoutMs);
    child.on("error", (err) => finish({ kind: "not-started", error: err.message }));
    child.on("exit", (code, signal) => {
      const durationMs = Date.now() - started;
      const result: ProgramResult = timedOut
        ? { kind: "timed-out", durationMs, droppedLines: dropped }
        : signal !== null
          ? { kind: "killed", signal, durationMs, droppedLines: dropped }
          : { kind: "exited", code: code ?? 1, durationMs, droppedLines: dropped };
      // The last lines are usually already read; wait a little for them, not for ever.
      const drain = setTimeout(() => finish(result), DRAIN_MS);
      child.on("close", () => {
        clearTimeout(drain);
        finish(result);
      });
    });
  });
}
