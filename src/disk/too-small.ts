// A partition shorter than the layout its header records: what is missing and what to do, in the
// one sentence every command that opens the pair shows.
import { PartitionError } from "./errors.js";
import type { Layout } from "./layout.js";

export function tooSmallError(path: string, sizeBytes: number, layout: Layout): PartitionError {
  const short = layout.totalBytes - sizeBytes;
  const blocks = Math.ceil(short / layout.slotBytes);
  return new PartitionError(
    `${path} is ${sizeBytes} bytes, ${short} bytes (${blocks} block${blocks === 1 ? "" : "s"}) short of the ` +
      `${layout.totalBytes}-byte layout (${layout.totalSlots} blocks) recorded in the header: it was shrunk or is ` +
      `the wrong device; grow it to at least ${layout.totalBytes} bytes, name the right device, or re-initialise ` +
      "both partitions with cludiskutil -I --force for a layout that fits",
    "too-small",
  );
}
