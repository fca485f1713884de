// Properties of the pair under any history: writes by several writers across restarts (each a new
// process, each new life restarting its heartbeat count), then one copy rolled back to an earlier
// image, or losing writes, or rotting. Verify and repair must then give the newest state of every
// block, or say plainly which block could not be decided. On files on ext4, with fast-check.
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Decoded } from "../../src/disk/block.js";
import type { Copy } from "../../src/disk/errors.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { slotOffset } from "../../src/disk/layout.js";
import { QuorumPair } from "../../src/disk/pair.js";
import {
  decodeService,
  emptyService,
  NO_OWNER,
  type ServiceRecord,
  ServiceState,
} from "../../src/disk/service-block.js";
import { decodeStatus, emptyStatus, MemberState, type MemberStatus } from "../../src/disk/status-block.js";
import { repairPair, verifyPair } from "../../src/disk/verify.js";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
const MEMBERS = 3;
const SERVICES = 2;
const BLOCK = 512;
/** Each history is real I/O: enough runs to find an ordering bug, few enough to stay quick. */
const RUNS = Number(process.env.CLUMANAGER_PAIR_PROPERTY_RUNS ?? 40);

type Step =
  | { kind: "beat"; member: number }
  | { kind: "restart"; member: number }
  | { kind: "service"; member: number; service: number; state: ServiceState }
  | { kind: "snapshot" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("beat" as const), member: fc.nat(MEMBERS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), member: fc.nat(MEMBERS - 1) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("service" as const),
      member: fc.nat(MEMBERS - 1),
      service: fc.nat(SERVICES - 1),
      state: fc.constantFrom(ServiceState.Running, ServiceState.Stopped, ServiceState.Disabled),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "snapshot" as const }) },
);

/** The fault, all on one copy: a rollback to an earlier image, writes lost, blocks rotted. */
interface Fault {
  copy: Copy;
  rollbackTo: number | undefined;
  lostWrites: number[];
  rotted: number[];
}

const fault: fc.Arbitrary<Fault> = fc.record({
  copy: fc.constantFrom<Copy>("primary", "backup"),
  rollbackTo: fc.option(fc.nat(), { nil: undefined }),
  lostWrites: fc.array(fc.nat(), { maxLength: 6 }),
  rotted: fc.array(fc.nat(MEMBERS + SERVICES - 1), { maxLength: 2 }),
});

function bytesAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const out = Buffer.alloc(length);
    readSync(fd, out, 0, length, offset);
    return out;
  } finally {
    closeSync(fd);
  }
}

function putAt(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

function decoded<T>(d: Decoded<T>): T {
  if (!d.ok) throw new Error(d.problem);
  return d.value;
}

let n = 0;

async function history(steps: Step[], f: Fault, rotBoth: number[]) {
  n++;
  const paths = {
    primary: zeroFile(join(dir.path, `p${n}.img`), 1 << 20),
    backup: zeroFile(join(dir.path, `b${n}.img`), 1 << 20),
  };
  await initialisePair(paths.primary, paths.backup, {
    clusterName: "prop",
    maxMembers: MEMBERS,
    maxServices: SERVICES,
  });
  const open = (member?: number) =>
    QuorumPair.open(paths.primary, paths.backup, {
      write: true,
      ...(member !== undefined ? { member } : {}),
    });
  const processes: QuorumPair[] = [];
  for (let m = 0; m < MEMBERS; m++) processes.push(await open(m));
  const lives = Array.from({ length: MEMBERS }, () => ({ incarnation: 1, heartbeat: 0 }));
  const newestStatus = new Map<number, MemberStatus>();
  const newestService = new Map<number, ServiceRecord>();
  const snapshots: Buffer[] = [];
  const faulty = paths[f.copy];
  let writes = 0;
  const layout = processes[0]!.layout;
  const statusAt = (m: number) => slotOffset(layout, layout.regions.status.firstSlot + m);
  const serviceAt = (s: number) => slotOffset(layout, layout.regions.service.firstSlot + s);
  /** A write the faulty copy acknowledged and then lost, if this write is one of those chosen. */
  const maybeLost = async (at: number, write: () => Promise<void>) => {
    const before = bytesAt(faulty, at, BLOCK);
    await write();
    if (f.lostWrites.includes(writes++)) putAt(faulty, at, before);
  };
  try {
    for (const s of steps) {
      if (s.kind === "snapshot") snapshots.push(readFileSync(faulty));
      else if (s.kind === "restart") {
        processes[s.member]!.close();
        processes[s.member] = await open(s.member);
        lives[s.member] = { incarnation: lives[s.member]!.incarnation + 1, heartbeat: 0 };
      } else if (s.kind === "beat") {
        const life = lives[s.member]!;
        life.heartbeat++;
        const status = {
          ...emptyStatus(s.member),
          state: MemberState.Up,
          incarnation: life.incarnation,
          heartbeat: life.heartbeat,
          nodeName: `m${s.member}`,
        };
        await maybeLost(statusAt(s.member), () => processes[s.member]!.writeStatus(status));
        newestStatus.set(s.member, status);
      } else {
        const record = {
          ...emptyService(s.service),
          name: `svc${s.service}`,
          state: s.state,
          owner: s.state === ServiceState.Running ? s.member : NO_OWNER,
          ownerIncarnation: lives[s.member]!.incarnation,
        };
        await maybeLost(serviceAt(s.service), () => processes[s.member]!.writeService(record));
        newestService.set(s.service, record);
      }
    }
  } finally {
    for (const p of processes) p.close();
  }
  if (f.rollbackTo !== undefined && snapshots.length > 0)
    writeFileSync(faulty, snapshots[f.rollbackTo % snapshots.length]!);
  const offsetOf = (b: number) => (b < MEMBERS ? statusAt(b) : serviceAt(b - MEMBERS));
  for (const b of f.rotted) putAt(faulty, offsetOf(b) + 60, Buffer.from("rot"));
  for (const b of rotBoth)
    for (const path of [paths.primary, paths.backup]) putAt(path, offsetOf(b) + 90, Buffer.from(path));

  const tool = await open();
  try {
    const repair = await repairPair(tool);
    const undecided = repair.after.damage.map((d) => `${d.region} ${d.index}`);
    const expected = [...new Set(rotBoth)].map((b) =>
      b < MEMBERS ? `status ${b}` : `service ${b - MEMBERS}`,
    );
    expect(undecided.sort()).toEqual(expected.sort());
    // Every other block holds its newest version, the same on both copies.
    for (let m = 0; m < MEMBERS; m++) {
      if (rotBoth.includes(m)) continue;
      expect(bytesAt(paths.primary, statusAt(m), BLOCK)).toEqual(bytesAt(paths.backup, statusAt(m), BLOCK));
      const block = (await tool.readBlocks("status", m, 1)).records[0]!;
      expect(decoded(decodeStatus(block.payload))).toMatchObject(
        newestStatus.get(m) ?? { state: MemberState.None },
      );
    }
    for (let s = 0; s < SERVICES; s++) {
      if (rotBoth.includes(MEMBERS + s)) continue;
      expect(bytesAt(paths.primary, serviceAt(s), BLOCK)).toEqual(bytesAt(paths.backup, serviceAt(s), BLOCK));
      const block = (await tool.readBlocks("service", s, 1)).records[0]!;
      expect(decoded(decodeService(block.payload))).toMatchObject(
        newestService.get(s) ?? { state: ServiceState.Unused },
      );
    }
    expect((await verifyPair(tool)).damage.length).toBe(expected.length);
  } finally {
    tool.close();
  }
}

describe("the pair under any history and any one-copy fault", () => {
  it("repairs to the newest version of every block", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), fault, (steps, f) =>
        history(steps, f, []),
      ),
      { numRuns: RUNS },
    );
  }, 120_000);

  it("names the blocks bad on both copies, and repairs every other one to its newest version", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 20 }),
        fault,
        fc.array(fc.nat(MEMBERS + SERVICES - 1), { minLength: 1, maxLength: 2 }),
        (steps, f, rotBoth) => history(steps, f, rotBoth),
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  }, 120_000);
});
