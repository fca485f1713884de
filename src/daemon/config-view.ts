// Which configuration a starting member runs. cluadmin stores every change on the quorum
// partitions as a new view; a member that was down during a change still has the old file. If it
// ran that file, it could fence the wrong outlet or place a service the others deleted. So a
// member runs the partitions' view, and refuses to start when it cannot.
import { existsSync, statSync } from "node:fs";
import type { ClusterConfig } from "../config/model.js";
import { readConfigFile } from "../config/read.js";
import { LocalLock, writeFileAtomic } from "../config/store.js";
import { formatErrors, validateText } from "../config/validate.js";
import type { StoredConfig } from "../disk/config-region.js";
import { QuorumPair } from "../disk/pair.js";

export type StartView =
  /** Nothing stored yet (no change was ever made with cluadmin): the local file is view 0. */
  | { kind: "local"; view: 0 }
  /** The local file is the stored view. */
  | { kind: "same"; view: number }
  /** The partitions hold another view: it is run, and the local file is replaced by it. */
  | { kind: "stored"; view: number; text: string; config: ClusterConfig }
  | { kind: "refuse"; message: string };

/**
 * Decides which view to run, from the local file (already valid) and what the partitions hold.
 * `path` names the local file in the sentences an administrator reads.
 */
export function chooseStartView(
  local: { text: string; config: ClusterConfig; path: string },
  stored: StoredConfig,
  memberName: string,
): StartView {
  if (stored.view === 0) return { kind: "local", view: 0 };
  if (stored.text === local.text) return { kind: "same", view: stored.view };
  const where = `the configuration on the quorum partitions (view ${stored.view})`;
  const checked = validateText(stored.text);
  if (!checked.ok)
    return {
      kind: "refuse",
      message: `${local.path} differs from ${where}, which is not valid (${formatErrors(`view ${stored.view}`, checked.errors)[0]}): this member cannot tell which to run; correct it with cluadmin on a running member, then start this one again`,
    };
  const config = checked.config;
  if (config.cluster.name !== local.config.cluster.name)
    return {
      kind: "refuse",
      message: `${local.path} is for cluster "${local.config.cluster.name}" but ${where} is for cluster "${config.cluster.name}": check [quorum] in ${local.path}`,
    };
  if (!config.members.some((m) => m.name === memberName))
    return {
      kind: "refuse",
      message: `${local.path} differs from ${where}, which has no member named "${memberName}": it was removed from the cluster; add it back with cluadmin on a running member before starting it`,
    };
  return { kind: "stored", view: stored.view, text: stored.text, config };
}

/** Where the local file is kept when a stored view replaces it, so that no edit is lost. */
export function replacedPath(path: string, view: number): string {
  return `${path}.before-view-${view}`;
}

export interface RunView {
  config: ClusterConfig;
  view: number;
  /** The UUID of the cluster's quorum partitions: its identity, which heartbeats are bound to. */
  clusterUuid: Buffer;
  /** The local file differed: where its old text was kept. */
  keptAt?: string;
}

/** Thrown with one sentence when a member must not start on the view it has. */
export class ViewRefused extends Error {
  override name = "ViewRefused";
}

/**
 * Reads the partitions (read only, before joining) and returns the view to run. When that is the
 * stored one, the local file is kept beside itself and rewritten, under the lock cluadmin uses.
 */
export async function startView(
  path: string,
  /** The file as parsed before: it names the partitions to read. */
  local: ClusterConfig,
  memberName: string,
  timeoutMs: number,
): Promise<RunView> {
  const lock = await LocalLock.acquire(path);
  try {
    // The file as it is now, under the lock: a cluadmin may have rewritten it since `local` was
    // read, and what runs must be what was compared with the partitions.
    const text = readConfigFile(path);
    const now = validateText(text);
    if (!now.ok)
      throw new ViewRefused(
        `${path} changed while clumanager was starting and is no longer valid:\n${formatErrors(path, now.errors).join("\n")}`,
      );
    local = now.config;
    const member = local.members.find((m) => m.name === memberName);
    const quorum = member?.quorum ?? local.quorum;
    const pair = await QuorumPair.open(quorum.primary, quorum.backup, { write: false, timeoutMs });
    let stored: StoredConfig;
    const clusterUuid = pair.clusterUuid;
    try {
      stored = (await pair.readConfig()).config;
    } finally {
      pair.close();
    }
    const choice = chooseStartView({ text, config: local, path }, stored, memberName);
    switch (choice.kind) {
      case "refuse":
        throw new ViewRefused(choice.message);
      case "local":
      case "same":
        return { config: local, view: choice.view, clusterUuid };
      case "stored": {
        // Never over an earlier kept copy: each keeps what an administrator wrote.
        const first = replacedPath(path, choice.view);
        const keptAt = existsSync(first) ? `${first}.${Date.now()}` : first;
        // The copy keeps the file's mode: it may hold switch passwords.
        writeFileAtomic(keptAt, text, statSync(path).mode & 0o7777);
        writeFileAtomic(path, choice.text);
        return { config: choice.config, view: choice.view, clusterUuid, keptAt };
      }
    }
  } finally {
    lock.release();
  }
}
