// One change of the cluster configuration, from any member: under this machine's lock and the
// cluster's disk lock, read the configuration kept on the quorum partitions (the file, before the
// first change), apply the edit, validate it against the partitions' layout, write the new view to
// the partitions, then rewrite /etc/cluster.conf atomically. A change that does not validate is
// refused before anything is written.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { type ConfDocument, parseDocument, serialise } from "../config/document.js";
import { getEntry } from "../config/edit.js";
import { LocalLock, writeFileAtomic } from "../config/store.js";
import { type ConfigError, validateDocument } from "../config/validate.js";
import { withDiskLock } from "../disk/bakery.js";
import { QuorumPair } from "../disk/pair.js";

export class ChangeRefused extends Error {
  override name = "ChangeRefused";
  constructor(
    message: string,
    readonly errors: readonly ConfigError[] = [],
  ) {
    super(message);
  }
}

export interface ChangeOptions {
  configPath: string;
  /** The member this host is; defaults to the member named like the host. */
  member?: string;
  timeoutMs?: number;
}

export interface ChangeResult {
  view: number;
  text: string;
}

/** The member block (its N) whose name is `name`. */
export function memberSlot(doc: ConfDocument, name: string): number | undefined {
  const members = doc.sections.find((s) => s.name === "members");
  for (const block of members?.children ?? []) {
    if (block.kind !== "block") continue;
    const n = /^member(\d+)$/.exec(block.name);
    const given = block.children.find((c) => c.kind === "entry" && c.key === "name");
    if (n && given?.kind === "entry" && given.value === name) return Number(n[1]);
  }
  return undefined;
}

export function readConfigText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ChangeRefused(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

export async function changeConfig(
  options: ChangeOptions,
  edit: (doc: ConfDocument) => ConfDocument,
): Promise<ChangeResult> {
  const lock = await LocalLock.acquire(options.configPath);
  try {
    const fileDoc = parseDocument(readConfigText(options.configPath));
    const primary = getEntry(fileDoc, ["quorum"], "primary");
    const backup = getEntry(fileDoc, ["quorum"], "backup");
    if (primary === undefined || backup === undefined) {
      throw new ChangeRefused(
        `${options.configPath} names no quorum partitions ([quorum] primary and backup)`,
      );
    }
    const memberName = options.member ?? hostname();
    const me = memberSlot(fileDoc, memberName);
    if (me === undefined) {
      throw new ChangeRefused(
        `this host is not a member named "${memberName}" in ${options.configPath}; say which member it is with --member NAME`,
      );
    }
    const pair = await QuorumPair.open(primary, backup, {
      write: true,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    try {
      return await withDiskLock(pair, me, async () => {
        const stored = (await pair.readConfig()).config;
        const base = stored.view > 0 ? parseDocument(stored.text) : fileDoc;
        const next = edit(base);
        const checked = validateDocument(next, {
          maxMembers: pair.layout.maxMembers,
          maxServices: pair.layout.maxServices,
        });
        if (!checked.ok)
          throw new ChangeRefused(
            "the change would leave the configuration invalid; nothing was written",
            checked.errors,
          );
        const text = serialise(next);
        const view = stored.view + 1;
        await pair.writeConfig({ view, text });
        writeFileAtomic(options.configPath, text);
        return { view, text };
      });
    } finally {
      pair.close();
    }
  } finally {
    lock.release();
  }
}
