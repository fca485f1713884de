// `cluadmin service enable|disable|relocate|restart`: the request goes to the local daemon, which
// carries it out or passes it to the member that owns the service; then cluadmin watches the
// service's state until the request is done, has failed, or the wait runs out.
import { didYouMean } from "../config/values.js";
import type { AdminOp } from "../core/services.js";
import type { ClusterStatus, ServiceRow } from "./cluster-status.js";
import { askDaemon, DaemonUnreachable } from "./daemon-client.js";

/** How long cluadmin waits for a request to be done before saying it is still under way. */
export const SERVICE_WAIT_MS = 60_000;
export const SERVICE_POLL_MS = 100;

export interface ServiceControl {
  op: AdminOp;
  service: string;
  /** Relocate: the member's name. */
  target?: string;
}

export interface ControlResult {
  ok: boolean;
  /** What the daemon said when it took the request, or why it refused. */
  accepted: string;
  /** How it ended, for people. */
  outcome: string;
  row?: ServiceRow;
  elapsedMs: number;
}

type Progress = { done: true } | { failed: string } | undefined;

/** Whether the service's row shows the request done, failed, or still under way (undefined). */
export function progress(req: ServiceControl, before: ServiceRow, now: ServiceRow): Progress {
  const changed = now.since !== before.since || now.state !== before.state;
  if (now.state === "failed" && changed) return { failed: `it failed on ${now.owner ?? "its owner"}` };
  const running = now.state === "running";
  switch (req.op) {
    case "enable":
      return running ? { done: true } : undefined;
    case "disable":
      return now.state === "disabled" ? { done: true } : undefined;
    case "restart":
      return running && now.restarts > before.restarts ? { done: true } : undefined;
    case "relocate": {
      if (running && req.target !== undefined && req.target === before.owner && now.owner === req.target)
        return { done: true };
      if (!running || !changed) return undefined;
      if (req.target !== undefined && now.owner !== req.target)
        return { failed: `it started on ${now.owner ?? "?"}, not on ${req.target}` };
      return now.owner !== before.owner
        ? { done: true }
        : { failed: `it started on ${now.owner} again: no other member could take it` };
    }
  }
}

function row(status: ClusterStatus, name: string): ServiceRow {
  const r = status.services?.find((s) => s.name === name);
  if (r === undefined)
    throw new Error(
      `no service ${name}${didYouMean(
        name,
        (status.services ?? []).map((s) => s.name),
      )}`,
    );
  return r;
}

function describe(r: ServiceRow): string {
  return r.owner !== undefined ? `${r.state} on ${r.owner}` : r.state;
}

async function daemonStatus(socket: string): Promise<ClusterStatus> {
  const a = await askDaemon(socket, { command: "status" });
  if (!a.ok) throw new Error(a.error);
  return a.status as ClusterStatus;
}

/** Asks the daemon at `socket` and waits up to `waitMs` for the outcome. */
export async function controlService(
  socket: string,
  req: ServiceControl,
  waitMs = SERVICE_WAIT_MS,
): Promise<ControlResult> {
  const t0 = Date.now();
  const before = row(
    await daemonStatus(socket).catch((err: unknown) => {
      // Still a DaemonUnreachable, so cluadmin exits with the code for an unreachable daemon.
      throw err instanceof DaemonUnreachable && err.reason === "absent"
        ? new DaemonUnreachable(
            `${err.message}: service requests go through the local clumanager daemon; start it first`,
            err.reason,
          )
        : err;
    }),
    req.service,
  );
  const answer = await askDaemon(socket, { command: "service", ...req });
  const elapsedMs = () => Date.now() - t0;
  if (!answer.ok)
    return { ok: false, accepted: answer.error, outcome: "nothing was done", elapsedMs: elapsedMs() };
  const accepted = (answer.status as { message: string }).message;
  let now = before;
  // Bounded by the wait: one status request per poll.
  for (let polls = Math.ceil(waitMs / SERVICE_POLL_MS); polls >= 0; polls--) {
    now = row(await daemonStatus(socket), req.service);
    const p = progress(req, before, now);
    if (p !== undefined) {
      const ok = "done" in p;
      return {
        ok,
        accepted,
        outcome: ok
          ? `${req.service} is ${describe(now)}`
          : `${req.op} of ${req.service} failed: ${p.failed}`,
        row: now,
        elapsedMs: elapsedMs(),
      };
    }
    if (elapsedMs() >= waitMs) break;
    await new Promise((r) => setTimeout(r, SERVICE_POLL_MS));
  }
  return {
    ok: false,
    accepted,
    outcome: `${req.service} is still ${describe(now)} after ${Math.round(waitMs / 1000)} s: the request may have been refused or lost on the way (a member that left, a changed owner); the logs of the asked member and the owner say which`,
    row: now,
    elapsedMs: elapsedMs(),
  };
}
