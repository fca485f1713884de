// Typed access to the rawio addon (addons/rawio). Only this file knows where the
// compiled addon lives; src/ and dist/ sit at the same depth, so one relative path serves both.
import { createRequire } from "node:module";

export interface RawHandle {
  readonly __rawioHandle: unique symbol;
}

export interface Geometry {
  /** Bytes per logical sector: the unit of every transfer. */
  logicalSectorSize: number;
  physicalSectorSize: number;
  memoryAlignment: number;
  sizeBytes: number;
  isBlockDevice: boolean;
  /** Names the underlying device or file, so two paths to one disk can be told apart. */
  identity: string;
}

interface RawioAddon {
  open(path: string, write: boolean): Promise<RawHandle>;
  close(handle: RawHandle): void;
  geometry(handle: RawHandle): Geometry;
  pread(handle: RawHandle, offset: number, length: number): Promise<Buffer>;
  pwrite(handle: RawHandle, offset: number, data: Buffer): Promise<void>;
  /** Takes (true) or releases (false) an exclusive flock on a file descriptor without waiting;
   * false when another process holds it. */
  flock(fd: number, take: boolean): boolean;
  /** Sets a watchdog device's timeout in whole seconds (0: only read it) and answers the timeout
   * the driver took; throws ENOTTY for a descriptor that is not a watchdog. */
  watchdogTimeout(fd: number, seconds: number): number;
  MAX_TRANSFER: number;
}

const ADDON_PATH = new URL("../../addons/rawio/build/Release/rawio.node", import.meta.url);

function load(): RawioAddon {
  const require = createRequire(import.meta.url);
  try {
    return require(ADDON_PATH.pathname) as RawioAddon;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `the rawio addon could not be loaded from ${ADDON_PATH.pathname} (${reason}); run "npm install" to build it`,
    );
  }
}

export const rawio: RawioAddon = load();
