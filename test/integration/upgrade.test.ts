// cludiskutil --upgrade: partitions of format 3 rewritten in place, the cluster's state kept, and
// refused while the cluster runs. A format-3 partition is made from a format-4 one by rewriting
// each block's version field (the payloads of the two formats are the same).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main as cludiskutil } from "../../src/cli/cludiskutil-main.js";
import { decodeBlock, encodeBlock } from "../../src/disk/block.js";
import { PartitionError } from "../../src/disk/errors.js";
import { UPGRADABLE_FORMAT_VERSION } from "../../src/disk/format.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { type Layout, slotOffset } from "../../src/disk/layout.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { emptyService, ServiceState } from "../../src/disk/service-block.js";
import { emptyStatus, MemberState } from "../../src/disk/status-block.js";
import { upgradePair } from "../../src/disk/upgrade.js";
import { verifyExitCode, verifyPair } from "../../src/disk/verify.js";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
let n = 0;
const WATCH_MS = 100;

interface Target {
  primary: string;
  backup: string;
  layout: Layout;
}

/** A cluster with some state: member 0 down after a life, a stopped service, a configuration. */
async function cluster(): Promise<Target> {
  n++;
  const primary = zeroFile(join(dir.path, `primary-${n}.img`), 2 << 20);
  const backup = zeroFile(join(dir.path, `backup-${n}.img`), 2 << 20);
  await initialisePair(primary, backup, { clusterName: "octane", maxMembers: 4, maxServices: 4 });
  const pair = await QuorumPair.open(primary, backup, { write: true });
  await pair.writeStatus({
    ...emptyStatus(0),
    state: MemberState.Down,
    incarnation: 3,
    heartbeat: 40,
    nodeName: "m0",
  });
  await pair.writeService({ ...emptyService(1), name: "nfs", state: ServiceState.Stopped });
  await pair.writeConfig({ view: 1, text: "[cluster]\nname = octane\n" });
  const { layout } = pair;
  pair.close();
  return { primary, backup, layout };
}

/** Rewrites every block of one copy in format 3, as the earlier clumanager left it. */
function toOldFormat(path: string, layout: Layout): void {
  const bytes = readFileSync(path);
  for (let slot = 0; slot < layout.totalSlots; slot++) {
    const at = slotOffset(layout, slot);
    const decoded = decodeBlock(bytes.subarray(at, at + layout.blockSize));
    if (!decoded.ok) continue;
    encodeBlock({ ...decoded.value, version: UPGRADABLE_FORMAT_VERSION }, layout.blockSize).copy(bytes, at);
  }
  writeFileSync(path, bytes);
}

function old(t: Target): Target {
  toOldFormat(t.primary, t.layout);
  toOldFormat(t.backup, t.layout);
  return t;
}

describe("cludiskutil --upgrade", () => {
  it("is what every other command asks for on partitions of the earlier format", async () => {
    const t = old(await cluster());
    const err = await QuorumPair.open(t.primary, t.backup, { write: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartitionError);
    expect((err as PartitionError).reason).toBe("old-format");
    expect((err as Error).message).toBe(
      `${t.primary} holds a quorum partition in an earlier format; stop clumanager on every member and run cludiskutil --upgrade, which rewrites both partitions in place`,
    );
  });

  it("rewrites both copies in place, keeping every member's, service's and the configuration's state", async () => {
    const t = old(await cluster());
    const result = await upgradePair(t.primary, t.backup, { watchMs: WATCH_MS });
    expect(result).toMatchObject({ clusterName: "octane", upgraded: true, settled: [], unreadable: [] });
    expect(result.blocks).toBe(t.layout.totalSlots);
    const pair = await QuorumPair.open(t.primary, t.backup, { write: true });
    try {
      expect(verifyExitCode(await verifyPair(pair))).toBe(0);
      expect((await pair.readStatusRegion()).records[0]).toMatchObject({ incarnation: 3, heartbeat: 40 });
      expect((await pair.readServices()).records[1]).toMatchObject({
        name: "nfs",
        state: ServiceState.Stopped,
      });
      expect((await pair.readConfig()).config.view).toBe(1);
      // Written again, a block goes above both copies' generations.
      await pair.writeStatus({ ...emptyStatus(0), state: MemberState.Up, incarnation: 4, heartbeat: 0 });
      expect(verifyExitCode(await verifyPair(pair))).toBe(0);
    } finally {
      pair.close();
    }
    expect(await upgradePair(t.primary, t.backup, { watchMs: WATCH_MS })).toMatchObject({ upgraded: false });
  });

  it("settles a block whose copies differ from the primary, and says so", async () => {
    const t = await cluster();
    const pair = await QuorumPair.open(t.primary, t.backup, { write: true });
    const at = slotOffset(t.layout, t.layout.regions.service.firstSlot + 1);
    const before = readFileSync(t.backup).subarray(at, at + 512);
    await pair.writeService({ ...emptyService(1), name: "nfs", state: ServiceState.Disabled });
    pair.close();
    const backup = readFileSync(t.backup);
    before.copy(backup, at);
    writeFileSync(t.backup, backup);
    old(t);
    const result = await upgradePair(t.primary, t.backup, { watchMs: WATCH_MS });
    expect(result.settled).toEqual([{ region: "service", index: 1, from: "primary" }]);
    const after = await QuorumPair.open(t.primary, t.backup, { write: false });
    try {
      expect(verifyExitCode(await verifyPair(after))).toBe(0);
      expect((await after.readServices()).records[1]).toMatchObject({ state: ServiceState.Disabled });
    } finally {
      after.close();
    }
  });

  it("refuses while a member's block says UP, unless told that member is surely down", async () => {
    const t = await cluster();
    const pair = await QuorumPair.open(t.primary, t.backup, { write: true });
    await pair.writeStatus({
      ...emptyStatus(2),
      state: MemberState.Up,
      incarnation: 1,
      heartbeat: 9,
      nodeName: "m2",
    });
    pair.close();
    old(t);
    const primaryBefore = readFileSync(t.primary);
    const err = await upgradePair(t.primary, t.backup, { watchMs: WATCH_MS }).catch((e: unknown) => e);
    expect((err as PartitionError).reason).toBe("in-use");
    expect((err as Error).message).toBe(
      'member 2 ("m2") is UP on the partitions, though its status block stood still; stop clumanager on every member, or if that member is surely down, add --force',
    );
    expect(readFileSync(t.primary).equals(primaryBefore)).toBe(true);
    expect(await upgradePair(t.primary, t.backup, { watchMs: WATCH_MS, force: true })).toMatchObject({
      upgraded: true,
    });
  });

  it("refuses, even forced, while a daemon still writes its status block", async () => {
    const t = old(await cluster());
    const at = slotOffset(t.layout, t.layout.regions.status.firstSlot + 1);
    const bytes = readFileSync(t.primary);
    const block = decodeBlock(bytes.subarray(at, at + 512), { versions: [UPGRADABLE_FORMAT_VERSION] });
    if (!block.ok) throw new Error(block.problem);
    // An earlier clumanager's heartbeat lands while the upgrade watches.
    const timer = setTimeout(() => {
      encodeBlock({ ...block.value, generation: block.value.generation + 1 }, 512).copy(bytes, at);
      writeFileSync(t.primary, bytes);
    }, WATCH_MS / 4);
    const err = await upgradePair(t.primary, t.backup, { watchMs: WATCH_MS, force: true }).catch(
      (e: unknown) => e,
    );
    clearTimeout(timer);
    expect((err as Error).message).toBe(
      "member 1's status block changed while it was watched: its daemon is running; stop clumanager on every member, then run cludiskutil --upgrade again",
    );
  });

  it("runs as cludiskutil --upgrade and says what it did", async () => {
    const t = old(await cluster());
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    expect(await cludiskutil(["--verify", "--primary", t.primary, "--backup", t.backup], io)).toBe(65);
    expect(err.join("")).toMatch(
      /earlier format; stop clumanager on every member and run cludiskutil --upgrade/,
    );
    expect(await cludiskutil(["--upgrade", "--primary", t.primary, "--backup", t.backup], io)).toBe(0);
    expect(out.at(-1)).toBe(
      `Upgraded the ${t.layout.totalSlots} blocks of cluster "octane" on both partitions to the current format.`,
    );
    expect(await cludiskutil(["--verify", "--primary", t.primary, "--backup", t.backup], io)).toBe(0);
  });
});
