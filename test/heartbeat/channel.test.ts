import { afterEach, describe, expect, it } from "vitest";
import { ChannelState } from "../../src/heartbeat/channel-state.js";
import { HeartbeatChannels } from "../../src/heartbeat/channels.js";
import { ReplayGuard, sealHeartbeat } from "../../src/heartbeat/packet.js";
import { type Endpoint, UdpChannel } from "../../src/heartbeat/udp.js";

const key = Buffer.from("0123456789abcdef0123456789abcdef");
/** The cluster's identity, as its quorum partitions' UUID. */
const CLUSTER = Buffer.alloc(16, 0x5a);
const timing = { intervalMs: 1000, tko: 7 };

describe("channel health", () => {
  it("is down until heard, ok while packets keep coming, a warning after a few misses, down after tko", () => {
    const s = new ChannelState(timing);
    expect(s.health(1, 0, 0)).toBe("down");
    s.heard(1, 0, 10_000);
    expect(s.health(1, 0, 13_000)).toBe("ok");
    expect(s.health(1, 0, 13_001)).toBe("warning");
    expect(s.health(1, 0, 17_000)).toBe("warning");
    expect(s.health(1, 0, 17_001)).toBe("down");
    // Channels and peers are tracked apart.
    expect(s.health(1, 1, 10_000)).toBe("down");
    s.heard(1, 1, 12_000);
    expect(s.health(1, 1, 12_000)).toBe("ok");
    expect(s.health(2, 1, 12_000)).toBe("down");
  });

  it("with the shortest tko the configuration allows, goes from ok straight to down", () => {
    const s = new ChannelState({ intervalMs: 200, tko: 2 });
    s.heard(1, 0, 1_000);
    expect(s.health(1, 0, 1_400)).toBe("ok");
    expect(s.health(1, 0, 1_401)).toBe("down");
    expect(() => new ChannelState({ intervalMs: 1000, tko: 1 })).toThrow(/tko >= 2/);
  });
});

describe("UDP channel on loopback", () => {
  const open: UdpChannel[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  it("delivers sealed heartbeats between two real sockets and drops forged and replayed ones", async () => {
    const guard = new ReplayGuard(key);
    const health = new ChannelState(timing);
    let got = 0;
    let wake: () => void = () => {};
    const receiver = await UdpChannel.open({ address: "127.0.0.1", port: 0 }, (packet) => {
      const r = guard.receive(packet);
      if (r.ok) health.heard(r.heartbeat.member, 0, got);
      got++;
      wake();
    });
    open.push(receiver);
    const sender = await UdpChannel.open({ address: "127.0.0.1", port: 0 }, () => {});
    open.push(sender);
    const to: Endpoint = receiver.local;
    const arrived = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`only ${got} of ${n} datagrams arrived`)), 5000);
        wake = () => {
          if (got >= n) {
            clearTimeout(t);
            resolve();
          }
        };
        wake();
      });

    const first = sealHeartbeat(key, { member: 3, incarnation: 2, sequence: 1 });
    await sender.send(first, to);
    await sender.send(sealHeartbeat(key, { member: 3, incarnation: 2, sequence: 2 }), to);
    await sender.send(first, to); // a replay
    const forged = Buffer.from(first);
    forged[7] = 4; // claims to be member 4
    await sender.send(forged, to);
    await arrived(4);

    expect(guard.accepted).toBe(2);
    expect(guard.dropped).toEqual({ malformed: 0, unauthenticated: 1, replayed: 1 });
    // Heard from member 3 (its datagrams arrived as 0 and 1); never from the forged member 4.
    expect(health.health(3, 0, 1)).toBe("ok");
    expect(health.health(4, 0, 1)).toBe("down");
    expect(sender.errors + receiver.errors).toBe(0);
  });

  it("carries a nudge, sealed, between two members' channels, and a plain heartbeat as one", async () => {
    // Two free ports, found by binding and letting go: each member's channel lists the other's.
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const probe = await UdpChannel.open({ address: "127.0.0.1", port: 0 }, () => {});
      ports.push(probe.local.port);
      await probe.close();
    }
    const member = (id: number) => ({
      id,
      channels: [{ type: "net" as const, address: "127.0.0.1", port: ports[id] as number }],
    });
    const heard: { member: number; channel: number; nudge: boolean }[] = [];
    let wake = () => {};
    const b = await HeartbeatChannels.open(key, CLUSTER, member(1), [member(0)], (m, channel, nudge) => {
      heard.push({ member: m, channel, nudge });
      wake();
    });
    const a = await HeartbeatChannels.open(key, CLUSTER, member(0), [member(1)], () => {});
    try {
      const arrived = new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`only ${heard.length} of 2 packets arrived`)), 5000);
        wake = () => {
          if (heard.length < 2) return;
          clearTimeout(t);
          resolve();
        };
      });
      await a.send(4, 1);
      await a.send(4, 2, true);
      await arrived;
      expect(heard).toEqual([
        { member: 0, channel: 0, nudge: false },
        { member: 0, channel: 0, nudge: true },
      ]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("refuses a port that is already bound with the socket's own error", async () => {
    const a = await UdpChannel.open({ address: "127.0.0.1", port: 0 }, () => {});
    open.push(a);
    await expect(UdpChannel.open(a.local, () => {})).rejects.toThrow(/EADDRINUSE/);
  });
});
