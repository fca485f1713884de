// Looks at the peers' power switches now and then, so a switch that stopped answering (a pulled
// cable, a changed password) shows in status and in the log before the day it is needed, as the
// original's power daemon did. A check only proves the switch answers; it never touches an outlet.
import type { MemberConfig } from "../config/model.js";
import { createSwitch, switchIdentity } from "../power/create.js";

/** How often the switches are looked at; the first look is at start. */
export const SWITCH_CHECK_MS = 60_000;

export interface SwitchCheck {
  ok: boolean;
  /** Wall-clock time of the check, for people. */
  at: string;
  detail: string;
}

export type CheckChange = { member: MemberConfig; check: SwitchCheck; previous: SwitchCheck | undefined };

export class SwitchChecker {
  private readonly results = new Map<number, SwitchCheck>();
  private running = false;

  constructor(
    private readonly peers: readonly MemberConfig[],
    /** Whether a fence is in flight here: a check must not hold a switch's line meanwhile. */
    private readonly fencing: () => boolean,
    private readonly onChange: (change: CheckChange) => void,
  ) {}

  result(member: number): SwitchCheck | undefined {
    return this.results.get(member);
  }

  /**
   * Checks every peer's switch once, one after another; a check already running is not doubled.
   * Peers on one switch share one check: a switch serves one session at a time, and every extra
   * session is one a peer's fence may find it busy with.
   */
  async checkAll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const round = new Map<string, SwitchCheck>();
      for (const member of this.peers) {
        if (this.fencing()) return;
        const { outlet: _outlet, ...config } = member.power;
        const key = switchIdentity(config);
        const check = round.get(key) ?? (await checkOne(member));
        round.set(key, check);
        const previous = this.results.get(member.id);
        this.results.set(member.id, check);
        if (previous === undefined ? !check.ok : previous.ok !== check.ok)
          this.onChange({ member, check, previous });
      }
    } finally {
      this.running = false;
    }
  }
}

async function checkOne(member: MemberConfig): Promise<SwitchCheck> {
  const at = new Date().toISOString();
  const { outlet: _outlet, ...config } = member.power;
  if (config.type === "none") return { ok: true, at, detail: "type none: there is no switch to check" };
  let sw: ReturnType<typeof createSwitch> | undefined;
  try {
    // The member's name as nodename, as its fence would send it (a check sends no outlet).
    sw = createSwitch(config, { warn: () => {}, nodename: member.name });
    await sw.health();
    return { ok: true, at, detail: `${sw.name} answers` };
  } catch (err) {
    return { ok: false, at, detail: err instanceof Error ? err.message : String(err) };
  } finally {
    await sw?.close().catch(() => {});
  }
}
