// The bugs the core once had, rebuilt on purpose: each must be caught by some seed of the
// simulator, which is how we know the simulator injects the faults that expose it. Each variant
// is the old behaviour, not a caricature of it.
import { Fencing } from "../../src/core/fencing.js";
import { MemberCore, type Observation } from "../../src/core/member.js";
import { ServiceCore } from "../../src/core/services.js";
import type { ServiceRecord } from "../../src/disk/service-block.js";
import type { GenerationScheme } from "./disk.js";
import type { LockRules } from "./lock.js";
import { CORRECT_RULES } from "./lock.js";
import type { MakeCore } from "./model.js";
import type { SimOptions } from "./world.js";

export type Broken = Pick<
  SimOptions,
  | "makeCore"
  | "makeServiceCore"
  | "lockRules"
  | "makeBakery"
  | "cluadminBypassesDaemon"
  | "fencingView"
  | "generations"
>;

/** The bakery's old rule: a slot unchanged for this long was abandoned. */
const OLD_LOCK_STALE_MS = 10_000;

/**
 * Case 1. A slot that stood still for 10 s counted as abandoned, whoever wrote it; holders and
 * waiters rewrote theirs every 2.5 s, and a failed rewrite was ignored. A member stalled in its
 * doorway, or holding, was gone past while it could still act.
 */
export const staleBakery: Broken = {
  lockRules: {
    ...CORRECT_RULES,
    judge: (_slot, _knows, stillMs) => (stillMs > OLD_LOCK_STALE_MS ? "gone" : "live"),
    refresh: { everyMs: OLD_LOCK_STALE_MS / 4 },
  } satisfies LockRules,
};

/** Case 2. A holder that turned unhealthy (one failed read was enough) let the fencing lock go,
 * with a power cycle or its notice in flight: the next holder fired at the same life again. */
class ReleasingFencing extends Fencing {
  override tick(nowMs: number, healthy: boolean, mayFire?: boolean, lookedHungAtMs?: number) {
    if (!healthy && this.lockHeld) {
      this.lockHeld = false;
      return [
        { kind: "release-fence-lock" as const },
        ...super.tick(nowMs, healthy, mayFire, lookedHungAtMs),
      ];
    }
    return super.tick(nowMs, healthy, mayFire, lookedHungAtMs);
  }
}

export const releasingWhenUnhealthy: Broken = {
  makeCore: (config, joinedAtMs) => new MemberCore(config, joinedAtMs, (c) => new ReleasingFencing(c)),
};

/** Case 3. A watchdog member declared hung again while its fence waited counted as never having
 * moved: off at the end of the wait, though it had fed its watchdog since. */
class ForgetfulFencing extends Fencing {
  override hung(
    member: number,
    incarnation: number,
    nowMs: number,
    ahead?: number,
    lastMoveMs?: number,
  ): void {
    super.hung(member, incarnation, nowMs, ahead, lastMoveMs);
    const c = this.cases.get(member);
    if (c?.step === "fencing" && c.incarnation === incarnation) c.movedAtMs = undefined;
  }
}

export const watchdogForgetsMovement: Broken = {
  makeCore: (config, joinedAtMs) => new MemberCore(config, joinedAtMs, (c) => new ForgetfulFencing(c)),
};

/** Case 7. cluadmin used its member's slot itself while the daemon ran, kept apart from it only by
 * a lock on the configuration file's path: another spelling of the path, another lock. */
export const cluadminBesideDaemon: Broken = {
  cluadminBypassesDaemon: true,
  lockRules: {
    ...CORRECT_RULES,
    localKey: (use) => (use.kind === "tool" ? `cluadmin on member ${use.member}` : `member ${use.member}`),
  },
};

/**
 * Case 4. A transition whose write failed was taken as not done: the service core put back the
 * record it knew before, though the primary (which every reader sees) may have taken the write.
 * A release that landed there and was taken back made the next tick write "stopping, owner me"
 * outside the lock, over the claim another member had just made.
 */
export const failedWriteUndone: Broken = {
  makeServiceCore: (config) => {
    const core = new ServiceCore(config);
    const step = core.step.bind(core);
    const before = new Map<number, ServiceRecord>();
    core.step = (o) => {
      const known = config.services.map((s) => core.record(s.id));
      const out = step(
        o.kind === "written" && !o.ok && before.has(o.service) ? { ...o, onDisk: before.get(o.service) } : o,
      );
      for (const a of out) {
        const was = known[a.kind === "transition" ? a.record.index : -1];
        if (a.kind === "transition" && was !== undefined) before.set(a.record.index, was);
      }
      return out;
    };
    return core;
  },
};

/** Rewrites the observations a member core is given: the old daemon told it less, or otherwise. */
function rewriting(rewrite: (o: Observation, me: number) => Observation): MakeCore {
  return (config, joinedAtMs) => {
    const core = new MemberCore(config, joinedAtMs);
    const step = core.step.bind(core);
    core.step = (o) => step(rewrite(o, config.me));
    return core;
  };
}

/** Case 5, the notice. A fenced notice that could not be written was logged and counted as
 * written, and the lock let go: the next holder found no notice. */
export const noticeFailureIgnored: Broken = {
  makeCore: rewriting((o) => (o.kind === "notice-written" ? { ...o, ok: true } : o)),
};

/** Case 6, the switch. A member fenced through the switch and outlet of the view it started
 * with: a machine recabled since (and recorded in a newer view) kept running, "confirmed off". */
export const fencesWithOwnView: Broken = {
  fencingView: (own) => ({ ok: true, use: own }),
};

/** Case 6, placement. Members placed services whatever views their live peers ran. */
export const placesAcrossViews: Broken = {
  makeServiceCore: (config) => {
    const core = new ServiceCore(config);
    core.viewsDiffer = () => false;
    return core;
  },
};

/**
 * Case 8. A block's generation was a raw counter: a status block's was its heartbeat counter,
 * which starts again with each life; a service block's was the writing process's own count of
 * its writes, from 0 in each process. Readers take the higher generation, so a copy left behind
 * by an earlier life or another writer (a lost write, a copy rolled back) beat the newer one.
 * (Lock slots keep the growing rule: the old bakery's own counter is not this case.)
 */
export const rawCounterWins: Broken = {
  generations: {
    status: (_writer, _member, _copies, _seen, heartbeat) => heartbeat,
    service: (writer) => ++writer.rawServiceWrites,
  } satisfies GenerationScheme,
};
