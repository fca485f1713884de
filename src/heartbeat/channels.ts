// A member's heartbeat channels, as cluster.conf lists them. Channel i of this member is bound
// here: a net channel on this member's i-th address (UDP, and every packet goes to each peer's
// i-th net address), a serial channel on this member's i-th device (a null-modem cable: whatever
// is at the other end hears it). Packets are sealed and checked here; the caller hears only
// authenticated, fresh heartbeats, with the channel they came on.
import type { Channel } from "../config/model.js";
import { channelKey, type DropReason, ReplayGuard, sealHeartbeat } from "./packet.js";
import { SerialChannel } from "./serial.js";
import { type Endpoint, UdpChannel } from "./udp.js";

export interface ChannelPeer {
  id: number;
  channels: readonly Channel[];
}

/** `nudge`: the sender asks its peers to read the quorum partitions now (see Heartbeat). */
export type HeardHandler = (member: number, channel: number, nudge: boolean) => void;

type Line = { kind: "net"; socket: UdpChannel } | { kind: "serial"; line: SerialChannel };

function netEndpoint(channel: Channel | undefined): Endpoint | undefined {
  return channel?.type === "net" ? { address: channel.address, port: channel.port } : undefined;
}

export class HeartbeatChannels {
  private constructor(
    /** One per channel (channelKey): a packet sealed for one channel is refused on another. */
    private readonly keys: Buffer[],
    private readonly me: number,
    /** Indexed like cluster.conf's channels. */
    private readonly lines: Line[],
    private readonly peers: readonly ChannelPeer[],
    /** One per channel: the same heartbeat arrives once on each, and each copy counts there. */
    private readonly guards: ReplayGuard[],
  ) {}

  static async open(
    key: Buffer,
    /** The cluster's identity: the UUID of its quorum partitions. */
    clusterId: Buffer,
    me: ChannelPeer,
    peers: readonly ChannelPeer[],
    onHeard: HeardHandler,
  ): Promise<HeartbeatChannels> {
    const keys = me.channels.map((_, index) => channelKey(key, clusterId, index));
    const guards = keys.map((k) => new ReplayGuard(k));
    const known = new Set(peers.map((p) => p.id));
    const lines: Line[] = [];
    const receiver = (index: number) => (packet: Buffer) => {
      const r = (guards[index] as ReplayGuard).receive(packet);
      // A sealed packet from a member id that is not our peer (or is us, looped back) is
      // ignored: only the key's holders can make one, and it says nothing about a peer.
      if (r.ok && known.has(r.heartbeat.member) && r.heartbeat.member !== me.id)
        onHeard(r.heartbeat.member, index, r.heartbeat.nudge === true);
    };
    try {
      for (const [index, channel] of me.channels.entries()) {
        lines.push(
          channel.type === "net"
            ? {
                kind: "net",
                socket: await UdpChannel.open(netEndpoint(channel) as Endpoint, receiver(index)),
              }
            : { kind: "serial", line: await SerialChannel.open(channel.device, receiver(index)) },
        );
      }
    } catch (err) {
      await Promise.all(lines.map(closeLine));
      throw err;
    }
    return new HeartbeatChannels(keys, me.id, lines, peers, guards);
  }

  /** Sends one heartbeat on every channel; loss is for the receivers to notice. */
  async send(incarnation: number, sequence: number, nudge = false): Promise<void> {
    const heartbeat = { member: this.me, incarnation, sequence, ...(nudge ? { nudge } : {}) };
    const sends: Promise<void>[] = [];
    this.lines.forEach((l, index) => {
      const packet = sealHeartbeat(this.keys[index] as Buffer, heartbeat);
      if (l.kind === "serial") {
        sends.push(l.line.send(packet));
        return;
      }
      for (const peer of this.peers) {
        const to = netEndpoint(peer.channels[index]);
        if (to !== undefined) sends.push(l.socket.send(packet, to));
      }
    });
    await Promise.all(sends);
  }

  get counters(): {
    accepted: number;
    dropped: Record<DropReason | "garbled", number>;
    sendErrors: number;
  } {
    let garbled = 0;
    let sendErrors = 0;
    for (const l of this.lines) {
      if (l.kind === "serial") {
        garbled += l.line.garbled;
        sendErrors += l.line.errors;
      } else sendErrors += l.socket.errors;
    }
    const dropped = { malformed: 0, unauthenticated: 0, replayed: 0, garbled };
    let accepted = 0;
    for (const g of this.guards) {
      accepted += g.accepted;
      dropped.malformed += g.dropped.malformed;
      dropped.unauthenticated += g.dropped.unauthenticated;
      dropped.replayed += g.dropped.replayed;
    }
    return { accepted, dropped, sendErrors };
  }

  async close(): Promise<void> {
    await Promise.all(this.lines.map(closeLine));
  }
}

function closeLine(l: Line): Promise<void> {
  return l.kind === "net" ? l.socket.close() : l.line.close();
}
