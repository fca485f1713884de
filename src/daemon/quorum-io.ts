// A member's I/O on the quorum partitions, in the shapes the core observes: one heartbeat (my
// status block written to both copies, everyone's status and my mailbox read), the fenced notices
// found under the fencing lock, and the notice written after a confirmed fence.
import { type ChangeResult, type ChangeToCommit, commitBackup, commitChange } from "../admin/change.js";
import { type LockGrant, LockTimeoutError, withDiskLock } from "../disk/bakery.js";
import type { Block } from "../disk/block.js";
import type { StoredConfig } from "../disk/config-region.js";
import { BothCopiesBadError, DiskWriteError, type Repair } from "../disk/errors.js";
import { decodeMail, emptyMail, type Mail, MailKind } from "../disk/mailbox-block.js";
import type { QuorumPair } from "../disk/pair.js";
import type { ServiceRecord } from "../disk/service-block.js";
import type { MemberState, MemberStatus } from "../disk/status-block.js";

export interface BeatOutcome {
  /** Both copies took my status block (within the device deadline, which is io_timeout). */
  written: boolean;
  /** Everyone's status and my mail, unless the reads failed. */
  statuses?: MemberStatus[];
  mail?: Mail[];
  repairs: Repair[];
  /** What went wrong, when something did. */
  error?: string;
}

/** What a member's core tells the disk lock about its peers. */
export interface LockKnowledgeOfCore {
  isFenced: (member: number, incarnation: number) => boolean;
  condemned?: (member: number, incarnation: number) => boolean;
}

/** The fenced notices on the partitions, and the mailbox blocks bad on both copies (whose
 * notices, if any, are not known: the member they were for may be power-cycled again). */
export interface FencedNotices {
  notices: { member: number; incarnation: number }[];
  unreadable: number[];
}

/** Bounds the block-by-block read of a damaged mailbox region (128 members squared). */
const MAX_MAILBOX_BLOCKS = 128 * 128;

export class QuorumIo {
  constructor(
    private readonly pair: QuorumPair,
    readonly me: number,
    private readonly nodeName: string,
    /** The configuration view this life runs, carried in every status block it writes. */
    readonly configView: number,
  ) {}

  status(state: MemberState, incarnation: number, heartbeat: number): MemberStatus {
    return {
      member: this.me,
      state,
      incarnation,
      heartbeat,
      wallClockMs: Date.now(),
      nodeName: this.nodeName,
      services: [],
      configView: this.configView,
    };
  }

  /** The statuses as they are now, for joining (my last incarnation) and for status without a daemon. */
  async readStatuses(): Promise<{ statuses: MemberStatus[]; repairs: Repair[] }> {
    const r = await this.pair.readStatusRegion();
    return { statuses: r.records, repairs: r.repairs };
  }

  /** Writes my status to both copies; used to join and to leave cleanly. */
  async writeStatus(status: MemberStatus): Promise<void> {
    await this.pair.writeStatus(status);
  }

  /**
   * One heartbeat. A failed write is what makes a member stop; a failed read is not (another
   * member's unreadable block is its owner's to repair), so the two are told apart.
   */
  async beat(status: MemberStatus): Promise<BeatOutcome> {
    try {
      const r = await this.pair.heartbeat(status);
      return { written: true, statuses: r.statuses, mail: r.mail, repairs: r.repairs };
    } catch (err) {
      const repairs = (err as { repairs?: Repair[] }).repairs ?? [];
      const error = err instanceof Error ? err.message : String(err);
      if (err instanceof DiskWriteError) return { written: false, repairs, error };
      // The write landed but a read failed. Read the two regions apart, so one bad mailbox block
      // (a block another member owns, bad in both copies) does not hide everyone's status.
      const [statuses, mail] = await Promise.allSettled([
        this.pair.readStatusRegion(),
        this.pair.readMailboxRow(this.me),
      ]);
      return {
        written: true,
        ...(statuses.status === "fulfilled" ? { statuses: statuses.value.records } : {}),
        ...(mail.status === "fulfilled" ? { mail: mail.value.records } : {}),
        repairs,
        error,
      };
    }
  }

  /** Every fenced notice on the disk, as (member, incarnation): read under the fencing lock. */
  async fencedNotices(): Promise<FencedNotices> {
    let blocks: Block[];
    const unreadable: number[] = [];
    try {
      blocks = (await this.pair.readBlocks("mailbox")).records;
    } catch (err) {
      if (!(err instanceof BothCopiesBadError)) throw err;
      // One block bad on both copies must not hide every other notice (nor fail every fencing
      // lock, over and over): read them one by one and name the ones that cannot be read.
      blocks = [];
      const count = this.pair.layout.regions.mailbox.slots;
      for (let i = 0; i < count && i < MAX_MAILBOX_BLOCKS; i++) {
        try {
          blocks.push(...(await this.pair.readBlocks("mailbox", i, 1)).records);
        } catch (one) {
          if (!(one instanceof BothCopiesBadError)) throw one;
          unreadable.push(i);
        }
      }
    }
    const notices: { member: number; incarnation: number }[] = [];
    for (const block of blocks) {
      const d = decodeMail(block.payload);
      if (d.ok && d.value.kind === MailKind.Fenced)
        notices.push({ member: d.value.to, incarnation: d.value.incarnation });
    }
    return { notices, unreadable };
  }

  /** Tells `to` that it was fenced in `incarnation`: if it was only stalled, it stops on reading this. */
  async writeFencedNotice(to: number, incarnation: number): Promise<void> {
    const row = await this.pair.readMailboxRow(to);
    const previous = row.records.find((m) => m.from === this.me)?.sequence ?? 0;
    const mail: Mail = {
      ...emptyMail(to, this.me),
      kind: MailKind.Fenced,
      sequence: previous + 1,
      incarnation,
      wallClockMs: Date.now(),
    };
    await this.pair.writeMail(mail);
  }

  /**
   * Holds the disk lock from `onGranted` until `released` settles; `signal` gives up waiting.
   * `knows` is what this member's core knows of its peers: the fences it confirmed, and (for the
   * fencing lock only) the hung lives it is about to fence.
   */
  async holdLock(
    incarnation: number,
    knows: LockKnowledgeOfCore,
    onGranted: (grant: LockGrant) => Promise<void>,
    released: Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    // This member's slot on this machine is the daemon's for its whole life (join took it), so
    // no cluadmin uses it meanwhile; the daemon's own uses take turns on its lock chain.
    if (signal.aborted) throw new LockTimeoutError("stopped waiting for the disk lock: asked to give up");
    await withDiskLock(
      this.pair,
      this.me,
      async (grant) => {
        await onGranted(grant);
        await released;
      },
      { incarnation, signal, ...knows },
    );
  }

  /** cluadmin's change, handed to this daemon: call holding the disk lock. */
  commitChange(change: ChangeToCommit): Promise<ChangeResult> {
    return commitChange(this.pair, change);
  }

  /** cluadmin's "cluster backup", handed to this daemon: call holding the disk lock. */
  commitBackup(text: string, view: number): Promise<{ backup: number; view: number }> {
    return commitBackup(this.pair, text, view);
  }

  async readServices(): Promise<{ records: ServiceRecord[]; repairs: Repair[] }> {
    return this.pair.readServices();
  }

  async writeService(record: ServiceRecord): Promise<void> {
    await this.pair.writeService(record);
  }

  /** The configuration in use on the partitions (view 0: none stored yet). */
  async readConfig(): Promise<StoredConfig> {
    return (await this.pair.readConfig()).config;
  }

  /** Transfers to both partitions since this member opened them. */
  get transfers(): { reads: number; writes: number } {
    const { primary, backup } = this.pair;
    return {
      reads: primary.transfers.reads + backup.transfers.reads,
      writes: primary.transfers.writes + backup.transfers.writes,
    };
  }

  close(): void {
    this.pair.close();
  }
}
