// The member daemon's own wiring, one daemon at a time in this process, on real quorum partition
// files (ext4, direct I/O): what a nudge heard does, what a peer's status block makes it do, and
// that a member left halted writes no heartbeat again. Its ticks run on fake interval timers and a
// clock the test moves, so each step is the test's to take; the disk I/O is real.
import { writeFileSync } from "node:fs";
import { join as joinPath } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ClusterConfig, MemberConfig } from "../../src/config/model.js";
import { validateText } from "../../src/config/validate.js";
import { join } from "../../src/daemon/join.js";
import { createLogger } from "../../src/daemon/logger.js";
import { MemberDaemon } from "../../src/daemon/member-daemon.js";
import type { QuorumIo } from "../../src/daemon/quorum-io.js";
import { requestToWire } from "../../src/daemon/service-requests.js";
import { initialisePair } from "../../src/disk/initialise.js";
import { NO_OWNER, ServiceState } from "../../src/disk/service-block.js";
import { MemberState, type MemberStatus } from "../../src/disk/status-block.js";
import type { HeartbeatChannels } from "../../src/heartbeat/channels.js";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const INTERVAL_MS = 1000;
/** The daemon ticks every tenth of an interval. */
const TICK_MS = 100;
const dir = scratchDir("clumanager-daemon-");
const log = createLogger("emerg", { test: "member-daemon" });
/** What each joined life opened and holds: closed and let go after each test. */
const opened: { close(): void }[] = [];
let n = 0;

afterEach(() => {
  vi.useRealTimers();
  for (const held of opened.splice(0)) held.close();
});
afterAll(() => dir.remove());

/** A fresh three-member cluster on its own partition files; `services` is its [services] text. */
async function cluster(services = ""): Promise<{ config: ClusterConfig; path: string }> {
  n++;
  const primary = zeroFile(joinPath(dir.path, `p${n}.img`), 4 << 20);
  const backup = zeroFile(joinPath(dir.path, `b${n}.img`), 4 << 20);
  await initialisePair(primary, backup, { clusterName: "unit", maxMembers: 4, maxServices: 4 });
  const members = [0, 1, 2].map(
    (m) =>
      `start member${m}\n  name = m${m}\n  start chan0\n    type = net\n    address = 127.0.0.1\n    port = ${41000 + m}\n  end chan0\n` +
      `  start power\n    type = wti_nps\n    host = 127.0.0.1\n    port = 9\n    outlet = ${m + 1}\n  end power\nend member${m}\n`,
  );
  const text =
    `[cluster]\nname = unit\nheartbeat_interval = ${INTERVAL_MS / 1000}\ntko = 7\ntko_netup = 12\nio_timeout = 3\n` +
    `key_file = ${joinPath(dir.path, "authkey")}\n\n[quorum]\nprimary = ${primary}\nbackup = ${backup}\n\n` +
    `[members]\n${members.join("")}${services === "" ? "" : `\n[services]\n${services}`}`;
  const path = joinPath(dir.path, `cluster${n}.conf`);
  writeFileSync(path, text);
  const checked = validateText(text);
  if (!checked.ok) throw new Error(`the test's configuration is invalid: ${JSON.stringify(checked.errors)}`);
  return { config: checked.config, path };
}

interface Running {
  daemon: MemberDaemon;
  io: QuorumIo;
  incarnation: number;
  /** Every status this member's heartbeats wrote, in order. */
  beats: MemberStatus[];
}

/** Joins member `id` for real and builds its daemon on `clock`; it is not started. `sent` gets
 * every packet it sends, as (sequence, nudge). */
async function member(
  c: { config: ClusterConfig; path: string },
  id: number,
  clock: { ms: number },
  sent: { sequence: number; nudge: boolean }[] = [],
) {
  const m = c.config.members[id];
  if (m === undefined) throw new Error(`no member ${id}`);
  const joined = await join(c.config, m, 0);
  opened.push(joined.io, { close: () => joined.slot.release() });
  const beats: MemberStatus[] = [];
  const beat = joined.io.beat.bind(joined.io);
  joined.io.beat = (status) => {
    beats.push(status);
    return beat(status);
  };
  const daemon = new MemberDaemon({
    config: c.config,
    member: m,
    incarnation: joined.incarnation,
    io: joined.io,
    // The channels' own tests send real packets; here only what the daemon sends matters.
    net: {
      send: async (_incarnation: number, sequence: number, nudge = false) => {
        sent.push({ sequence, nudge });
      },
    } as unknown as HeartbeatChannels,
    log,
    selfFence: (reason) => {
      throw new Error(`member ${id} self-fenced: ${JSON.stringify(reason)}`);
    },
    now: () => clock.ms,
  });
  return { daemon, io: joined.io, incarnation: joined.incarnation, beats } satisfies Running;
}

/** Waits (in real time, for the real disk) until `done`, at most 5 s. */
async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error(`gave up waiting: ${what}`);
}

/** Lets any disk I/O already started finish. */
const quiet = () => new Promise((r) => setTimeout(r, 100));

/** Moves the clock on and runs the daemon's ticks due meanwhile. */
function advance(clock: { ms: number }, ms: number): void {
  for (let left = ms; left > 0; left -= TICK_MS) {
    clock.ms += Math.min(TICK_MS, left);
    vi.advanceTimersByTime(Math.min(TICK_MS, left));
  }
}

/** Real time a test gives the daemon's ticks and disk I/O to get somewhere, loaded machine or not. */
const TICKING_WAIT_MS = 15_000;

/**
 * Gives the daemon ticks, with real time between them for its disk I/O, until `done`: what a tick
 * starts (a write, a nudge after it, a stop fed once the services are idle) may take several under
 * load, so a test waits for it instead of expecting it after one.
 */
async function tickUntil(clock: { ms: number }, what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + TICKING_WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting, with ticks: ${what}`);
    advance(clock, TICK_MS);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A stop's outcome, ticking until it comes. */
async function stopOutcome(clock: { ms: number }, stopped: Promise<boolean>): Promise<boolean> {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  stopped.then(settle, settle);
  await tickUntil(clock, "the stop", () => settled);
  return stopped;
}

/** Member `peer`'s status block as its own daemon would write it, with what the test adds. */
async function writePeerStatus(
  peer: { io: QuorumIo; incarnation: number },
  heartbeat: number,
  extra: Partial<MemberStatus>,
): Promise<void> {
  await peer.io.writeStatus({ ...peer.io.status(MemberState.Up, peer.incarnation, heartbeat), ...extra });
}

/** Member 0 of a fresh cluster whose one service, web, runs `script`: started, and running web. */
async function runningWeb(
  script: string,
  clock: { ms: number },
  sent?: { sequence: number; nudge: boolean }[],
) {
  const c = await cluster(
    `start service0\n  name = web\n  preferred_member = m0\n  start resource0\n    type = script\n    path = ${script}\n  end resource0\nend service0\n`,
  );
  const a = await member(c, 0, clock, sent);
  a.daemon.start();
  await tickUntil(
    clock,
    "web running",
    () => a.daemon.services.core.record(0)?.state === ServiceState.Running,
  );
  expect(a.daemon.services.core.record(0)).toMatchObject({ state: ServiceState.Running, owner: 0 });
  return a;
}

beforeAll(() => {
  // Only the daemon's tick timer is faked: the disk I/O, its deadlines and the bakery run in real time.
  vi.useRealTimers();
});

describe("member daemon", () => {
  it("starts a heartbeat on a nudge, a quarter interval after the last at the soonest; a plain heartbeat heard does not", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const clock = { ms: 0 };
    const c = await cluster();
    const a = await member(c, 0, clock);
    a.daemon.start();
    await until("the first heartbeat", () => a.daemon.counters.beats === 1);

    clock.ms = 300;
    a.daemon.heard(1, 0, true);
    await until("the nudged heartbeat", () => a.daemon.counters.beats === 2);

    // 100 ms after that one began: the nudge waits for the first tick a quarter interval on.
    clock.ms = 400;
    a.daemon.heard(1, 0, true);
    await quiet();
    expect(a.beats).toHaveLength(2);
    advance(clock, 200);
    await until("the deferred nudged heartbeat", () => a.daemon.counters.beats === 3);

    clock.ms = 900;
    a.daemon.heard(1, 0, false);
    await quiet();
    expect(a.beats.map((s) => s.heartbeat)).toEqual([1, 2, 3]);

    const stopped = a.daemon.stop();
    expect(await stopOutcome(clock, stopped)).toBe(true);
    a.daemon.heard(1, 0, true);
    await quiet();
    expect(a.beats).toHaveLength(3);
  });

  it("runs its service manager at once when a peer's status names a fence it did not know of, not for one of its own lives", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const clock = { ms: 0 };
    const c = await cluster();
    // An earlier life of member 0, gone: the daemon below is its next life.
    const earlier = await join(c.config, c.config.members[0] as MemberConfig, 0);
    opened.push(earlier.io);
    // That life is over: its daemon let go of the member's slot on this machine.
    earlier.slot.release();
    await earlier.io.writeStatus(earlier.io.status(MemberState.Down, earlier.incarnation, 1));
    const a = await member(c, 0, clock);
    expect(a.incarnation).toBe(earlier.incarnation + 1);
    const b = await member(c, 1, clock);
    const serviceTicks: number[] = [];
    const tick = a.daemon.services.tick.bind(a.daemon.services);
    a.daemon.services.tick = (...args) => {
      serviceTicks.push(clock.ms);
      tick(...args);
    };
    a.daemon.start();
    await until("the first heartbeat", () => a.daemon.counters.beats === 1);
    // Past the settling time, so a tick would run the service manager.
    for (let beat = 2; beat <= 4; beat++) {
      advance(clock, INTERVAL_MS);
      await until(`heartbeat ${beat}`, () => a.daemon.counters.beats === beat);
    }
    clock.ms += 300;

    // Member 1's status names an earlier life of member 0 as fenced: old news to member 0.
    await writePeerStatus(b, 1, { fenced: { member: 0, incarnation: earlier.incarnation } });
    let before = serviceTicks.length;
    a.daemon.heard(2, 0, true);
    await until("the nudged heartbeat", () => a.daemon.counters.beats === 5);
    await quiet();
    expect(serviceTicks.length).toBe(before);

    // Now it names member 2's life as fenced: member 0 learns it, and its services act at once.
    clock.ms += 300;
    await writePeerStatus(b, 2, { fenced: { member: 2, incarnation: 1 } });
    before = serviceTicks.length;
    a.daemon.heard(2, 0, true);
    await until("the nudged heartbeat", () => a.daemon.counters.beats === 6);
    await until("the service manager's tick", () => serviceTicks.length === before + 1);
    expect(a.daemon.core.isFenced(2, 1)).toBe(true);
  });

  it("acts once on a request a peer's status carries for several heartbeats, and never on one for an earlier life", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const clock = { ms: 0 };
    const c = await cluster(
      "start service0\n  name = web\n  preferred_member = m0\n  disabled = yes\nend service0\n",
    );
    const a = await member(c, 0, clock);
    const b = await member(c, 1, clock);
    const asked: { op: string; viaPeer: boolean }[] = [];
    const ask = a.daemon.services.ask.bind(a.daemon.services);
    a.daemon.services.ask = (request, viaPeer) => {
      asked.push({ op: request.op, viaPeer: viaPeer ?? false });
      return ask(request, viaPeer);
    };
    a.daemon.start();
    await until("the first heartbeat", () => a.daemon.counters.beats === 1);

    const carry = async (heartbeat: number, sequence: number, toIncarnation: number) => {
      const request = requestToWire({ op: "enable", service: 0 }, 0, toIncarnation, sequence);
      await writePeerStatus(b, heartbeat, { request });
      const beats = a.daemon.counters.beats;
      advance(clock, INTERVAL_MS);
      await until("a heartbeat", () => a.daemon.counters.beats === beats + 1);
    };
    // The same request, as member 1 carries it for three heartbeats: acted on once.
    await carry(1, 1, a.incarnation);
    await carry(2, 1, a.incarnation);
    await carry(3, 1, a.incarnation);
    expect(asked).toEqual([{ op: "enable", viaPeer: true }]);
    // One meant for an earlier life of member 0 is ignored; the next new one is acted on.
    await carry(4, 2, a.incarnation - 1);
    expect(asked).toHaveLength(1);
    await carry(5, 3, a.incarnation);
    expect(asked).toHaveLength(2);
  });

  it("nudges its peers once the block letting a service go is written, as it leaves", async () => {
    const script = joinPath(dir.path, "plain.sh");
    writeFileSync(script, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const clock = { ms: 0 };
    const sent: { sequence: number; nudge: boolean }[] = [];
    const a = await runningWeb(script, clock, sent);
    const state = () => a.daemon.services.core.record(0)?.state;
    // (Recording the new service's first block, free to be placed, was a release too.)
    const before = sent.filter((p) => p.nudge).length;
    const stopped = a.daemon.stop();
    // The record turns Stopped when the release is decided; the nudge follows its write. A check
    // under way when the stop came defers the stop to a tick, so ticks are given meanwhile.
    const nudges = () => sent.filter((p) => p.nudge).length;
    await tickUntil(
      clock,
      "web stopped, let go and nudged",
      () => state() === ServiceState.Stopped && nudges() > before,
    );
    expect(a.daemon.services.core.record(0)?.owner).toBe(NO_OWNER);
    await quiet();
    expect(nudges()).toBe(before + 1);
    expect(sent.map((p) => p.sequence)).toEqual(sent.map((_, i) => i + 1));
    expect(await stopOutcome(clock, stopped)).toBe(true);
  });

  it("refuses to join on a view older than the partitions', and a change handed over once it is leaving", async () => {
    const c = await cluster();
    const m0 = c.config.members[0] as MemberConfig;
    await expect(join(c.config, m0, 3)).rejects.toThrow(
      "the configuration on the quorum partitions changed to view 0 while this member was starting on view 3; start it again",
    );
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const clock = { ms: 0 };
    const a = await member(c, 0, clock);
    a.daemon.start();
    const stopped = a.daemon.stop();
    const text = "[cluster]\nname = unit\n";
    await expect(a.daemon.configChange({ baseView: 0, baseText: text, text })).rejects.toThrow(
      "this member is leaving; make the change on another member",
    );
    expect(await stopOutcome(clock, stopped)).toBe(true);
  });

  it("writes no heartbeat again, nudged or not, once it leaves with a service that failed to stop", async () => {
    const script = joinPath(dir.path, "stop-fails.sh");
    writeFileSync(script, '#!/bin/sh\ncase "$1" in stop) exit 1 ;; *) exit 0 ;; esac\n', { mode: 0o755 });
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const clock = { ms: 0 };
    const a = await runningWeb(script, clock);
    // It left without marking DOWN, so a peer fences it: its counter must stay still for that.
    expect(await stopOutcome(clock, a.daemon.stop())).toBe(false);
    const beats = a.beats.length;
    a.daemon.heard(1, 0, true);
    advance(clock, 5 * INTERVAL_MS);
    await quiet();
    expect(a.beats).toHaveLength(beats);
  });
});
