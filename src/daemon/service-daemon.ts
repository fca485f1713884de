// The service manager of one running member: the thin adapter around ServiceCore. It feeds the
// core the service blocks read each heartbeat, this member's view of its peers, and how each
// start, stop and check ended; it writes each transition to both copies before it touches the
// resources, and takes a service only under the disk lock.
import type { ClusterConfig, MemberConfig } from "../config/model.js";
import type { MemberInfo, ServiceSpec } from "../core/placement.js";
import {
  type AdminRequest,
  type AskAnswer,
  type ServiceAction,
  ServiceCore,
  type ServiceObservation,
} from "../core/services.js";
import { NO_OWNER, type ServiceRecord, ServiceState } from "../disk/service-block.js";
import { createResource } from "../services/create.js";
import { ServiceRunner } from "../services/runner.js";
import { serviceStateName } from "../services/state-names.js";
import type { Logger } from "./logger.js";

/** What the service manager needs of the rest of the daemon. */
export interface ServiceHost {
  log: Logger;
  /** Write a service block to both copies. */
  writeService(record: ServiceRecord): Promise<void>;
  /** Read one service block as every reader sees it now (after a write to it failed). */
  readService(service: number): Promise<ServiceRecord>;
  /** Run `work` holding the disk lock (queued behind fencing), with the block as it is now. */
  underLock(service: number, work: (fresh: ServiceRecord) => Promise<void>): Promise<void>;
  /** Run an action's promise; a throw is a bug and self-fences. */
  guard(work: Promise<unknown>): void;
  /** Whether this member may take a service now (checked again under the lock, after a stall). */
  healthy(): boolean;
  /** Another life owns what this one runs: stop everything now. */
  conflict(message: string): void;
  /** Pass a request on to the life that owns the service; false when too many wait already. */
  forward(to: number, incarnation: number, request: AdminRequest): boolean;
  /** A service was let go, free for another member to take, and that is on both copies. */
  released(): void;
}

export function serviceSpecs(config: ClusterConfig): ServiceSpec[] {
  return config.services.map((s) => {
    const preferred = config.members.find((m) => m.name === s.preferredMember)?.id;
    return {
      id: s.id,
      name: s.name,
      ...(preferred !== undefined ? { preferred } : {}),
      failback: s.failback,
      disabled: s.disabled,
      checkIntervalMs: s.checkInterval * 1000,
      maxRestarts: s.maxRestarts,
      restartWindowMs: s.restartWindow * 1000,
    };
  });
}

export class ServiceDaemon {
  readonly core: ServiceCore;
  private readonly runners = new Map<number, ServiceRunner>();

  constructor(
    config: ClusterConfig,
    member: MemberConfig,
    incarnation: number,
    /** The configuration view `config` is. */
    view: number,
    private readonly host: ServiceHost,
  ) {
    const names: string[] = [];
    for (const m of config.members) names[m.id] = m.name;
    this.core = new ServiceCore({ me: member.id, incarnation, services: serviceSpecs(config), names, view });
    for (const s of config.services) {
      this.runners.set(
        s.id,
        new ServiceRunner(s.resources.map(createResource), {
          cluster: config.cluster.name,
          member: member.name,
          service: s.name,
          log: (line) => host.log.info({ event: "resource", service: s.name }, line),
        }),
      );
    }
  }

  get idle(): boolean {
    return this.core.idle;
  }

  /** Leaving is blocked only by services that failed to stop here, with nothing else under way. */
  get onlyFailedLeft(): boolean {
    return this.core.failedHere.length > 0 && this.core.idleButFailed;
  }

  feed(o: ServiceObservation): void {
    this.execute(this.core.step(o));
  }

  /** An administrator's request, asked here (`viaPeer` false) or passed on by a peer. */
  ask(request: AdminRequest, viaPeer = false): Omit<AskAnswer, "actions"> {
    const { ok, message, actions } = this.core.ask(request, viaPeer);
    for (const a of actions) {
      if (a.kind === "forward" && !this.host.forward(a.to, a.incarnation, a.request))
        return { ok: false, message: "too many requests are waiting to be passed on; ask again shortly" };
    }
    this.execute(actions.filter((a) => a.kind !== "forward"));
    this.host.log.notice({ event: "service-request", request, viaPeer, ok }, message);
    return { ok, message };
  }

  tick(
    nowMs: number,
    members: readonly MemberInfo[],
    healthy: boolean,
    isFenced: (m: number, i: number) => boolean,
  ) {
    this.feed({ kind: "tick", nowMs, members, healthy, isFenced });
  }

  private runner(service: number): ServiceRunner {
    const r = this.runners.get(service);
    if (r === undefined) throw new Error(`service ${service} has no resources configured`);
    return r;
  }

  private execute(actions: ServiceAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "claim": {
          let ran = false;
          this.host.guard(
            this.host
              .underLock(a.service, async (fresh) => {
                ran = true;
                // A member that stalled while waiting may have lost the lock to staleness, and its
                // view of who is alive is old: it takes nothing until it is healthy again.
                if (!this.host.healthy()) {
                  this.feed({ kind: "claim-failed", service: a.service });
                  return;
                }
                // Decided and recorded under the lock, so no other member can decide the same.
                for (const x of this.core.step({ kind: "claim-read", service: a.service, record: fresh })) {
                  if (x.kind === "transition") await this.transition(x, () => this.host.healthy());
                  else this.execute([x]);
                }
              })
              .catch((err: unknown) => {
                if (ran) {
                  // The work ran; only letting go of the lock failed. Its outcome stands.
                  this.host.log.warning(
                    { event: "service", service: a.service },
                    `releasing the disk lock: ${String(err)}`,
                  );
                  return;
                }
                this.host.log.warning(
                  { event: "service", service: a.service },
                  `could not take the disk lock: ${String(err)}`,
                );
                this.feed({ kind: "claim-failed", service: a.service });
              }),
          );
          break;
        }
        case "conflict":
          this.host.conflict(a.message);
          break;
        case "transition":
          this.host.guard(this.transition(a));
          break;
        case "check-service":
          this.host.guard(
            this.runner(a.service)
              .check()
              .then((r) =>
                this.feed({
                  kind: "checked",
                  service: a.service,
                  ok: r.ok,
                  detail: r.detail,
                  nowMs: performance.now(),
                }),
              ),
          );
          break;
        case "service-report":
          this.host.log.warning({ event: "service", service: a.service }, a.message);
          break;
        case "forward":
          // Only ask() gets these, and passes them on itself.
          throw new Error(`a forward of ${a.request.op} for service ${a.request.service} outside ask()`);
      }
    }
  }

  private async record(r: ServiceRecord): Promise<ServiceRecord> {
    const stamped = { ...r, transitionWallMs: Date.now() };
    await this.host.writeService(stamped);
    this.host.log.notice(
      {
        event: "service",
        service: r.name,
        state: r.state,
        owner: r.owner,
        ownerIncarnation: r.ownerIncarnation,
      },
      `service ${r.name}: ${serviceStateName(r.state)}`,
    );
    return stamped;
  }

  /** `stillMay`: checked just before the write; a transition it refuses is not written. */
  private async transition(
    a: Extract<ServiceAction, { kind: "transition" }>,
    stillMay: () => boolean = () => true,
  ): Promise<void> {
    let written: ServiceRecord;
    try {
      if (!stillMay()) throw new Error("this member is not healthy enough to take a service now");
      written = await this.record(a.record);
    } catch (err) {
      // It may have reached the primary before the backup failed: what the disk holds decides.
      const onDisk = await this.host.readService(a.record.index).catch(() => undefined);
      this.feed({
        kind: "written",
        service: a.record.index,
        ok: false,
        detail: String(err),
        ...(onDisk !== undefined ? { onDisk } : {}),
      });
      return;
    }
    this.feed({ kind: "written", service: a.record.index, ok: true, detail: "", record: written });
    if (written.state === ServiceState.Stopped && written.owner === NO_OWNER) this.host.released();
    this.afterWrite(a);
  }

  /** Only after the transition is on both copies are the resources touched. */
  private afterWrite(a: Extract<ServiceAction, { kind: "transition" }>): void {
    const service = a.record.index;
    if (a.after === "start") {
      this.host.guard(
        this.runner(service)
          .start()
          .then((r) =>
            this.feed({
              kind: "started",
              service,
              ok: r.ok,
              cleanedUp: r.cleanedUp,
              detail: r.detail,
              nowMs: performance.now(),
            }),
          ),
      );
    } else if (a.after === "stop") {
      this.host.guard(
        this.runner(service)
          .stop()
          .then((r) =>
            this.feed({ kind: "stopped", service, ok: r.ok, detail: r.detail, nowMs: performance.now() }),
          ),
      );
    }
  }
}
