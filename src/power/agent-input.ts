// What a fence agent reads on its standard input. fence-agents keep the last value given for a
// name, so the driver's own lines (nodename, action, plug) come after the user's arguments: no
// argument can turn a status read into an off. The names the driver owns are refused as user
// arguments anyway, so a configuration that tries is told so rather than silently overridden.

/**
 * The arguments the driver sends itself: the action (option is its name in old agents), the
 * outlet (plug, or port in old agents) and the member (nodename, which fence_scsi and fence_kdump
 * use). fence-agents read names with '-' and '_' alike.
 */
export const DRIVER_ARGUMENTS = ["action", "option", "plug", "port", "nodename"] as const;

const ARGUMENT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const LINE_BREAK = /[\r\n\0]/;

export function isDriverArgument(name: string): boolean {
  const normal = name.trim().toLowerCase().replaceAll("-", "_");
  return (DRIVER_ARGUMENTS as readonly string[]).includes(normal);
}

/** Why `name` cannot be a user's argument to an agent, as a phrase; undefined when it can. */
export function argumentNameProblem(name: string): string | undefined {
  if (isDriverArgument(name)) {
    return `"${name}" is sent by clumanager itself (the action asked, the outlet as plug, the member's name as nodename); remove it`;
  }
  if (!ARGUMENT_NAME.test(name)) {
    return `"${name}" is not a plain argument name (letters, digits, '_', '-' and '.')`;
  }
  return undefined;
}

export interface AgentRequest {
  action: string;
  /** The argument that names the outlet: plug (old agents: port). */
  plugArgument: string;
  outlet: string | undefined;
  /** The member acted on, for agents that fence by node name. */
  nodename: string | undefined;
  args: Readonly<Record<string, string>>;
}

export type AgentInput = { ok: true; text: string } | { ok: false; problem: string };

/** The agent's stdin, one key=value line each, or why it cannot be written. */
export function agentInput(request: AgentRequest): AgentInput {
  if (!ARGUMENT_NAME.test(request.plugArgument)) {
    return { ok: false, problem: `the plug argument name "${request.plugArgument}" is not a plain name` };
  }
  const lines: string[] = [];
  for (const [key, value] of Object.entries(request.args)) {
    const problem = argumentNameProblem(key);
    if (problem !== undefined) return { ok: false, problem: `the agent argument ${problem}` };
    if (LINE_BREAK.test(value))
      return { ok: false, problem: `the value of agent argument ${key} contains a line break` };
    lines.push(`${key}=${value}`);
  }
  const own: [string, string | undefined][] = [
    ["nodename", request.nodename],
    ["action", request.action],
    [request.plugArgument, request.outlet],
  ];
  for (const [key, value] of own) {
    if (value === undefined) continue;
    if (LINE_BREAK.test(value))
      return {
        ok: false,
        problem: `the ${key === request.plugArgument ? "outlet" : key} contains a line break`,
      };
    lines.push(`${key}=${value}`);
  }
  return { ok: true, text: `${lines.join("\n")}\n` };
}
