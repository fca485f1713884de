// The cluster configuration as the rest of clumanager uses it, after validation.
import type { SwitchConfig } from "../power/create.js";

export const LOG_LEVELS = ["debug", "info", "notice", "warning", "err", "crit", "alert", "emerg"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULTS = {
  heartbeatInterval: 1.0,
  tko: 7,
  tkoNetup: 12,
  ioTimeout: 3.0,
  keyFile: "/etc/clumanager/authkey",
  fenceDelay: 5.0,
  loglevel: "warning" as LogLevel,
  syslogFacility: "local4",
  netPort: 1228,
  checkInterval: 10,
  maxRestarts: 3,
  restartWindow: 300,
  watchdogDevice: "/dev/watchdog",
} as const;

export interface ClusterSettings {
  name: string;
  heartbeatInterval: number;
  tko: number;
  tkoNetup: number;
  ioTimeout: number;
  keyFile: string;
  /** Seconds the higher id waits before fencing in a two-member cluster. */
  fenceDelay: number;
  loglevel: LogLevel;
  syslogFacility: string;
}

export interface QuorumPaths {
  primary: string;
  backup: string;
}

export type Channel = { type: "net"; address: string; port: number } | { type: "serial"; device: string };

export type MemberPower = SwitchConfig & { outlet: string; watchdogDevice?: string };

export interface MemberConfig {
  /** The N of "start memberN": the member's slot on the quorum partitions. */
  id: number;
  name: string;
  channels: Channel[];
  power: MemberPower;
  /** Set when this member reaches the shared disk by other paths. */
  quorum?: QuorumPaths;
}

export type Resource =
  | { type: "script"; path: string }
  | { type: "ocf"; agent: string; params: Record<string, string> }
  | { type: "ip"; address: string; interface?: string }
  | {
      type: "fs";
      device: string;
      mountPoint: string;
      fstype: string;
      options?: string;
      forceUnmount: boolean;
      fsck: boolean;
    };

export interface ServiceConfig {
  /** The N of "start serviceN": the service's block on the quorum partitions. */
  id: number;
  name: string;
  preferredMember?: string;
  failback: boolean;
  checkInterval: number;
  maxRestarts: number;
  restartWindow: number;
  disabled: boolean;
  /** In start order; they stop in reverse. */
  resources: Resource[];
}

export interface ClusterConfig {
  cluster: ClusterSettings;
  quorum: QuorumPaths;
  members: MemberConfig[];
  services: ServiceConfig[];
}
