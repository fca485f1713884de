// The UDP heartbeat channel: a thin adapter that sends sealed packets and hands every datagram
// it receives to the caller. Authentication and replay checks live in packet.ts, not here.
import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { PACKET_BYTES } from "./packet.js";

export interface Endpoint {
  address: string;
  port: number;
}

export class UdpChannel {
  /** Socket and send errors, shown in status; they never stop the channel. */
  errors = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly local: Endpoint,
  ) {}

  /** Binds `address:port` (port 0 picks a free one, for tests). */
  static async open(bind: Endpoint, onPacket: (packet: Buffer, from: Endpoint) => void): Promise<UdpChannel> {
    const socket = dgram.createSocket({ type: isIPv6(bind.address) ? "udp6" : "udp4", reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(bind.port, bind.address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.on("message", (msg, rinfo) => onPacket(msg, { address: rinfo.address, port: rinfo.port }));
    // A send or receive error on one datagram must not take the daemon down; the missing
    // heartbeats show up in the channel's health instead.
    const a = socket.address();
    const channel = new UdpChannel(socket, { address: a.address, port: a.port });
    socket.on("error", () => channel.errors++);
    return channel;
  }

  send(packet: Buffer, to: Endpoint): Promise<void> {
    if (packet.length !== PACKET_BYTES) throw new RangeError(`a heartbeat is ${PACKET_BYTES} bytes`);
    return new Promise((resolve) => {
      // Loss is what UDP does; it is reported by the receiver's channel health, not here.
      this.socket.send(packet, to.port, to.address, (err) => {
        if (err) this.errors++;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
