// A member's UDP heartbeat channels: channel i of cluster.conf is bound on this member's i-th
// net address, and every packet goes to each peer's i-th net address. Packets are sealed and
// checked here; the caller hears only authenticated, fresh heartbeats, with the channel they came on.
import type { Channel } from "../config/model.js";
import { type DropReason, ReplayGuard, sealHeartbeat } from "./packet.js";
import { type Endpoint, UdpChannel } from "./udp.js";

export interface NetPeer {
  id: number;
  channels: readonly Channel[];
}

export type HeardHandler = (member: number, channel: number) => void;

function netEndpoints(channels: readonly Channel[]): (Endpoint | undefined)[] {
  return channels.map((c) => (c.type === "net" ? { address: c.address, port: c.port } : undefined));
}

export class NetChannels {
  private constructor(
    private readonly key: Buffer,
    private readonly me: number,
    /** Indexed like cluster.conf's channels; undefined where this member's channel is not UDP. */
    private readonly sockets: (UdpChannel | undefined)[],
    private readonly peers: readonly NetPeer[],
    private readonly guard: ReplayGuard,
  ) {}

  static async open(
    key: Buffer,
    me: NetPeer,
    peers: readonly NetPeer[],
    onHeard: HeardHandler,
  ): Promise<NetChannels> {
    const guard = new ReplayGuard(key);
    const known = new Set(peers.map((p) => p.id));
    const sockets: (UdpChannel | undefined)[] = [];
    try {
      for (const [index, endpoint] of netEndpoints(me.channels).entries()) {
        if (endpoint === undefined) {
          sockets.push(undefined);
          continue;
        }
        sockets.push(
          await UdpChannel.open(endpoint, (packet) => {
            const r = guard.receive(packet);
            // A sealed packet from a member id that is not our peer (or is us, looped back) is
            // ignored: only the key's holders can make one, and it says nothing about a peer.
            if (r.ok && known.has(r.heartbeat.member) && r.heartbeat.member !== me.id)
              onHeard(r.heartbeat.member, index);
          }),
        );
      }
    } catch (err) {
      await Promise.all(sockets.map((s) => s?.close()));
      throw err;
    }
    return new NetChannels(key, me.id, sockets, peers, guard);
  }

  /** Sends one heartbeat on every channel to every peer; loss is for the receivers to notice. */
  async send(incarnation: number, sequence: number): Promise<void> {
    const packet = sealHeartbeat(this.key, { member: this.me, incarnation, sequence });
    const sends: Promise<void>[] = [];
    this.sockets.forEach((socket, index) => {
      if (socket === undefined) return;
      for (const peer of this.peers) {
        const to = netEndpoints(peer.channels)[index];
        if (to !== undefined) sends.push(socket.send(packet, to));
      }
    });
    await Promise.all(sends);
  }

  get counters(): { accepted: number; dropped: Record<DropReason, number>; sendErrors: number } {
    return {
      accepted: this.guard.accepted,
      dropped: { ...this.guard.dropped },
      sendErrors: this.sockets.reduce((n, s) => n + (s?.errors ?? 0), 0),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map((s) => s?.close()));
  }
}
