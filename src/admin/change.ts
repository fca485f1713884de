// One change of the cluster configuration, from any member: under this machine's lock and the
// cluster's disk lock, read the configuration kept on the quorum partitions (the file, before the
// first change), apply the edit, validate it against the partitions' layout, write the new view to
// the partitions, then rewrite /etc/cluster.conf atomically. A change that does not validate is
// refused before anything is written.
import { hostname } from "node:os";
import { join } from "node:path";
import { type ConfDocument, parseDocument, serialise } from "../config/document.js";
import { getEntry } from "../config/edit.js";
import { readClusterConf, readConfigFile } from "../config/read.js";
import { LOCAL_LOCK_WAIT_MS, LocalLock, writeFileAtomic } from "../config/store.js";
import { type ConfigError, validateDocument } from "../config/validate.js";
import { SOCKET_FILE } from "../daemon/paths.js";
import { withDiskLock } from "../disk/bakery.js";
import { QuorumPair } from "../disk/pair.js";
import { emptyService, type ServiceRecord, ServiceState } from "../disk/service-block.js";
import { SlotLock, SlotLockError } from "../disk/slot-lock.js";
import { MemberState, type MemberStatus } from "../disk/status-block.js";
import { serviceStateName } from "../services/state-names.js";
import { askDaemon } from "./daemon-client.js";

export class ChangeRefused extends Error {
  override name = "ChangeRefused";
  constructor(
    message: string,
    readonly errors: readonly ConfigError[] = [],
  ) {
    super(message);
  }
}

/** How long cluadmin waits for its daemon to make a change: longer than the daemon waits for the
 * disk lock (CONFIG_WORK_DEADLINE_MS, 30 s) plus the writes, shorter than the admin socket's idle
 * limit (60 s), so an answer that does not come means the change was not made. */
export const DAEMON_CHANGE_WAIT_MS = 45_000;

export interface ChangeOptions {
  configPath: string;
  /** The run directory of this member's daemon, through which a change goes while it runs. */
  runDir?: string;
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
    return readConfigFile(path);
  } catch (err) {
    throw new ChangeRefused((err as Error).message);
  }
}

/** What a change works on: the pair, this member, the file's document, and how the change is
 * written (by this process under the disk lock, or by the member's daemon). */
interface Opened {
  pair: QuorumPair;
  me: number;
  memberName: string;
  fileDoc: ConfDocument;
  /** The socket of this member's daemon, which holds its slot and writes the change; without
   * it, this process holds the slot and writes. */
  socket?: string;
}

/**
 * Runs `work` under this machine's lock on the file, with the member's slot of the disk lock
 * settled: a daemon of this member running here holds that slot for its whole life, so the change
 * goes through it (its socket in `runDir`); with none, this process takes the slot itself, which
 * is safe only for a life that is over cleanly (DOWN) or never began.
 */
async function opened<T>(options: ChangeOptions, work: (o: Opened) => Promise<T>): Promise<T> {
  // A file that is not there is said as such, before its lock file (beside it) is looked for.
  readClusterConf(options.configPath);
  const lock = await LocalLock.acquire(options.configPath);
  try {
    const fileDoc = parseDocument(readClusterConf(options.configPath));
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
      return await withSlot(options, pair, me, (writer) =>
        work({ pair, me, memberName, fileDoc, ...writer }),
      );
    } finally {
      pair.close();
    }
  } finally {
    lock.release();
  }
}

async function withSlot<T>(
  options: ChangeOptions,
  pair: QuorumPair,
  me: number,
  work: (writer: { socket?: string }) => Promise<T>,
): Promise<T> {
  const refused = (err: unknown) => new ChangeRefused(err instanceof Error ? err.message : String(err));
  let slot = await SlotLock.acquire(pair.clusterUuid, me, 0).catch((err: unknown) => {
    if (err instanceof SlotLockError) return undefined;
    throw refused(err);
  });
  if (slot === undefined && options.runDir !== undefined) {
    // Held: by this member's daemon (for its life), or by another cluadmin for a moment.
    const socket = join(options.runDir, SOCKET_FILE);
    const answer = await askDaemon(socket, { command: "status" }).catch(() => undefined);
    if (answer?.ok === true) {
      // Only this cluster's daemon of this member may make the change (a lab has several).
      const s = answer.status as { cluster?: string; answeredBy?: { id?: number } };
      if (s.cluster !== pair.header.clusterName || s.answeredBy?.id !== me)
        throw new ChangeRefused(
          `the daemon answering in ${options.runDir} is member ${s.answeredBy?.id ?? "?"} of cluster "${s.cluster ?? "?"}", not member ${me} of "${pair.header.clusterName}"; pass this member's --run-dir`,
        );
      return work({ socket });
    }
  }
  slot ??= await SlotLock.acquire(pair.clusterUuid, me, LOCAL_LOCK_WAIT_MS).catch((err: unknown) => {
    throw refused(err);
  });
  try {
    const mine = (await pair.readStatusRegion()).records[me];
    if (mine?.state === MemberState.Up)
      // Not running here (this process holds the slot), yet UP: a crash or a kill, a life that
      // may be fenced at any moment, and peers would then pass its slot while this one holds it.
      throw new ChangeRefused(
        `member${me} is UP on the quorum partitions (incarnation ${mine.incarnation}) but no clumanager runs it on this machine` +
          `${options.runDir !== undefined ? ` (none answers in ${options.runDir})` : ""}: start clumanager here, or make the change on another member`,
      );
    return await work({});
  } finally {
    slot.release();
  }
}

/** Reads what a change applies to: the configuration in use (the file's before the first change)
 * and its view, and the partitions' service and status blocks. */
async function readBase(o: Opened, configPath: string): Promise<{ base: ConfDocument; disk: DiskFacts }> {
  const stored = (await o.pair.readConfig()).config;
  const base = stored.view > 0 ? parseDocument(stored.text) : o.fileDoc;
  // The lock slot came from the local file: it must be this member's slot in the shared copy
  // too, or two members could share one slot and the lock would not keep them apart.
  if (stored.view > 0 && memberSlot(base, o.memberName) !== o.me) {
    throw new ChangeRefused(
      `"${o.memberName}" is member${o.me} in ${configPath} but not in the configuration on the quorum partitions ` +
        `(view ${stored.view}); bring the file up to date with: cluadmin -- cluster saveas ${configPath}`,
    );
  }
  return {
    base,
    disk: {
      view: stored.view,
      services: (await o.pair.readServices()).records,
      statuses: (await o.pair.readStatusRegion()).records,
    },
  };
}

/** The change as written: the view it was made on and its text, and the new text. */
export interface ChangeToCommit {
  baseView: number;
  baseText: string;
  text: string;
}

/**
 * Writes a change, holding the disk lock (as cluadmin or as the member's daemon): the view must
 * still be the one it was made on; it is validated again, its service slots checked on the
 * blocks as they are now, and the new view written.
 */
export async function commitChange(pair: QuorumPair, change: ChangeToCommit): Promise<ChangeResult> {
  const stored = (await pair.readConfig()).config;
  if (stored.view !== change.baseView || (stored.view > 0 && stored.text !== change.baseText))
    throw new ChangeRefused(
      `the configuration changed meanwhile (view ${stored.view}, not ${change.baseView}); nothing was written, try again`,
    );
  const next = parseDocument(change.text);
  const checked = validateDocument(next, {
    maxMembers: pair.layout.maxMembers,
    maxServices: pair.layout.maxServices,
  });
  if (!checked.ok)
    throw new ChangeRefused(
      "the change would leave the configuration invalid; nothing was written",
      checked.errors,
    );
  const disk: DiskFacts = {
    view: stored.view,
    services: (await pair.readServices()).records,
    statuses: (await pair.readStatusRegion()).records,
  };
  const reset = checkSlots(parseDocument(change.baseText), next, disk);
  // A slot taken for a new service starts from an empty block: nothing of the old one stays.
  for (const n of reset) await pair.writeService(emptyService(n));
  const view = await pair.nextConfigView();
  await pair.writeConfig({ view, text: change.text });
  return { view, text: change.text };
}

/** What the partitions say under the lock, for an edit that depends on it. */
export interface DiskFacts {
  view: number;
  services: readonly ServiceRecord[];
  statuses: readonly MemberStatus[];
}

/** The index N of each `serviceN` block of the configuration. */
function serviceSlots(doc: ConfDocument): Set<number> {
  const services = doc.sections.find((s) => s.name === "services");
  const slots = new Set<number>();
  for (const b of services?.children ?? []) {
    const n = b.kind === "block" ? /^service(\d+)$/.exec(b.name) : null;
    if (n) slots.add(Number(n[1]));
  }
  return slots;
}

/**
 * Whether service slot `n` may hold a new service: its block was never used, or every member
 * whose status is UP runs the current view, which no longer has the service that was there (a
 * member that is down runs the partitions' view when it starts). A member still running an
 * older view knows the old service in that slot, and would take the new one's block for it.
 */
export function slotReusable(n: number, disk: DiskFacts): boolean {
  const record = disk.services[n];
  if (record === undefined) return false;
  if (record.state === ServiceState.Unused) return true;
  return disk.statuses.every((s) => s.state !== MemberState.Up || s.configView === disk.view);
}

/** Checks what a change does to service slots; returns the slots whose blocks must be reset. */
function checkSlots(base: ConfDocument, next: ConfDocument, disk: DiskFacts): number[] {
  const before = serviceSlots(base);
  const after = serviceSlots(next);
  for (const n of before) {
    const record = disk.services[n];
    if (after.has(n) || record === undefined) continue;
    if (record.state !== ServiceState.Unused && record.state !== ServiceState.Disabled)
      throw new ChangeRefused(
        `service${n}${record.name !== "" ? ` (${record.name})` : ""} is ${serviceStateName(record.state)} on the quorum partitions; a service is deleted only once it is disabled: cluadmin -- service disable ${record.name || `service${n}`}`,
      );
  }
  const reset: number[] = [];
  for (const n of after) {
    if (before.has(n)) continue;
    if (!slotReusable(n, disk))
      throw new ChangeRefused(
        `service slot ${n} last held ${disk.services[n]?.name || "another service"}, which members still running an older configuration view know; restart them (every UP member must run view ${disk.view}) or use another slot`,
      );
    if (disk.services[n]?.state !== ServiceState.Unused) reset.push(n);
  }
  return reset;
}

export async function changeConfig(
  options: ChangeOptions,
  edit: (doc: ConfDocument, disk: DiskFacts) => ConfDocument,
): Promise<ChangeResult> {
  return opened(options, async (o) => {
    const make = async (): Promise<ChangeToCommit> => {
      const { base, disk } = await readBase(o, options.configPath);
      const next = edit(base, disk);
      const checked = validateDocument(next, {
        maxMembers: o.pair.layout.maxMembers,
        maxServices: o.pair.layout.maxServices,
      });
      if (!checked.ok)
        throw new ChangeRefused(
          "the change would leave the configuration invalid; nothing was written",
          checked.errors,
        );
      return { baseView: disk.view, baseText: serialise(base), text: serialise(next) };
    };
    let result: ChangeResult;
    if (o.socket !== undefined) {
      // Made on what the partitions hold now; the daemon writes it only if that is still so.
      const change = await make();
      const answer = await askDaemon(
        o.socket,
        { command: "config-change", ...change },
        DAEMON_CHANGE_WAIT_MS,
      );
      if (!answer.ok) throw new ChangeRefused(answer.error);
      result = { view: (answer.status as { view: number }).view, text: change.text };
    } else {
      result = await withDiskLock(o.pair, o.me, async () => commitChange(o.pair, await make()), {
        incarnation: (await o.pair.readStatusRegion()).records[o.me]?.incarnation ?? 0,
        tool: true,
      });
    }
    try {
      writeFileAtomic(options.configPath, result.text);
    } catch (err) {
      throw new ChangeRefused(
        `the change is stored on the quorum partitions as view ${result.view}, but ${options.configPath} could not be rewritten ` +
          `(${(err as Error).message}); every member uses the partitions' copy, and the next change rewrites the file`,
      );
    }
    return result;
  });
}

/** Copies the configuration in use into the saved region, holding the disk lock. */
export async function commitBackup(
  pair: QuorumPair,
  text: string,
  view: number,
): Promise<{ backup: number; view: number }> {
  const backup = await pair.nextConfigView("savedConfig");
  await pair.writeConfig({ view: backup, text }, "savedConfig");
  return { backup, view };
}

/** "cluster backup": keeps a copy of the configuration in use on the partitions. Returns the
 * backup's number (it grows with each backup) and the view it copied. */
export async function backupConfig(options: ChangeOptions): Promise<{ backup: number; view: number }> {
  return opened(options, async (o) => {
    const { base, disk } = await readBase(o, options.configPath);
    const text = serialise(base);
    if (o.socket !== undefined) {
      const answer = await askDaemon(
        o.socket,
        { command: "config-backup", text, view: disk.view },
        DAEMON_CHANGE_WAIT_MS,
      );
      if (!answer.ok) throw new ChangeRefused(answer.error);
      return answer.status as { backup: number; view: number };
    }
    return withDiskLock(o.pair, o.me, () => commitBackup(o.pair, text, disk.view), {
      incarnation: (await o.pair.readStatusRegion()).records[o.me]?.incarnation ?? 0,
      tool: true,
    });
  });
}

/** "cluster restore": makes the saved copy the configuration again, as a change like any other. */
export async function restoreConfig(options: ChangeOptions): Promise<ChangeResult> {
  const saved = await opened(options, async ({ pair }) => (await pair.readConfig("savedConfig")).config);
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
  const fileText = readClusterConf(configPath);
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
