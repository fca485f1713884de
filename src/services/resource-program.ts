// An action of a resource carried out by a program (an init script, an OCF agent): its exit
// code, or a ResourceError when it could not start, ran out of time or was killed.
import { ACTION_TIMEOUT_MS, type ResourceAction, type ResourceContext, ResourceError } from "./resource.js";
import { runProgram } from "./run-program.js";

export interface ProgramAction {
  resource: string;
  action: ResourceAction;
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  timeoutMs?: number;
}

export async function exitCodeOf(a: ProgramAction, ctx: ResourceContext): Promise<number> {
  const timeoutMs = a.timeoutMs ?? ACTION_TIMEOUT_MS[a.action];
  const r = await runProgram({
    command: a.command,
    args: a.args,
    env: a.env,
    timeoutMs,
    onLine: (line) => ctx.log(`${a.resource} ${a.action}: ${line}`),
  });
  switch (r.kind) {
    case "not-started":
      throw new ResourceError("not-found", a.resource, a.action, `cannot run ${a.command}: ${r.error}`);
    case "timed-out":
      throw new ResourceError(
        "timeout",
        a.resource,
        a.action,
        `did not finish within ${timeoutMs} ms and was killed`,
      );
    case "killed":
      throw new ResourceError("failed", a.resource, a.action, `was killed by ${r.signal}`);
    case "exited":
      if (r.droppedLines > 0)
        ctx.log(`${a.resource} ${a.action}: ${r.droppedLines} more lines of output not logged`);
      return r.code;
  }
}
