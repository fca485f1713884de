// Joining the cluster: open both quorum partitions, check they are this cluster's, take a fresh
// incarnation and write it to both copies. A member that cannot do all of that does not join.
import type { ClusterConfig, MemberConfig } from "../config/model.js";
import type { Repair } from "../disk/errors.js";
import { QuorumPair } from "../disk/pair.js";
import { SlotLock, SlotLockError } from "../disk/slot-lock.js";
import { MemberState } from "../disk/status-block.js";
import { QuorumIo } from "./quorum-io.js";

export class JoinError extends Error {
  override name = "JoinError";
  constructor(
    message: string,
    /** Another daemon is running as this member. */
    readonly alreadyRunning = false,
  ) {
    super(message);
  }
}

/** How long joining waits for a cluadmin on this machine to finish with this member's slot. */
export const JOIN_SLOT_WAIT_MS = 30_000;

/** How long an UP slot is watched at join for a counter that still moves. */
export function aliveCheckMs(config: ClusterConfig): number {
  return (2 * config.cluster.heartbeatInterval + config.cluster.ioTimeout) * 1000;
}

export interface Joined {
  io: QuorumIo;
  incarnation: number;
  /** This member's slot of the disk lock on this machine: let go only once the daemon is done. */
  slot: SlotLock;
  /** A header copy found damaged or older when the partitions were opened, and what was done. */
  headerRepairs: readonly Repair[];
}

/** One log line for a header copy found bad at join: which copy, what was wrong, what was done. */
export function describeHeaderRepair(r: Repair): string {
  const outcome = r.done
    ? `rewrote it from the ${r.repaired === "primary" ? "backup" : "primary"}`
    : `it needs cludiskutil --repair (${r.deferred ?? r.error ?? "not repaired"})`;
  return `joined on the good header; the ${r.repaired} copy's header (block 0) was bad: ${r.problem}; ${outcome}`;
}

export async function join(
  config: ClusterConfig,
  member: MemberConfig,
  /** The view of the configuration `config` is: 0 for the local file before any change was stored. */
  configView: number,
  /** Where this machine's slot locks are, and how long to wait for this member's. */
  slotLock: { dir?: string; waitMs?: number } = {},
): Promise<Joined> {
  const quorum = member.quorum ?? config.quorum;
  const pair = await QuorumPair.open(quorum.primary, quorum.backup, {
    write: true,
    timeoutMs: config.cluster.ioTimeout * 1000,
    member: member.id,
  });
  try {
    if (pair.header.clusterName !== config.cluster.name) {
      throw new JoinError(
        `the quorum partitions ${quorum.primary} and ${quorum.backup} belong to cluster "${pair.header.clusterName}", ` +
          `not "${config.cluster.name}"; check [quorum] in the configuration`,
      );
    }
    if (member.id >= pair.layout.maxMembers) {
      throw new JoinError(
        `member${member.id} (${member.name}) has no slot: the quorum partitions were initialised for ` +
          `${pair.layout.maxMembers} members; re-initialise them with cludiskutil -I --members`,
      );
    }
    const io = new QuorumIo(pair, member.id, member.name, configView);
    // A cluadmin on this machine may be using this member's slot as the life on the disk now:
    // the new life must not supersede that slot under it (peers would pass it as gone).
    const slot = await SlotLock.acquire(
      pair.clusterUuid,
      member.id,
      slotLock.waitMs ?? JOIN_SLOT_WAIT_MS,
      slotLock.dir,
    ).catch((err: unknown) => {
      // Still held after the wait: another daemon of this member runs on this machine (a
      // cluadmin holds it for seconds only).
      throw new JoinError(
        err instanceof SlotLockError && err.busy
          ? `member${member.id} (${member.name}) is already running on this machine: ${err.message}`
          : err instanceof Error
            ? err.message
            : String(err),
        err instanceof SlotLockError && err.busy,
      );
    });
    // Held for the daemon's whole life: a cluadmin run here meanwhile hands its change to it.
    try {
      return { io, incarnation: await takeLife(io, config, member), slot, headerRepairs: pair.openRepairs };
    } catch (err) {
      slot.release();
      throw err;
    }
  } catch (err) {
    pair.close();
    throw err;
  }
}

/** Refuses a slot whose counter still moves, then writes the next incarnation UP to both copies. */
async function takeLife(io: QuorumIo, config: ClusterConfig, member: MemberConfig): Promise<number> {
  const { statuses } = await io.readStatuses();
  const mine = statuses.find((s) => s.member === member.id);
  if (mine?.state === MemberState.Up) {
    // Left UP: a crash, a kill, a power cycle, or another daemon running as this member right
    // now (on this machine with another run directory, or on another machine). Two daemons in
    // one slot would each fence, so a slot whose counter still moves is refused.
    await new Promise((r) => setTimeout(r, aliveCheckMs(config)));
    const again = (await io.readStatuses()).statuses.find((s) => s.member === member.id);
    if (
      again !== undefined &&
      (again.incarnation !== mine.incarnation || again.heartbeat !== mine.heartbeat)
    ) {
      throw new JoinError(
        `member${member.id} (${member.name}) is already running somewhere: its status block is still being written ` +
          `(incarnation ${again.incarnation}, heartbeat ${again.heartbeat}); stop that daemon first`,
        true,
      );
    }
  }
  // A change may have been stored since this member chose its view (a cluadmin here found the
  // slot free before this process held it): it must not join on an older one.
  const stored = await io.readConfig();
  if (stored.view !== io.configView)
    throw new JoinError(
      `the configuration on the quorum partitions changed to view ${stored.view} while this member was starting on view ${io.configView}; start it again`,
    );
  const previous = mine?.incarnation ?? 0;
  // A fresh incarnation: notices about an earlier life of this member no longer apply to it.
  const incarnation = previous + 1;
  try {
    await io.writeStatus(io.status(MemberState.Up, incarnation, 0));
  } catch (err) {
    throw new JoinError(
      `cannot write both quorum partitions, so this member does not join: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return incarnation;
}
