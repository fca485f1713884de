// The names of service states, as status output and logs show them.
const STATE_NAMES = ["unused", "disabled", "stopped", "starting", "running", "stopping", "failed"];

export function serviceStateName(state: number): string {
  return STATE_NAMES[state] ?? `state ${state}`;
}
