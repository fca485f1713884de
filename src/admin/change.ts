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

/** What a step under the locks sees: the pair, the configuration in use (the file's, before the
 * first change) and its view (0 before the first change). */
interface Locked {
  pair: QuorumPair;
  base: ConfDocument;
  view: number;
}

/**
 * Runs `work` under this machine's lock and the cluster's disk lock, as this host's member, with
 * the configuration in use read from the partitions.
 */
async function underLocks<T>(options: ChangeOptions, work: (locked: Locked) => Promise<T>): Promise<T> {
  const lock = await LocalLock.acquire(options.configPath);
  try {
    const fileDoc = parseDocument(readConfigText(options.configPath));
    const memberName = options.member ?? hostname();
    const me = memberSlot(fileDoc, memberName);
    if (me === undefined) {
      throw new ChangeRefused(
        `this host is not a member named "${memberName}" in ${options.configPath}; say which member it is with --member NAME`,
      );
    }
    // This member's own paths to the shared disk, if it has them, else [quorum].
    const own = (["primary", "backup"] as const).map((k) => getEntry(fileDoc, ["members", `member${me}`], k));
    const primary = own[0] ?? getEntry(fileDoc, ["quorum"], "primary");
    const backup = own[1] ?? getEntry(fileDoc, ["quorum"], "backup");
    if (primary === undefined || backup === undefined) {
      throw new ChangeRefused(
        `${options.configPath} names no quorum partitions ([quorum] primary and backup)`,
      );
    }
    const pair = await QuorumPair.open(primary, backup, {
      write: true,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    try {
      // The life the slot names is the member's current one: if that life is fenced (this machine
      // powered off), the slot is free; a daemon starting here later takes the next life, which
      // frees it too. Neither can happen while this process holds the lock and runs.
      const mine = (await pair.readStatusRegion()).records[me];
      const incarnation = mine?.incarnation ?? 0;
      return await withDiskLock(
        pair,
        me,
        async () => {
          const stored = (await pair.readConfig()).config;
          const base = stored.view > 0 ? parseDocument(stored.text) : fileDoc;
          // The lock slot came from the local file: it must be this member's slot in the shared copy
          // too, or two members could share one slot and the lock would not keep them apart.
          if (stored.view > 0 && memberSlot(base, memberName) !== me) {
            throw new ChangeRefused(
              `"${memberName}" is member${me} in ${options.configPath} but not in the configuration on the quorum partitions ` +
                `(view ${stored.view}); bring the file up to date with: cluadmin -- cluster saveas ${options.configPath}`,
            );
          }
          return work({ pair, base, view: stored.view });
        },
        { incarnation, tool: true },
      );
    } finally {
      pair.close();
    }
  } finally {
    lock.release();
  }
}

export async function changeConfig(
  options: ChangeOptions,
  edit: (doc: ConfDocument) => ConfDocument,
): Promise<ChangeResult> {
  return underLocks(options, async ({ pair, base, view: current }) => {
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
    const view = current + 1;
    // The lock keeps other members out; this second look costs a read and would catch a member
    // that broke the lock's rules (or a lock slot taken over while still in use).
    const again = (await pair.readConfig()).config.view;
    if (again !== current) {
      throw new ChangeRefused(
        `the configuration changed meanwhile (view ${again}, not ${current}); nothing was written, try again`,
      );
    }
    await pair.writeConfig({ view, text });
    try {
      writeFileAtomic(options.configPath, text);
    } catch (err) {
      throw new ChangeRefused(
        `the change is stored on the quorum partitions as view ${view}, but ${options.configPath} could not be rewritten ` +
          `(${(err as Error).message}); every member uses the partitions' copy, and the next change rewrites the file`,
      );
    }
    return { view, text };
  });
}

/** "cluster backup": keeps a copy of the configuration in use on the partitions. Returns the
 * backup's number (it grows with each backup) and the view it copied. */
export async function backupConfig(options: ChangeOptions): Promise<{ backup: number; view: number }> {
  return underLocks(options, async ({ pair, base, view }) => {
    const previous = (await pair.readConfig("savedConfig")).config.view;
    await pair.writeConfig({ view: previous + 1, text: serialise(base) }, "savedConfig");
    return { backup: previous + 1, view };
  });
}

/** "cluster restore": makes the saved copy the configuration again, as a change like any other. */
export async function restoreConfig(options: ChangeOptions): Promise<ChangeResult> {
  const saved = await underLocks(options, async ({ pair }) => (await pair.readConfig("savedConfig")).config);
  if (saved.view === 0)
    throw new ChangeRefused(
      "there is no saved configuration on the quorum partitions; make one with: cluster backup",
    );
  const restored = parseDocument(saved.text);
  return changeConfig(options, () => restored);
}

/** The configuration in use: the copy on the quorum partitions when they can be read and hold
 * one, else the file (before the first change, or without access to the shared disk). */
export async function currentConfigText(
  configPath: string,
  member?: string,
): Promise<{ text: string; source: "partitions" | "file"; view?: number }> {
  const fileText = readConfigText(configPath);
  const doc = parseDocument(fileText);
  // The member's own paths to the shared disk, if it has them, else [quorum].
  const me = memberSlot(doc, member ?? hostname());
  const own = (["primary", "backup"] as const).map((k) =>
    me === undefined ? undefined : getEntry(doc, ["members", `member${me}`], k),
  );
  const primary = own[0] ?? getEntry(doc, ["quorum"], "primary");
  const backup = own[1] ?? getEntry(doc, ["quorum"], "backup");
  if (primary === undefined || backup === undefined) return { text: fileText, source: "file" };
  let pair: QuorumPair;
  try {
    pair = await QuorumPair.open(primary, backup, { write: false });
  } catch {
    return { text: fileText, source: "file" };
  }
  try {
    const stored = (await pair.readConfig()).config;
    return stored.view > 0
      ? { text: stored.text, source: "partitions", view: stored.view }
      : { text: fileText, source: "file" };
  } catch {
    return { text: fileText, source: "file" };
  } finally {
    pair.close();
  }
}
