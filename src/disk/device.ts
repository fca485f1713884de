// One quorum partition opened for direct I/O, with a deadline on every transfer.
//
// A transfer that misses its deadline is reported as failed at once (a hung disk must not hang
// the member's judgement), but the system call may still be stuck in the kernel, holding a
// thread-pool thread. So a device refuses new transfers while MAX_STUCK_TRANSFERS are
// outstanding, rather than queueing more work behind a dead disk.
import { DiskBusyError, DiskError, DiskIoError, DiskTimeoutError } from "./errors.js";
import { type Geometry, type RawHandle, rawio } from "./rawio.js";

/** Default deadline for one transfer; the daemon passes the configured io_timeout. */
export const DEFAULT_IO_TIMEOUT_MS = 10_000;
/** Outstanding transfers per device, counting ones whose deadline passed but which never returned. */
export const MAX_STUCK_TRANSFERS = 8;
/** The addon's limit on one transfer (64 MiB). */
export const MAX_TRANSFER_BYTES: number = rawio.MAX_TRANSFER;

export interface OpenOptions {
  write: boolean;
  timeoutMs?: number;
}

interface NodeStyleError {
  code?: unknown;
  message?: unknown;
}

function toDiskError(err: unknown, path: string, operation: DiskIoError["operation"]): DiskError {
  if (err instanceof DiskError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as NodeStyleError;
  const code = typeof e.code === "string" ? e.code : "EIO";
  const message = typeof e.message === "string" ? e.message : String(err);
  return new DiskIoError(message, code, path, operation);
}

export class DirectDevice {
  private outstanding = 0;
  /** Writes not yet returned by the kernel, deadline passed or not: [start, end) byte ranges. */
  private readonly writesInFlight = new Set<{ start: number; end: number }>();
  private closed = false;

  private constructor(
    readonly path: string,
    readonly writable: boolean,
    readonly timeoutMs: number,
    private readonly handle: RawHandle,
    readonly geometry: Geometry,
  ) {}

  static async open(path: string, options: OpenOptions): Promise<DirectDevice> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_IO_TIMEOUT_MS;
    let handle: RawHandle;
    let gaveUp = false;
    const opening = rawio.open(path, options.write);
    // An open that returns after we gave up must still release its descriptor.
    opening.then(
      (late) => {
        if (gaveUp) rawio.close(late);
      },
      () => {},
    );
    try {
      handle = await withDeadline(opening, timeoutMs, () => {
        gaveUp = true;
        return new DiskTimeoutError(
          `opening ${path} did not finish within ${timeoutMs} ms; check that the device is reachable`,
          path,
          "open",
          timeoutMs,
        );
      });
    } catch (err) {
      throw toDiskError(err, path, "open");
    }
    let geometry: Geometry;
    try {
      geometry = rawio.geometry(handle);
    } catch (err) {
      rawio.close(handle);
      throw toDiskError(err, path, "geometry");
    }
    return new DirectDevice(path, options.write, timeoutMs, handle, geometry);
  }

  /** The unit of every transfer: offsets and lengths must be multiples of it. */
  get sectorSize(): number {
    return this.geometry.logicalSectorSize;
  }

  /** Asks the device again (the cached `geometry` is from open time). */
  currentGeometry(): Geometry {
    try {
      return rawio.geometry(this.handle);
    } catch (err) {
      throw toDiskError(err, this.path, "geometry");
    }
  }

  /** Transfers handed to the kernel since open, for the daemon's counters and the benchmark. */
  readonly transfers = { reads: 0, writes: 0 };

  read(offset: number, length: number): Promise<Buffer> {
    return this.transfer("read", offset, length, () => rawio.pread(this.handle, offset, length));
  }

  /**
   * Writes `data` at `offset`. Refused while an earlier write to an overlapping range has not
   * returned: if that earlier write is stuck and lands late, it must not overtake this one and
   * leave the older version on disk.
   */
  async write(offset: number, data: Buffer): Promise<void> {
    const range = { start: offset, end: offset + data.length };
    for (const other of this.writesInFlight) {
      if (other.start < range.end && range.start < other.end) {
        throw new DiskBusyError(
          `an earlier write to bytes ${other.start}-${other.end - 1} of ${this.path} has not returned; ` +
            "a new write there could be overtaken by it, so it is refused",
          this.path,
        );
      }
    }
    this.writesInFlight.add(range);
    const pending = this.transfer(
      "write",
      offset,
      data.length,
      () => rawio.pwrite(this.handle, offset, data),
      () => this.writesInFlight.delete(range),
    );
    return pending;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    rawio.close(this.handle);
  }

  private async transfer<T>(
    operation: "read" | "write",
    offset: number,
    length: number,
    start: () => Promise<T>,
    /** Runs when the kernel returns the transfer, however long after its deadline that is. */
    onReturn: () => void = () => {},
  ): Promise<T> {
    if (this.outstanding >= MAX_STUCK_TRANSFERS) {
      onReturn();
      throw new DiskBusyError(
        `${this.path} has ${this.outstanding} transfers that never returned; the device looks hung, so no more are queued`,
        this.path,
      );
    }
    let pending: Promise<T>;
    try {
      pending = start();
    } catch (err) {
      // The addon refuses bad arguments (alignment, closed handle) synchronously.
      onReturn();
      throw toDiskError(err, this.path, operation);
    }
    this.outstanding++;
    this.transfers[operation === "read" ? "reads" : "writes"]++;
    const settled = pending.finally(() => {
      this.outstanding--;
      onReturn();
    });
    try {
      return await withDeadline(settled, this.timeoutMs, () => {
        return new DiskTimeoutError(
          `${operation} of ${length} bytes at offset ${offset} on ${this.path} did not finish within ${this.timeoutMs} ms`,
          this.path,
          operation,
          this.timeoutMs,
        );
      });
    } catch (err) {
      throw toDiskError(err, this.path, operation);
    }
  }
}

/** Settles with `work`, or rejects with `onTimeout()` if `work` takes longer than `ms`. */
function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
