// One interface for every kind of resource a service is made of: start it, stop it, ask whether
// it runs. Every action is bounded in time and fails with a ResourceError that names the resource,
// the action and what happened.

export type ResourceAction = "start" | "stop" | "status";

export type ResourceState = "running" | "stopped";

export interface ResourceContext {
  cluster: string;
  member: string;
  service: string;
  /** The resource's place in its service (resource0, resource1, ...). */
  index: number;
  /** Each line its programs print, for the log. */
  log: (line: string) => void;
}

export interface Resource {
  /** Names it in messages: "script /etc/init.d/nfs", "ocf heartbeat:Dummy". */
  readonly name: string;
  start(ctx: ResourceContext): Promise<void>;
  /** Stops it; stopping what is not running succeeds. */
  stop(ctx: ResourceContext): Promise<void>;
  status(ctx: ResourceContext): Promise<ResourceState>;
}

export type ResourceFailure = "failed" | "timeout" | "not-found" | "config";

export class ResourceError extends Error {
  override name = "ResourceError";
  constructor(
    readonly kind: ResourceFailure,
    readonly resource: string,
    readonly action: ResourceAction,
    readonly detail: string,
  ) {
    super(`${resource}: ${action}: ${detail}`);
  }
}

/** Default deadlines per action; a stop gets as long as a start, since a failed stop is the
 * dangerous one (the service cannot move until its member is fenced). */
export const ACTION_TIMEOUT_MS: Record<ResourceAction, number> = {
  start: 60_000,
  stop: 60_000,
  status: 20_000,
};

/** The environment every script and agent gets: which cluster, member and service it runs for. */
export function clusterEnv(ctx: ResourceContext): Record<string, string> {
  return { CLU_CLUSTER: ctx.cluster, CLU_MEMBER: ctx.member, CLU_SERVICE: ctx.service };
}
