// Typed errors for everything that can go wrong with a quorum partition. Each message is one
// sentence that names the device, region or block and says what to do.

export type Copy = "primary" | "backup";

/** A damaged copy of a block found by a read, and whether it was rewritten from the good one. */
export interface Repair {
  region: string;
  index: number;
  slot: number;
  /** The copy that was (or needed to be) rewritten from the other. */
  repaired: Copy;
  /** What was wrong with it. */
  problem: string;
  /** Generation of the good copy. */
  generation: number;
  /** False when it was left alone (see `deferred`) or the rewrite failed (see `error`). */
  done: boolean;
  /** Why it was left alone: the pair is read-only, or another member owns the block. */
  deferred?: string;
  error?: string;
}

/** Base class, so callers can catch every disk problem with one instanceof. */
export class DiskError extends Error {
  override name = "DiskError";
  /** Repairs the failed operation made (or found) before it failed: they are reported too. */
  repairs: Repair[] = [];
}

/** A system call on a device failed. `code` is the errno name (EIO, EPERM, EROFS, ...). */
export class DiskIoError extends DiskError {
  override name = "DiskIoError";
  constructor(
    message: string,
    readonly code: string,
    readonly path: string,
    readonly operation: "open" | "read" | "write" | "geometry",
  ) {
    super(message);
  }
}

/** A transfer did not finish within its deadline; it may still be stuck in the kernel. */
export class DiskTimeoutError extends DiskError {
  override name = "DiskTimeoutError";
  readonly code = "ETIMEDOUT";
  constructor(
    message: string,
    readonly path: string,
    readonly operation: "open" | "read" | "write",
    readonly timeoutMs: number,
  ) {
    super(message);
  }
}

/** Too many transfers are stuck on one device; no more are queued behind them. */
export class DiskBusyError extends DiskError {
  override name = "DiskBusyError";
  readonly code = "EBUSY";
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** The partition is not usable as laid out: foreign, uninitialised, too small, or mismatched. */
export class PartitionError extends DiskError {
  override name = "PartitionError";
  constructor(
    message: string,
    readonly reason:
      | "not-initialised"
      | "foreign"
      | "too-small"
      | "sector-size-changed"
      | "mismatch"
      | "same-device"
      | "bad-header"
      | "not-empty"
      | "invalid-option"
      | "old-format"
      | "in-use",
  ) {
    super(message);
  }
}

export interface BadBlock {
  region: string;
  /** Index of the block within its region. */
  index: number;
  /** Absolute block (slot) number within the partition. */
  slot: number;
  primaryProblem: string;
  backupProblem: string;
}

/** The same block is damaged on both copies: nothing good is left to repair it from. */
export class BothCopiesBadError extends DiskError {
  override name = "BothCopiesBadError";
  constructor(
    message: string,
    readonly blocks: readonly BadBlock[],
  ) {
    super(message);
  }
}

/** A write to one copy failed; the message says which copy, and nothing after it was written. */
export class DiskWriteError extends DiskError {
  override name = "DiskWriteError";
  constructor(
    message: string,
    readonly copy: Copy,
    readonly failure: DiskError,
  ) {
    super(message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
