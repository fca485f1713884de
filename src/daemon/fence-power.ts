// The switch and outlet that fence a member: as the partitions' current view names them
// (fence-view.ts says why), read and parsed here, under the fencing lock.
import type { MemberConfig, MemberPower } from "../config/model.js";
import { formatErrors, validateText } from "../config/validate.js";
import { type FencingView, fencingView } from "../core/fence-view.js";
import type { StoredConfig } from "../disk/config-region.js";

export async function fencePower(
  target: MemberConfig,
  ownView: number,
  readStored: () => Promise<StoredConfig>,
): Promise<FencingView<MemberPower>> {
  let stored: StoredConfig;
  try {
    stored = await readStored();
  } catch (err) {
    return {
      ok: false,
      reason: `cannot read the configuration on the quorum partitions to find its switch: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  return fencingView(
    { view: ownView, value: target.power },
    {
      view: stored.view,
      value: () => {
        const checked = validateText(stored.text);
        if (!checked.ok) throw new Error(formatErrors(`view ${stored.view}`, checked.errors)[0]);
        const there = checked.config.members.find((m) => m.id === target.id);
        if (there === undefined) throw new Error(`it has no member${target.id}`);
        if (there.name !== target.name)
          throw new Error(
            `its member${target.id} is ${there.name}, not ${target.name}: restart this member to run that view`,
          );
        // How long a watchdog member is waited for comes from the view this member runs: a view
        // that changes that cannot be fenced by until this member runs it.
        const wait = (p: MemberPower) => (p.type === "watchdog" ? p.timeoutSeconds : undefined);
        if (wait(there.power) !== wait(target.power))
          throw new Error(
            `it changes how member ${target.name} is fenced by its watchdog (timeout ${wait(target.power) ?? "none"} s in the view this member runs, ${wait(there.power) ?? "none"} s there): restart this member to run that view`,
          );
        return there.power;
      },
    },
  );
}
