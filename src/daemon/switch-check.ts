// Looks at the peers' power switches now and then, so a switch that stopped answering (a pulled
// cable, a changed password) shows in status and in the log before the day it is needed, as the
// original's power daemon did. A check only proves the switch answers; it never touches an outlet.
import type { MemberConfig } from "../config/model.js";
import { createSwitch, type SwitchConfig, switchIdentity } from "../power/create.js";
import { PowerSwitchError } from "../power/errors.js";
import type { PowerSwitch } from "../power/switch.js";

/** How often the switches are looked at; the first look is at start. */
export const SWITCH_CHECK_MS = 60_000;

/**
 * Checks in a row that must find a switch's line busy before that is reported. Members sharing
 * one serial line check it at about the same moment, and the driver already waits for a line
 * another process holds: one busy check is two members taking turns, not a problem; only a line
 * that stays taken this long means a fence would have to wait for it too.
 */
export const SWITCH_BUSY_CHECKS = 3;

export interface SwitchCheck {
  ok: boolean;
  /** Failed because another process kept the line (not because the switch is silent). */
  busy?: true;
  /** Wall-clock time of the check, for people. */
  at: string;
  detail: string;
}

export type CheckChange = { member: MemberConfig; check: SwitchCheck; previous: SwitchCheck | undefined };

/** The log sentence for a change of a peer's check: answers again, busy, or does not answer. */
export function describeCheck(memberName: string, check: SwitchCheck): string {
  if (check.ok) return `the power switch of member ${memberName} answers again`;
  if (check.busy)
    return `the power switch of member ${memberName} is busy: its line stayed in use by another process in ${SWITCH_BUSY_CHECKS} checks in a row, so fencing it would have to wait for that process: ${check.detail}`;
  return `the power switch of member ${memberName} does not answer, so fencing it would fail: ${check.detail}`;
}

export class SwitchChecker {
  private readonly results = new Map<number, SwitchCheck>();
  /** Busy checks in a row, by switch. */
  private readonly busyInARow = new Map<string, number>();
  private running = false;

  constructor(
    private readonly peers: readonly MemberConfig[],
    /** Whether a fence is in flight here: a check must not hold a switch's line meanwhile. */
    private readonly fencing: () => boolean,
    private readonly onChange: (change: CheckChange) => void,
    /** Builds the driver of a switch; tests give drivers shorter deadlines. */
    private readonly open: (config: SwitchConfig, nodename: string) => PowerSwitch = (config, nodename) =>
      createSwitch(config, { warn: () => {}, nodename }),
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
      const round = new Map<string, SwitchCheck | "busy">();
      for (const member of this.peers) {
        if (this.fencing()) return;
        const { outlet: _outlet, ...config } = member.power;
        const key = switchIdentity(config);
        let check = round.get(key);
        if (check === undefined) {
          check = this.counted(key, await checkOne(config, member.name, this.open));
          round.set(key, check);
        }
        // A busy line not yet reported keeps the member's last result.
        if (check === "busy") continue;
        const previous = this.results.get(member.id);
        this.results.set(member.id, check);
        if (previous === undefined ? !check.ok : previous.ok !== check.ok || previous.busy !== check.busy)
          this.onChange({ member, check, previous });
      }
    } finally {
      this.running = false;
    }
  }

  /** Holds back a busy result until SWITCH_BUSY_CHECKS checks in a row found the line busy. */
  private counted(key: string, check: SwitchCheck): SwitchCheck | "busy" {
    if (!check.busy) {
      this.busyInARow.delete(key);
      return check;
    }
    const times = (this.busyInARow.get(key) ?? 0) + 1;
    this.busyInARow.set(key, times);
    return times >= SWITCH_BUSY_CHECKS ? check : "busy";
  }
}

async function checkOne(
  config: SwitchConfig,
  nodename: string,
  open: (config: SwitchConfig, nodename: string) => PowerSwitch,
): Promise<SwitchCheck> {
  const at = new Date().toISOString();
  if (config.type === "none") return { ok: true, at, detail: "type none: there is no switch to check" };
  let sw: PowerSwitch | undefined;
  try {
    // The member's name as nodename, as its fence would send it (a check sends no outlet).
    sw = open(config, nodename);
    await sw.health();
    return { ok: true, at, detail: `${sw.name} answers` };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    if (err instanceof PowerSwitchError && err.kind === "busy") return { ok: false, busy: true, at, detail };
    return { ok: false, at, detail };
  } finally {
    await sw?.close().catch(() => {});
  }
}
