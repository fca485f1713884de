// What the simulator's parts share: its timing, the simulated machines and the member processes
// running on them. world.ts drives membership, the disk, the network and the power switches;
// services.ts runs the service manager next to it.
import type { PeerState } from "../../src/core/liveness.js";
import type { MemberAction, MemberCoreConfig, Observation } from "../../src/core/member.js";
import type { MemberInfo } from "../../src/core/placement.js";
import type { ServiceCore, ServiceCoreConfig } from "../../src/core/services.js";
import type { ProcessDisk } from "./disk.js";
import type { LockUse } from "./lock.js";

export const SIM_STEP_MS = 100;
export const TIMING = { intervalMs: 1000, tko: 7, tkoNetup: 12, ioTimeoutMs: 3000, twoMemberDelayMs: 2000 };
/** A machine powered off, or reset by its own self-fence, runs its daemon again this much later. */
export const BOOT_MS = 4_000;
/** A power switch answers within this; usually much sooner (see World.fence). */
export const MAX_SWITCH_MS = 15_000;
/** Watchdog timeouts of the members fenced by their own watchdog, in whole seconds as the device
 * takes them: longer than tko x interval, so a member can revive and hang again within one wait. */
export const WATCHDOG_SECONDS: [number, number] = [8, 15];

/** The member core as the simulator uses it; a test may wrap the real one to break it on purpose. */
export interface CoreLike {
  step(o: Observation): MemberAction[];
  isFenced(member: number, incarnation: number): boolean;
  aboutToFence(member: number, incarnation: number): boolean;
  peerState(member: number): PeerState;
  healthy(nowMs: number): boolean;
  readonly finished: string | undefined;
}

export type MakeCore = (config: MemberCoreConfig, joinedAtMs: number) => CoreLike;
/** Builds a member's service core; a test may wrap the real one to break it on purpose. */
export type MakeServiceCore = (config: ServiceCoreConfig) => ServiceCore;

/** One run of the member daemon: its cores and its own clock. */
export interface Process {
  core: CoreLike;
  services: ServiceCore;
  /** What the service core's last tick was told of the members (see SimServices.memberView). */
  memberView: readonly MemberInfo[];
  /** The member core's view of who is fenced, as the service core's tick is given it. */
  isFenced: (member: number, incarnation: number) => boolean;
  incarnation: number;
  /** What this process has read of the disk and the generations it wrote. */
  disk: ProcessDisk;
  /** The configuration view this life runs: the partitions' view when it joined. */
  configView: number;
  /** The view each peer's status block said that peer ran, as last read here (per life). */
  peerViews: Map<number, { incarnation: number; view: number }>;
  /** My clock = simulated time x this rate + this offset: clocks disagree wildly on purpose,
   * and run up to 1% fast or slow. */
  clockOffsetMs: number;
  clockRate: number;
  /** Its own clock when it joined: services are placed only once it has settled. */
  joinedLocalMs: number;
  /** Asked to stop cleanly: its services are stopped before the member core is told to leave. */
  stopping: boolean;
  memberStopFed: boolean;
  /** The reads of its current heartbeat (the status region, its mailbox) failed: set as they are made. */
  beatReadFailed?: boolean;
  beatMailFailed?: boolean;
  /** Its member core's use of the fencing lock, asked for and not yet let go. */
  fenceUse?: LockUse;
  /** Lives its core counted off under its fencing lock: their notices must be on the disk before
   * it lets go of the lock. */
  owedNotices: { member: number; incarnation: number }[];
}

/** cluadmin, run on a member's machine to change the configuration: it lives while it works,
 * and dies with the machine. */
export interface Tool {
  kind: "tool";
  member: number;
  id: number;
  alive: boolean;
  /** What it has read of the disk and the generations it wrote (its member's lock slot). */
  disk: ProcessDisk;
}

export interface Machine {
  power: "on" | "off";
  process: Process | undefined;
  bootAtMs: number | undefined;
  frozenUntilMs: number;
  diskFault: { kind: "error" | "hang"; untilMs: number } | undefined;
  switchFailsUntilMs: number;
  /** Until then its switch fails every other attempt or so: a flapping relay or a flaky line. */
  switchFlapsUntilMs: number;
  /** Until then most of its status, lock slot and service writes report success while one copy
   * (either) keeps its old contents: a lost or torn write. */
  losesWritesUntilMs: number;
  /** Last simulated time this machine was anything but healthy: frozen, dead, off or disk-faulty. */
  lastFaultMs: number;
  incarnation: number;
  /**
   * Services whose resources run on this machine now. A killed or frozen daemon leaves them
   * running; only a power-off or the machine's own reset (a self-fence) ends them.
   */
  running: Set<number>;
  /** Counts power-offs and resets: I/O still in flight when the machine went down never lands. */
  resets: number;
  /** Until then its reads of the status region fail while its writes land. */
  readsFailUntilMs: number;
  /** Until then its reads of its own mailbox row fail, alone. */
  mailReadsFailUntilMs: number;
  /** Until then its fenced notices cannot be written (bad sectors in the mailbox region). */
  noticeWritesFailUntilMs: number;
  /** cluadmin processes running on this machine now. */
  tools: Tool[];
  /** The power switch outlet this machine is plugged into now. */
  outlet: number;
  /** For a member fenced by its own watchdog: its timeout, and when it was last fed while armed
   * (the daemon arms it once it has joined, and feeds it after each write that landed in time). */
  watchdog?: { timeoutMs: number; armed: boolean; lastKickMs: number };
  /** Until then it stalls again and again, each stall long enough to look hung. */
  stuttersUntilMs: number;
  /** Until then its writes reach the primary and fail on the backup. */
  backupFailsUntilMs: number;
}

/** A place in the disk lock's queue: the member core's fencing, or a claim of one service. */
export interface LockRequest {
  member: number;
  p: Process;
  service?: number;
}
