// Who is alive, decided from the quorum partitions: the first piece of the pure core.
//
// Pure and deterministic: it is given what was read (a peer's status block) and heard (a network
// heartbeat), each with this member's own monotonic time, and answers with the peers whose state
// changed. It never reads a clock, a file or a socket.
//
// - Liveness is a peer's heartbeat counter moving, measured on this member's clock only: no
//   timestamp from another member is ever compared with ours (invariant 5).
// - A peer is hung when its counter has not moved for tko intervals, or for tko_netup intervals
//   while its network heartbeat is still heard. The network only adds patience: however the
//   network behaves, a peer whose disk counter moves is never hung (invariant 6).
// - A peer that marked itself DOWN on a clean shutdown is down, never hung: it must not be fenced.
import { MemberState } from "../disk/status-block.js";

export interface LivenessConfig {
  intervalMs: number;
  tko: number;
  tkoNetup: number;
}

export type PeerState =
  /** Its status block was never written: it never joined. */
  | "unknown"
  | "up"
  /** It shut down cleanly. */
  | "down"
  /** Its counter stopped moving for longer than its window: a candidate for fencing. */
  | "hung";

export interface Transition {
  member: number;
  from: PeerState;
  to: PeerState;
  reason: string;
}

interface Peer {
  state: PeerState;
  incarnation: number;
  heartbeat: number;
  /** My clock when its counter (or incarnation) last moved. */
  lastMoveMs: number;
  /** My clock when its network heartbeat was last heard, if ever. */
  lastNetMs: number | undefined;
}

export interface DiskStatus {
  state: MemberState;
  incarnation: number;
  heartbeat: number;
  /** The last life this member saw confirmed off by its own fence. */
  fenced?: FencedLife;
}

export interface FencedLife {
  member: number;
  incarnation: number;
}

export class Liveness {
  private readonly peers = new Map<number, Peer>();

  constructor(
    private readonly config: LivenessConfig,
    /** This member, which is never judged. */
    readonly me: number,
  ) {
    if (!(config.intervalMs > 0) || !(config.tko >= 1) || !(config.tkoNetup >= config.tko)) {
      throw new RangeError("liveness needs intervalMs > 0, tko >= 1 and tko_netup >= tko");
    }
  }

  state(member: number): PeerState {
    return this.peers.get(member)?.state ?? "unknown";
  }

  /** When a peer's counter (or incarnation) last moved, on my clock, if it was ever read. */
  lastMoveOf(member: number): number | undefined {
    return this.peers.get(member)?.lastMoveMs;
  }

  /** The incarnation of a peer's last status block read, if any. */
  incarnationOf(member: number): number | undefined {
    return this.peers.get(member)?.incarnation;
  }

  /** A peer's status block, as read at `nowMs` on my clock. */
  observeDisk(member: number, status: DiskStatus, nowMs: number): Transition[] {
    if (member === this.me) return [];
    const peer = this.peers.get(member);
    const to: PeerState =
      status.state === MemberState.Up ? "up" : status.state === MemberState.Down ? "down" : "unknown";
    if (peer === undefined) {
      this.peers.set(member, {
        state: to,
        incarnation: status.incarnation,
        heartbeat: status.heartbeat,
        lastMoveMs: nowMs,
        lastNetMs: undefined,
      });
      return to === "unknown" ? [] : [{ member, from: "unknown", to, reason: "first seen" }];
    }
    const restarted = status.incarnation !== peer.incarnation;
    const moved = restarted || status.heartbeat !== peer.heartbeat;
    peer.incarnation = status.incarnation;
    peer.heartbeat = status.heartbeat;
    if (moved) peer.lastMoveMs = nowMs;
    // A hung peer stays hung until it moves: reading the same stale block again changes nothing.
    const next: PeerState = to === "up" && peer.state === "hung" && !moved ? "hung" : to;
    if (next === peer.state) return [];
    const from = peer.state;
    peer.state = next;
    const reason = restarted
      ? "new incarnation"
      : next === "down"
        ? "clean shutdown"
        : moved
          ? "heartbeat moves again"
          : "status changed";
    return [{ member, from, to: next, reason }];
  }

  /** A peer's authenticated network heartbeat, heard at `nowMs` on my clock. */
  observeNet(member: number, nowMs: number): void {
    if (member === this.me) return;
    const peer = this.peers.get(member);
    if (peer !== undefined) peer.lastNetMs = nowMs;
  }

  /** Declares hung every up peer whose counter has been still for longer than its window. */
  tick(nowMs: number): Transition[] {
    const { intervalMs, tko, tkoNetup } = this.config;
    const out: Transition[] = [];
    for (const [member, peer] of this.peers) {
      if (peer.state !== "up") continue;
      const still = nowMs - peer.lastMoveMs;
      // The network counts as heard if a heartbeat came within the ordinary window.
      const netUp = peer.lastNetMs !== undefined && nowMs - peer.lastNetMs <= tko * intervalMs;
      const windowMs = (netUp ? tkoNetup : tko) * intervalMs;
      if (still > windowMs) {
        peer.state = "hung";
        out.push({
          member,
          from: "up",
          to: "hung",
          reason: `heartbeat still for ${Math.round(still)} ms (window ${windowMs} ms${netUp ? ", network still heard" : ""})`,
        });
      }
    }
    return out;
  }
}
