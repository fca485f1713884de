// An administrator's service request on its way: from names (as cluadmin sends them) to ids, and
// to and from the form carried in the asking member's status block.
import type { ClusterConfig } from "../config/model.js";
import { didYouMean } from "../config/values.js";
import type { AdminOp, AdminRequest } from "../core/services.js";
import { RequestOp, type ServiceRequest } from "../disk/status-block.js";

export const ADMIN_OPS: readonly AdminOp[] = ["enable", "disable", "relocate", "restart"];

const TO_WIRE: Record<AdminOp, RequestOp> = {
  enable: RequestOp.Enable,
  disable: RequestOp.Disable,
  relocate: RequestOp.Relocate,
  restart: RequestOp.Restart,
};

/** No member named: relocate to any other. */
const ANY_TARGET = -1;

export function requestToWire(
  request: AdminRequest,
  to: number,
  toIncarnation: number,
  sequence: number,
): ServiceRequest {
  return {
    to,
    toIncarnation,
    sequence,
    op: TO_WIRE[request.op],
    service: request.service,
    target: request.target ?? ANY_TARGET,
  };
}

export function requestFromWire(q: ServiceRequest): AdminRequest {
  const op = ADMIN_OPS.find((o) => TO_WIRE[o] === q.op);
  if (op === undefined) throw new Error(`service request op ${q.op} is not known`);
  return { op, service: q.service, ...(q.target !== ANY_TARGET ? { target: q.target } : {}) };
}

/** The request cluadmin names, in ids; or one sentence saying what is wrong with it. */
export function resolveRequest(
  config: ClusterConfig,
  op: AdminOp,
  serviceName: string,
  targetName?: string,
): AdminRequest | string {
  const service = config.services.find((s) => s.name === serviceName);
  if (service === undefined) return notConfigured("service", serviceName, config.services);
  if (targetName === undefined) return { op, service: service.id };
  if (op !== "relocate") return `${op} takes no member; only relocate does`;
  const target = config.members.find((m) => m.name === targetName);
  if (target === undefined) return notConfigured("member", targetName, config.members);
  return { op, service: service.id, target: target.id };
}

function notConfigured(what: string, name: string, known: readonly { name: string }[]): string {
  return `no ${what} ${name} in the configuration${didYouMean(
    name,
    known.map((k) => k.name),
  )}`;
}
