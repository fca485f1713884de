// A member whose power switch is type none cannot be fenced, yet the core counts such a fence as
// done at once (power-cycle.ts: nothing is switched, off is "confirmed"), so its services move
// while it may still run them. The configuration is valid; config check and the daemon's start
// say so, once, for every such member.
import type { ClusterConfig } from "./model.js";

export function noFencingWarning(config: Pick<ClusterConfig, "members">): string | undefined {
  const names = config.members.filter((m) => m.power.type === "none").map((m) => m.name);
  if (names.length === 0) return undefined;
  const one = names.length === 1;
  return (
    `${one ? `member ${names[0]} has` : `members ${names.join(", ")} have`} power switch type none, ` +
    `so nothing can switch ${one ? "it" : "them"} off: once ${one ? "it stops" : "one stops"} heartbeating ` +
    "(hung, or its daemon died) its services are restarted on another member at once, while its own " +
    `copies may still be running; give ${one ? "it" : "each"} a real switch, or type watchdog`
  );
}
