// Joining the cluster: open both quorum partitions, check they are this cluster's, take a fresh
// incarnation and write it to both copies. A member that cannot do all of that does not join.
import type { ClusterConfig, MemberConfig } from "../config/model.js";
import { QuorumPair } from "../disk/pair.js";
import { MemberState } from "../disk/status-block.js";
import { QuorumIo } from "./quorum-io.js";

export class JoinError extends Error {
  override name = "JoinError";
}

export interface Joined {
  io: QuorumIo;
  incarnation: number;
}

export async function join(config: ClusterConfig, member: MemberConfig): Promise<Joined> {
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
    const io = new QuorumIo(pair, member.id, member.name);
    const { statuses } = await io.readStatuses();
    const previous = statuses.find((s) => s.member === member.id)?.incarnation ?? 0;
    // A fresh incarnation: notices about an earlier life of this member no longer apply to it.
    const incarnation = previous + 1;
    try {
      await io.writeStatus(io.status(MemberState.Up, incarnation, 0));
    } catch (err) {
      throw new JoinError(
        `cannot write both quorum partitions, so this member does not join: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return { io, incarnation };
  } catch (err) {
    pair.close();
    throw err;
  }
}
