// How well each peer is heard on each heartbeat channel, for the status view and for liveness.
//
// Pure: it is told when a packet was accepted and asked at a given time on this member's monotonic
// clock. A channel is OK while packets arrive about as often as they are sent, a warning once a few
// are missed, and down when nothing has come for the whole tko window, or ever.
export type ChannelHealth = "ok" | "warning" | "down";

/** Missed intervals tolerated before a channel is a warning: one lost packet is ordinary on UDP. */
export const OK_MISSED_INTERVALS = 2;
/** The smallest tko the configuration accepts. */
export const MIN_TKO = 2;

export interface ChannelTiming {
  intervalMs: number;
  tko: number;
}

export class ChannelState {
  private readonly lastHeard = new Map<string, number>();

  constructor(private readonly timing: ChannelTiming) {
    if (!(timing.intervalMs > 0) || !(timing.tko >= MIN_TKO)) {
      throw new RangeError(`channel state needs intervalMs > 0 and tko >= ${MIN_TKO}`);
    }
  }

  heard(peer: number, channel: number, nowMs: number): void {
    this.lastHeard.set(`${peer}/${channel}`, nowMs);
  }

  health(peer: number, channel: number, nowMs: number): ChannelHealth {
    const last = this.lastHeard.get(`${peer}/${channel}`);
    if (last === undefined) return "down";
    const silentMs = nowMs - last;
    const { intervalMs, tko } = this.timing;
    // With a tko this short there is no room for a warning: ok, then down.
    if (silentMs <= Math.min(OK_MISSED_INTERVALS + 1, tko) * intervalMs) return "ok";
    if (silentMs <= tko * intervalMs) return "warning";
    return "down";
  }
}
