// Which configuration a starting member runs, and which view names the outlet a fence switches
// off: the partitions' view, never a stale local file.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { validateText } from "../../src/config/validate.js";
import { fencingView } from "../../src/core/fence-view.js";
import { chooseStartView, replacedPath, startView, ViewRefused } from "../../src/daemon/config-view.js";
import { fencePower } from "../../src/daemon/fence-power.js";
import { QuorumPair } from "../../src/disk/pair.js";
import { EXAMPLE_CONF, exampleCluster } from "../helpers/example-cluster.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-view-");
afterAll(() => dir.remove());

function parsed(text: string) {
  const checked = validateText(text);
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.config;
}

describe("fencingView", () => {
  const own = { view: 2, value: "outlet 1" };
  it("uses the view this member runs while the partitions hold the same one, or none was stored", () => {
    expect(fencingView(own, { view: 2, value: () => "unused" })).toEqual({ ok: true, use: own });
    const first = { view: 0, value: "outlet 1" };
    expect(fencingView(first, { view: 0, value: () => "unused" })).toEqual({ ok: true, use: first });
  });

  it("uses a newer stored view, so a machine recabled since is switched off where it is now", () => {
    expect(fencingView(own, { view: 5, value: () => "outlet 7" })).toEqual({
      ok: true,
      use: { view: 5, value: "outlet 7" },
    });
  });

  it("refuses to fence with a stored view it cannot read, or one older than its own", () => {
    const broken = fencingView(own, {
      view: 5,
      value: () => {
        throw new Error("line 3: bad outlet");
      },
    });
    expect(broken).toEqual({
      ok: false,
      reason: "configuration view 5 on the quorum partitions cannot be used to fence: line 3: bad outlet",
    });
    const older = fencingView(own, { view: 1, value: () => "outlet 0" });
    expect(older.ok).toBe(false);
    expect(older.ok ? "" : older.reason).toMatch(/view 1, older than view 2 this member runs/);
  });
});

describe("chooseStartView", () => {
  const text = EXAMPLE_CONF;
  const local = { text, config: parsed(text), path: "/etc/cluster.conf" };

  it("runs the file before any change was stored, and when it is the stored view", () => {
    expect(chooseStartView(local, { view: 0, text: "" }, "clu1")).toEqual({ kind: "local", view: 0 });
    expect(chooseStartView(local, { view: 4, text }, "clu1")).toEqual({ kind: "same", view: 4 });
  });

  it("runs a newer stored view in place of the file", () => {
    const newer = text.replace("outlet = 2", "outlet = 5");
    const choice = chooseStartView(local, { view: 4, text: newer }, "clu1");
    expect(choice).toMatchObject({ kind: "stored", view: 4, text: newer });
    const power = choice.kind === "stored" ? choice.config.members[1]?.power : undefined;
    expect(power?.outlet).toBe("5");
  });

  it("refuses a stored view that is not valid, is another cluster's, or no longer has this member", () => {
    const invalid = chooseStartView(local, { view: 4, text: text.replace("tko = ", "tko = many ") }, "clu1");
    expect(invalid.kind).toBe("refuse");
    expect(invalid.kind === "refuse" ? invalid.message : "").toMatch(
      /^\/etc\/cluster\.conf differs from the configuration on the quorum partitions \(view 4\), which is not valid \(view 4:\d+: /,
    );
    const other = chooseStartView(
      local,
      { view: 4, text: text.replace("name = octane", "name = other") },
      "clu1",
    );
    expect(other).toMatchObject({ kind: "refuse", message: expect.stringMatching(/is for cluster "other"/) });
    const removed = chooseStartView(local, { view: 4, text }, "clu9");
    expect(removed).toEqual({ kind: "same", view: 4 });
    const gone = chooseStartView(local, { view: 4, text: text.replaceAll("clu2", "clu7") }, "clu2");
    expect(gone).toMatchObject({
      kind: "refuse",
      message: expect.stringMatching(/has no member named "clu2"/),
    });
  });
});

describe("startView on real partition files", () => {
  it("runs the partitions' view, rewrites the file and keeps its old text beside it with its mode", async () => {
    const { primary, backup, conf: path, text } = await exampleCluster(dir.path, "start");
    const timeoutMs = 5_000;

    // Nothing stored: the file is view 0.
    expect(await startView(path, parsed(text), "clu1", timeoutMs)).toMatchObject({ view: 0 });
    // The file is what it is under the lock, not what was parsed before: a cluadmin may have
    // rewritten it meanwhile.
    const meanwhile = text.replace("tko = 7", "tko = 8");
    writeFileSync(path, meanwhile, { mode: 0o600 });
    expect((await startView(path, parsed(text), "clu1", timeoutMs)).config.cluster.tko).toBe(8);
    writeFileSync(path, text, { mode: 0o600 });

    const newer = text.replace("outlet = 2", "outlet = 5");
    const pair = await QuorumPair.open(primary, backup, { write: true });
    try {
      await pair.writeConfig({ view: 3, text: newer });
    } finally {
      pair.close();
    }
    const run = await startView(path, parsed(text), "clu1", timeoutMs);
    expect(run.view).toBe(3);
    expect(run.config.members[1]?.power.outlet).toBe("5");
    expect(run.keptAt).toBe(replacedPath(path, 3));
    expect(readFileSync(path, "utf8")).toBe(newer);
    expect(readFileSync(replacedPath(path, 3), "utf8")).toBe(text);
    expect(statSync(replacedPath(path, 3)).mode & 0o777).toBe(0o600);
    // Started again, the file is the stored view: nothing is kept twice.
    const again = await startView(path, parsed(newer), "clu1", timeoutMs);
    expect(again).toEqual({ config: parsed(newer), view: 3, clusterUuid: again.clusterUuid });
    expect(again.clusterUuid).toHaveLength(16);

    // A view it cannot run stops the start with the sentence, and the file is left alone.
    const pair2 = await QuorumPair.open(primary, backup, { write: true });
    try {
      await pair2.writeConfig({ view: 4, text: newer.replaceAll("clu1", "clu8") });
    } finally {
      pair2.close();
    }
    const refused = await startView(path, parsed(newer), "clu1", timeoutMs).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ViewRefused);
    expect(String(refused)).toMatch(/\(view 4\), which has no member named "clu1"/);
    expect(readFileSync(path, "utf8")).toBe(newer);
  });
});

describe("fencePower on real partition files", () => {
  it("fences through the outlet the stored view names, and not at all when it cannot be read", async () => {
    const { primary, backup, text } = await exampleCluster(dir.path, "fence");
    const running = parsed(text);
    const clu2 = running.members[1];
    if (clu2 === undefined) throw new Error("the example has no member1");
    const pair = await QuorumPair.open(primary, backup, { write: true });
    try {
      const read = async () => (await pair.readConfig()).config;
      // Nothing stored: the view this member runs.
      expect(await fencePower(clu2, 0, read)).toEqual({ ok: true, use: { view: 0, value: clu2.power } });
      // clu2 was recabled to outlet 5 and the change stored: that is where it is switched off.
      await pair.writeConfig({ view: 1, text: text.replace("outlet = 2", "outlet = 5") });
      const moved = await fencePower(clu2, 0, read);
      expect(moved.ok && moved.use.view === 1 && moved.use.value.outlet).toBe("5");
      await pair.writeConfig({ view: 2, text: text.replace("tko = 7", "tko = many") });
      // A view that renames member1, or changes how a watchdog member is waited for, is not
      // fenced by until this member runs it.
      await pair.writeConfig({ view: 3, text: text.replaceAll("clu2", "clu7") });
      const renamed = await fencePower(clu2, 0, read);
      expect(renamed.ok ? "" : renamed.reason).toMatch(/its member1 is clu7, not clu2: restart this member/);
      await pair.writeConfig({ view: 4, text: text.replace("tko = 7", "tko = many") });
      const bad = await fencePower(clu2, 0, read);
      expect(bad.ok).toBe(false);
      expect(bad.ok ? "" : bad.reason).toMatch(
        /^configuration view 4 on the quorum partitions cannot be used to fence: view 4:\d+: /,
      );
      const unreadable = await fencePower(clu2, 0, async () => {
        throw new Error("EIO");
      });
      expect(unreadable).toEqual({
        ok: false,
        reason: "cannot read the configuration on the quorum partitions to find its switch: EIO",
      });
    } finally {
      pair.close();
    }
  });
});

describe("fencePower and watchdog members", () => {
  it("does not fence by a newer view that changes how long a watchdog member is waited for", async () => {
    const { primary, backup, text: base } = await exampleCluster(dir.path, "watchdog");
    const power = (timeout: number) =>
      `  start power\n    type = watchdog\n    timeout = ${timeout}\n  end power\nend member1`;
    const nps = / {2}start power\n {4}type = wti_nps\n[\s\S]*?end member1/;
    const ten = base.replace(nps, power(10));
    const clu2 = parsed(ten).members[1];
    if (clu2 === undefined) throw new Error("the example has no member1");
    const pair = await QuorumPair.open(primary, backup, { write: true });
    try {
      const read = async () => (await pair.readConfig()).config;
      await pair.writeConfig({ view: 1, text: ten });
      expect(await fencePower(clu2, 0, read)).toMatchObject({ ok: true, use: { view: 1 } });
      await pair.writeConfig({ view: 2, text: base.replace(nps, power(20)) });
      const longer = await fencePower(clu2, 0, read);
      expect(longer.ok ? "" : longer.reason).toBe(
        "configuration view 2 on the quorum partitions cannot be used to fence: it changes how member clu2 is fenced by its watchdog (timeout 10 s in the view this member runs, 20 s there): restart this member to run that view",
      );
    } finally {
      pair.close();
    }
  });
});
