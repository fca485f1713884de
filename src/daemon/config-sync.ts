// Keeps this member's cluster.conf the same as the configuration in use on the quorum partitions:
// cluadmin on any member stores a change there (a new view), and every daemon rewrites its own
// local file when it sees the new view, so the file an administrator reads is the one in force.
import { readConfigFile } from "../config/read.js";
import { LocalLock, LocalLockError, writeFileAtomic } from "../config/store.js";
import type { StoredConfig } from "../disk/config-region.js";

export type SyncOutcome =
  | { kind: "unchanged"; view: number }
  | { kind: "rewritten"; view: number }
  | { kind: "failed"; view: number; error: string };

export class ConfigSync {
  private seenView = -1;

  constructor(
    private readonly path: string,
    private readonly read: () => Promise<StoredConfig>,
  ) {}

  /** The newest view looked at; -1 before the first look. */
  get view(): number {
    return this.seenView;
  }

  /** Reads the stored configuration; rewrites the file when a view it has not seen differs from it. */
  async check(): Promise<SyncOutcome> {
    const stored = await this.read();
    if (stored.view === 0 || stored.view <= this.seenView) return { kind: "unchanged", view: stored.view };
    // cluadmin on this machine may be writing the file right now: never race it; look again later.
    let lock: LocalLock;
    try {
      lock = await LocalLock.acquire(this.path, 0);
    } catch (err) {
      if (err instanceof LocalLockError) return { kind: "unchanged", view: this.seenView };
      throw err;
    }
    try {
      let current: string | undefined;
      try {
        current = readConfigFile(this.path);
      } catch {
        current = undefined;
      }
      if (current === stored.text) {
        this.seenView = stored.view;
        return { kind: "unchanged", view: stored.view };
      }
      try {
        writeFileAtomic(this.path, stored.text);
      } catch (err) {
        // Not marked seen: the next look tries again.
        return { kind: "failed", view: stored.view, error: err instanceof Error ? err.message : String(err) };
      }
      this.seenView = stored.view;
      return { kind: "rewritten", view: stored.view };
    } finally {
      lock.release();
    }
  }
}
