// `cludiskutil -p`: the header, and one row per block in use, for both copies.
import type { Block, Decoded } from "./block.js";
import type { PartitionHeader } from "./header-block.js";
import { decodeHeader } from "./header-block.js";
import { uuidString } from "./initialise.js";
import type { Layout, RegionName } from "./layout.js";
import { decodeLock, NO_TARGET } from "./lock-block.js";
import { decodeMail, MailKind } from "./mailbox-block.js";
import type { QuorumPair } from "./pair.js";
import { type ConfigVerdict, checkConfig, scanSlots, type Verdict } from "./scan.js";
import { decodeScratch } from "./scratch-block.js";
import { decodeService, NO_OWNER, ServiceState } from "./service-block.js";
import { decodeStatus, MemberState } from "./status-block.js";
import { wallClock } from "./wall-clock.js";

export interface CopyView {
  generation?: number;
  /** What the block says, or what is wrong with it. */
  summary: string;
}

export interface BlockRow {
  region: RegionName;
  index: number;
  slot: number;
  primary: CopyView;
  backup: CopyView;
  verdict: Verdict;
}

export interface PrintReport {
  primaryPath: string;
  backupPath: string;
  header: PartitionHeader;
  clusterUuid: string;
  layout: Layout;
  rows: BlockRow[];
  /** Blocks still in their initial state on both copies, not listed in rows. */
  unusedBlocks: number;
  config: { verdict: ConfigVerdict; view?: number; bytes?: number; primary: string; backup: string };
}

function summarise(region: RegionName, block: Block): string {
  const p = block.payload;
  const fail = (d: Decoded<unknown>) => (d.ok ? "" : `unreadable contents (${d.problem})`);
  switch (region) {
    case "header": {
      const h = decodeHeader(p);
      return h.ok ? `cluster "${h.value.clusterName}"` : fail(h);
    }
    case "scratch": {
      const s = decodeScratch(p);
      return s.ok ? `access test by ${s.value.host} at ${wallClock(s.value.wallClockMs)}` : "never tested";
    }
    case "status": {
      const s = decodeStatus(p);
      if (!s.ok) return fail(s);
      const v = s.value;
      const services = v.services.length > 0 ? ` services ${v.services.join(",")}` : "";
      return `member ${v.member} "${v.nodeName}" ${MemberState[v.state]} incarnation ${v.incarnation} heartbeat ${v.heartbeat}${services}`;
    }
    case "mailbox": {
      const m = decodeMail(p);
      if (!m.ok) return fail(m);
      const v = m.value;
      return `to ${v.to} from ${v.from}: ${MailKind[v.kind]} #${v.sequence} for incarnation ${v.incarnation}`;
    }
    case "lock": {
      const l = decodeLock(p);
      if (!l.ok) return fail(l);
      const v = l.value;
      const target = v.target === NO_TARGET ? "" : ` for member ${v.target}`;
      return `member ${v.member} ticket ${v.ticket}${v.choosing ? " (choosing)" : ""}${target}`;
    }
    case "service": {
      const s = decodeService(p);
      if (!s.ok) return fail(s);
      const v = s.value;
      const owner =
        v.owner === NO_OWNER ? "no owner" : `owner ${v.owner} (incarnation ${v.ownerIncarnation})`;
      const last = v.lastOwner === NO_OWNER ? "" : `, last owner ${v.lastOwner}`;
      return `service ${v.index} "${v.name}" ${ServiceState[v.state]}, ${owner}${last}, ${v.restarts} restarts`;
    }
    case "config":
      return `configuration view ${block.generation}`;
    case "savedConfig":
      return `saved configuration, backup ${block.generation}`;
  }
}

function view(region: RegionName, d: Decoded<Block>): CopyView {
  if (!d.ok) return { summary: d.problem };
  return { generation: d.value.generation, summary: summarise(region, d.value) };
}

export async function inspectPair(pair: QuorumPair): Promise<PrintReport> {
  const rows: BlockRow[] = [];
  let unusedBlocks = 0;
  for await (const check of scanSlots(pair)) {
    const inUse =
      check.verdict !== "ok" ||
      check.region === "header" ||
      (check.primary.ok && check.primary.value.generation > 0);
    if (!inUse) {
      unusedBlocks++;
      continue;
    }
    rows.push({
      region: check.region,
      index: check.index,
      slot: check.slot,
      primary: view(check.region, check.primary),
      backup: view(check.region, check.backup),
      verdict: check.verdict,
    });
  }
  const c = await checkConfig(pair);
  const good = c.primary.ok ? c.primary.value : c.backup.ok ? c.backup.value : undefined;
  const describe = (d: typeof c.primary) =>
    d.ok ? `view ${d.value.view}, ${Buffer.byteLength(d.value.text)} bytes` : d.problem;
  return {
    primaryPath: pair.primary.path,
    backupPath: pair.backup.path,
    header: pair.header,
    clusterUuid: uuidString(pair.clusterUuid),
    layout: pair.layout,
    rows,
    unusedBlocks,
    config: {
      verdict: c.verdict,
      ...(good !== undefined ? { view: good.view, bytes: Buffer.byteLength(good.text) } : {}),
      primary: describe(c.primary),
      backup: describe(c.backup),
    },
  };
}
