// What a block of each region must hold, beyond a valid envelope: a payload its decoder reads,
// with every field in range for this layout. A block that passes its checksum but fails here is
// damage like any other (the other copy is used and the bad one repaired), so no value that no
// writer of this format produces ever gets past the disk layer.
import { type Block, type Decoded, decodeBlock } from "./block.js";
import { decodeHeader } from "./header-block.js";
import type { Layout, Region, RegionName } from "./layout.js";
import { decodeLock } from "./lock-block.js";
import { decodeMail } from "./mailbox-block.js";
import { decodeScratch } from "./scratch-block.js";
import { decodeService, NO_OWNER } from "./service-block.js";
import { decodeStatus } from "./status-block.js";

/** A value the layout bounds: a member or a service. */
function within(field: string, value: number, min: number, max: number): string | undefined {
  return value >= min && value <= max ? undefined : `field ${field} holds ${value}, outside ${min} to ${max}`;
}

/** A field that repeats where the block is (a status block's member, a service block's index). */
function ownIndex(field: string, value: number, expected: number): string | undefined {
  return value === expected
    ? undefined
    : `field ${field} holds ${value}, but the block's place in its region says ${expected}`;
}

function firstProblem(...checks: (string | undefined)[]): string | undefined {
  return checks.find((c) => c !== undefined);
}

/**
 * Decodes block `index` of `region`'s payload, checked against the layout. The configuration
 * regions are one stream across their blocks and are judged as wholes elsewhere
 * (config-region.ts): their blocks pass here.
 */
export function decodeRegionPayload(
  layout: Layout,
  region: RegionName,
  index: number,
  payload: Buffer,
): Decoded<unknown> {
  const lastMember = layout.maxMembers - 1;
  const lastService = layout.maxServices - 1;
  const checked = <T>(decoded: Decoded<T>, check: (v: T) => string | undefined): Decoded<T> => {
    if (!decoded.ok) return decoded;
    const problem = check(decoded.value);
    return problem === undefined ? decoded : { ok: false, problem };
  };
  switch (region) {
    case "header":
      return decodeHeader(payload);
    case "scratch":
      // Empty until the first access test writes it.
      return payload.length === 0 ? { ok: true, value: payload } : decodeScratch(payload);
    case "status":
      return checked(decodeStatus(payload), (s) =>
        firstProblem(
          ownIndex("member", s.member, index),
          ...s.services.map((i) => within("services", i, 0, lastService)),
          s.fenced !== undefined ? within("fencedMember", s.fenced.member, 0, lastMember) : undefined,
          s.request !== undefined ? within("requestTo", s.request.to, 0, lastMember) : undefined,
          s.request !== undefined ? within("requestService", s.request.service, 0, lastService) : undefined,
          s.request !== undefined ? within("requestTarget", s.request.target, -1, lastMember) : undefined,
        ),
      );
    case "mailbox":
      return checked(decodeMail(payload), (m) =>
        firstProblem(
          ownIndex("to", m.to, Math.floor(index / layout.maxMembers)),
          ownIndex("from", m.from, index % layout.maxMembers),
        ),
      );
    case "lock":
      return checked(decodeLock(payload), (l) => ownIndex("member", l.member, index));
    case "service":
      return checked(decodeService(payload), (s) =>
        firstProblem(
          ownIndex("index", s.index, index),
          within("owner", s.owner, NO_OWNER, lastMember),
          within("lastOwner", s.lastOwner, NO_OWNER, lastMember),
          s.adminTarget >= 0 ? within("adminTarget", s.adminTarget, 0, lastMember) : undefined,
        ),
      );
    case "config":
    case "savedConfig":
      return { ok: true, value: payload };
  }
}

/** A block's envelope and then its payload, as one verdict: either failing is damage. */
export function decodeRegionBlock(
  raw: Buffer,
  layout: Layout,
  region: Region,
  slot: number,
  clusterUuid: Buffer,
): { block: Decoded<Block>; record?: unknown } {
  const block = decodeBlock(raw, { type: region.type, slot, clusterUuid });
  if (!block.ok) return { block };
  const record = decodeRegionPayload(layout, region.name, slot - region.firstSlot, block.value.payload);
  if (!record.ok) return { block: record };
  return { block, record: record.value };
}
