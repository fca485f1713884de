// What `cludiskutil -I` writes: the header, and every other block in its empty state
// (generation 0). Built one slot at a time so the largest layouts never sit in memory whole.
import { encodeBlock } from "./block.js";
import { encodeConfig } from "./config-region.js";
import { BlockType } from "./format.js";
import { encodeHeader, type PartitionHeader } from "./header-block.js";
import { type Layout, locateSlot } from "./layout.js";
import { emptyLock, encodeLock } from "./lock-block.js";
import { emptyMail, encodeMail } from "./mailbox-block.js";
import { emptyService, encodeService } from "./service-block.js";
import { emptyStatus, encodeStatus } from "./status-block.js";

export const HEADER_GENERATION = 1;
const EMPTY_GENERATION = 0;

function emptyPayload(layout: Layout, type: BlockType, index: number, configPayloads: Buffer[]): Buffer {
  switch (type) {
    case BlockType.Scratch:
      return Buffer.alloc(0);
    case BlockType.Status:
      return encodeStatus(emptyStatus(index));
    case BlockType.Mailbox:
      return encodeMail(emptyMail(Math.floor(index / layout.maxMembers), index % layout.maxMembers));
    case BlockType.Lock:
      return encodeLock(emptyLock(index));
    case BlockType.Service:
      return encodeService(emptyService(index));
    case BlockType.Config:
    case BlockType.SavedConfig:
      return configPayloads[index] ?? Buffer.alloc(0);
    case BlockType.Header:
      throw new Error("the header is not an empty block");
  }
}

/** Encodes the slots [first, first + count) of a freshly initialised partition. */
export function emptyImageChunk(
  header: PartitionHeader,
  clusterUuid: Buffer,
  first: number,
  count: number,
): Buffer {
  const { layout } = header;
  const out = Buffer.alloc(count * layout.slotBytes);
  const configPayloads = encodeConfig({ view: 0, text: "" }, layout);
  for (let i = 0; i < count; i++) {
    const slot = first + i;
    const { region, index } = locateSlot(layout, slot);
    const isHeader = region.type === BlockType.Header;
    const payload = isHeader
      ? encodeHeader(header)
      : emptyPayload(layout, region.type, index, configPayloads);
    encodeBlock(
      {
        type: region.type,
        slot,
        generation: isHeader ? HEADER_GENERATION : EMPTY_GENERATION,
        clusterUuid,
        payload,
      },
      layout.blockSize,
    ).copy(out, i * layout.slotBytes);
  }
  return out;
}
