// `cluster status`: what the members are doing, as a running daemon sees it or, with no daemon,
// as the quorum partitions show it; printed as a table or as JSON. Never holds a secret: power
// switches are described by describeSwitch().
import { table } from "../cli/io.js";
import type { ClusterConfig } from "../config/model.js";
import { NO_OWNER, type ServiceRecord } from "../disk/service-block.js";
import { serviceStateName } from "../services/state-names.js";

export interface MemberRow {
  id: number;
  name: string;
  /** up, down, hung, fenced, unknown; self-fenced or stopped for the answering member. */
  state: string;
  incarnation?: number;
  heartbeat?: number;
  /** Per heartbeat channel of cluster.conf: ok, warning, down ("self" for the answering member). */
  channels: string[];
  power: Record<string, unknown>;
  /** The last fence report about this member, if any. */
  fence?: { message: string; atMs: number };
  /** Without a daemon: when the member last wrote its status block, by its own wall clock. */
  lastWrite?: string;
}

export interface ServiceRow {
  id: number;
  name: string;
  /** disabled, stopped, starting, running, stopping, failed. */
  state: string;
  owner?: string;
  restarts: number;
  /** When it last changed state, by the wall clock of the member that changed it. */
  since?: string;
}

/** A row per configured service, from its block as `record` gives it. */
export function serviceRows(
  config: ClusterConfig,
  record: (service: number) => ServiceRecord | undefined,
): ServiceRow[] {
  return config.services.map((svc) => {
    const r = record(svc.id);
    const owner =
      r !== undefined && r.owner !== NO_OWNER
        ? config.members.find((m) => m.id === r.owner)?.name
        : undefined;
    return {
      id: svc.id,
      name: svc.name,
      state: r === undefined ? "unknown" : serviceStateName(r.state),
      ...(owner !== undefined ? { owner } : {}),
      restarts: r?.restarts ?? 0,
      ...(r !== undefined && r.transitionWallMs > 0
        ? { since: new Date(r.transitionWallMs).toISOString() }
        : {}),
    };
  });
}

export interface ClusterStatus {
  source: "daemon" | "partitions";
  cluster: string;
  configFile: string;
  configView?: number;
  answeredBy?: { id: number; name: string; incarnation: number; pid: number; startedAt: string };
  members: MemberRow[];
  services?: ServiceRow[];
  counters?: Record<string, unknown>;
  /** Why the view is limited (no daemon), for people. */
  note?: string;
}

function power(p: Record<string, unknown>): string {
  const where = p.device ?? p.watchdogDevice ?? p.host ?? p.agent ?? "";
  // A watchdog or no switch has no outlet worth showing.
  const outlet = p.type === "watchdog" || p.type === "none" ? undefined : p.outlet;
  const check = p.check as { ok: boolean } | undefined;
  const answers = check === undefined ? "" : check.ok ? " (answers)" : " (NOT ANSWERING)";
  return `${String(p.type ?? "?")}${where !== "" ? ` ${String(where)}` : ""}${outlet !== undefined ? ` outlet ${String(outlet)}` : ""}${answers}`;
}

export function renderStatus(s: ClusterStatus): string {
  const lines: string[] = [];
  const by = s.answeredBy;
  lines.push(
    `cluster ${s.cluster}${s.configView !== undefined ? `, configuration view ${s.configView}` : ""} (${s.configFile})`,
  );
  lines.push(
    by !== undefined
      ? `as seen by member ${by.name} (member${by.id}, incarnation ${by.incarnation}, pid ${by.pid}, up since ${by.startedAt})`
      : `read from the quorum partitions: ${s.note ?? "no daemon answered"}`,
  );
  lines.push("");
  const rows = [["id", "member", "state", "incarnation", "heartbeat", "channels", "power switch"]];
  for (const m of s.members) {
    rows.push([
      String(m.id),
      m.name,
      m.state,
      m.incarnation !== undefined ? String(m.incarnation) : "-",
      m.heartbeat !== undefined ? String(m.heartbeat) : "-",
      m.channels.length > 0 ? m.channels.join(",") : "-",
      power(m.power),
    ]);
  }
  lines.push(table(rows));
  if (s.services !== undefined && s.services.length > 0) {
    const rows = s.services.map((v) => [v.name, v.state, v.owner ?? "-", String(v.restarts)]);
    lines.push("", table([["service", "state", "owner", "restarts"], ...rows]));
  }
  const silent = s.members.filter((m) => (m.power.check as { ok: boolean } | undefined)?.ok === false);
  if (silent.length > 0) {
    lines.push("", "power switches not answering (fencing these members would fail):");
    for (const m of silent) {
      const c = m.power.check as { detail: string; at: string };
      lines.push(`  ${m.name}: ${c.detail} (checked ${c.at})`);
    }
  }
  const fences = s.members.filter((m) => m.fence !== undefined);
  if (fences.length > 0) {
    lines.push("", "fencing:");
    for (const m of fences) {
      const f = m.fence as { message: string; atMs: number };
      lines.push(`  ${m.name}: ${f.message} (${new Date(f.atMs).toISOString()})`);
    }
  }
  return lines.join("\n");
}
