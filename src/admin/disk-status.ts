// `cluster status` with no daemon answering: the quorum partitions read twice, a few heartbeat
// intervals apart, so a member whose counter moves shows as up and one whose counter stands still
// shows as such. Read-only; it never writes a block, so it is safe on a running cluster.
import { hostname } from "node:os";
import type { ClusterConfig } from "../config/model.js";
import { QuorumPair } from "../disk/pair.js";
import { MemberState, type MemberStatus } from "../disk/status-block.js";
import { describeSwitch } from "../power/create.js";
import { type ClusterStatus, type MemberRow, serviceRows } from "./cluster-status.js";

/** How many heartbeat intervals apart the two reads are. */
export const SAMPLE_INTERVALS = 2;

export async function statusFromPartitions(
  config: ClusterConfig,
  configPath: string,
  why: string,
  /** The member this host is, whose own paths to the disk (if any) are used. */
  member?: string,
): Promise<ClusterStatus> {
  const quorum = config.members.find((m) => m.name === (member ?? hostname()))?.quorum ?? config.quorum;
  const pair = await QuorumPair.open(quorum.primary, quorum.backup, {
    write: false,
    timeoutMs: config.cluster.ioTimeout * 1000,
  });
  try {
    const first = (await pair.readStatusRegion()).records;
    await new Promise((r) => setTimeout(r, SAMPLE_INTERVALS * config.cluster.heartbeatInterval * 1000));
    const second = (await pair.readStatusRegion()).records;
    const view = (await pair.readConfig()).config.view;
    const blocks = (await pair.readServices()).records;
    const services = serviceRows(config, (id) => blocks[id]);
    const members: MemberRow[] = config.members.map((m) => {
      const before = first[m.id];
      const now = second[m.id];
      return {
        id: m.id,
        name: m.name,
        state: judge(before, now),
        ...(now !== undefined && now.state !== MemberState.None
          ? {
              incarnation: now.incarnation,
              heartbeat: now.heartbeat,
              lastWrite: new Date(now.wallClockMs).toISOString(),
            }
          : {}),
        channels: [],
        power: { ...describeSwitch(m.power), outlet: m.power.outlet },
      };
    });
    return {
      source: "partitions",
      cluster: config.cluster.name,
      configFile: configPath,
      ...(view > 0 ? { configView: view } : {}),
      members,
      services,
      note: why,
    };
  } finally {
    pair.close();
  }
}

function judge(before: MemberStatus | undefined, now: MemberStatus | undefined): string {
  if (now === undefined || now.state === MemberState.None) return "never joined";
  if (now.state === MemberState.Down) return "down";
  const moved =
    before === undefined || before.incarnation !== now.incarnation || before.heartbeat !== now.heartbeat;
  return moved ? "up" : "not moving";
}
