import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ConfigError, formatErrors, validateText } from "../../src/config/validate.js";

const example = readFileSync("conf/cluster.conf", "utf8");

const minimal = (extra = { cluster: "", members: "", services: "" }) => `[cluster]
name = octane
${extra.cluster}
[quorum]
primary = /dev/sdb1
backup = /dev/sdb2

[members]
start member0
  name = clu1
  start power
    type = none
  end power
end member0
start member1
  name = clu2
  start power
    type = none
  end power
end member1
${extra.members}
[services]
${extra.services}
`;

function errorsOf(text: string, limits = {}): ConfigError[] {
  const r = validateText(text, limits);
  return r.ok ? [] : r.errors;
}

describe("validating cluster.conf", () => {
  it("accepts the shipped example and reads every value", () => {
    const r = validateText(example);
    if (!r.ok) throw new Error(formatErrors("conf/cluster.conf", r.errors).join("\n"));
    const { cluster, quorum, members, services } = r.config;
    expect(cluster).toMatchObject({
      name: "octane",
      heartbeatInterval: 1,
      tko: 7,
      tkoNetup: 12,
      ioTimeout: 3,
      loglevel: "warning",
    });
    expect(quorum).toEqual({ primary: "/dev/sdb1", backup: "/dev/sdb2" });
    expect(members.map((m) => [m.id, m.name, m.power.type, m.power.outlet])).toEqual([
      [0, "clu1", "rps10", "0"],
      [1, "clu2", "wti_nps", "2"],
      [2, "clu3", "fence_agent", "1"],
    ]);
    expect(members[0]!.channels).toEqual([
      { type: "net", address: "10.0.0.1", port: 1228 },
      { type: "serial", device: "/dev/ttyS1" },
    ]);
    expect(members[1]!.power).toMatchObject({ password: "change me", port: 23 });
    expect(members[2]!.power).toMatchObject({
      agent: "fence_ipmilan",
      args: { ip: "10.0.0.23", lanplus: "1" },
      timeoutMs: 60_000,
    });
    expect(services[0]).toMatchObject({
      name: "nfs1",
      preferredMember: "clu1",
      failback: true,
      maxRestarts: 3,
    });
    expect(services[0]!.resources.map((x) => x.type)).toEqual(["fs", "ip", "script"]);
    expect(services[1]!.resources[1]).toEqual({
      type: "ocf",
      agent: "heartbeat:apache",
      params: { configfile: "/etc/apache2/apache2.conf" },
    });
  });

  it("fills in the documented defaults", () => {
    const r = validateText(minimal());
    expect(r.ok && r.config.cluster).toMatchObject({
      heartbeatInterval: 1,
      tko: 7,
      tkoNetup: 12,
      ioTimeout: 3,
      keyFile: "/etc/clumanager/authkey",
      fenceDelay: 5,
    });
  });

  it("reads fence_delay and refuses one out of range", () => {
    const r = validateText(minimal({ cluster: "fence_delay = 0", members: "", services: "" }));
    expect(r.ok && r.config.cluster.fenceDelay).toBe(0);
    expect(errorsOf(minimal({ cluster: "fence_delay = 601", members: "", services: "" }))[0]).toMatchObject({
      key: "fence_delay",
    });
  });

  it("reports an unknown section and an unknown key with the nearest valid name and the line", () => {
    const errors = errorsOf(
      `${minimal({ cluster: "heartbeat_intervall = 2", members: "", services: "" })}\n[servics]\n`,
    );
    expect(errors).toEqual([
      {
        line: 3,
        key: "heartbeat_intervall",
        message: 'unknown key "heartbeat_intervall" in [cluster]; did you mean "heartbeat_interval"?',
      },
      { line: 25, message: "unknown section [servics]; did you mean [services]?" },
    ]);
  });

  it("reports a bad value with what it should be", () => {
    expect(errorsOf(minimal({ cluster: "tko = seven", members: "", services: "" }))).toEqual([
      { line: 3, key: "tko", message: "tko in [cluster] must be a whole number from 2 to 1000" },
    ]);
  });

  it("reports duplicate member and service names at the name lines that repeat them", () => {
    const text = minimal({
      cluster: "",
      members: "start member2\n  name = clu1\n  start power\n    type = none\n  end power\nend member2",
      services: "start service0\n  name = web\nend service0\nstart service1\n  name = web\nend service1",
    });
    const errors = errorsOf(text);
    expect(errors.map((e) => [e.line, e.message])).toEqual([
      [22, 'two members are named "clu1" (the other, "clu1", on line 10)'],
      [32, 'two services are named "web" (the other on line 29)'],
    ]);
    const lines = text.split("\n");
    expect([22, 10, 32, 29].map((n) => lines[n - 1])).toEqual([
      "  name = clu1",
      "  name = clu1",
      "  name = web",
      "  name = web",
    ]);
  });

  it("reports a preferred member that does not exist, with a suggestion", () => {
    const errors = errorsOf(
      minimal({
        cluster: "",
        members: "",
        services: "start service0\n  name = web\n  preferred_member = clu3\nend service0",
      }),
    );
    expect(errors).toEqual([
      {
        line: 25,
        key: "preferred_member",
        message: 'preferred_member "clu3" of service0 is not a member; did you mean "clu1"?',
      },
    ]);
  });

  it("reports timing that cannot work", () => {
    const errors = errorsOf(
      minimal({
        cluster: "heartbeat_interval = 0.5\ntko = 4\ntko_netup = 3\nio_timeout = 2",
        members: "",
        services: "",
      }),
    );
    expect(errors).toEqual([
      {
        line: 5,
        key: "tko_netup",
        message: "tko_netup (3) must not be smaller than tko (4): it is the longer patience",
      },
      {
        line: 6,
        key: "io_timeout",
        message: "io_timeout (2 s) must be shorter than heartbeat_interval x tko (0.5 s x 4 = 2 s)",
      },
    ]);
  });

  it("refuses a watchdog timeout a healthy member could outlast between two feeds, and one not in whole seconds", () => {
    const watchdog = (timeout: string) =>
      minimal({
        cluster: "heartbeat_interval = 2\nio_timeout = 3",
        members: `start member2
  name = clu3
  start power
    type = watchdog
    timeout = ${timeout}
  end power
end member2`,
        services: "",
      });
    expect(errorsOf(watchdog("5"))).toEqual([
      {
        line: 26,
        key: "timeout",
        message:
          "timeout of the power block of member2 (5 s) must be longer than heartbeat_interval + io_timeout (2 s + 3 s = 5 s), or the watchdog resets a healthy member between two heartbeats",
      },
    ]);
    expect(errorsOf(watchdog("6"))).toEqual([]);
    expect(errorsOf(watchdog("7.5"))[0]?.message).toMatch(/timeout in the power block of member2 must be/);
  });

  it("reports members and services beyond what the quorum partitions hold", () => {
    const errors = errorsOf(
      minimal({ cluster: "", members: "", services: "start service1\n  name = web\nend service1" }),
      { maxMembers: 1, maxServices: 1 },
    );
    expect(errors.map((e) => [e.line, e.message])).toEqual([
      [8, "2 members are defined, but the quorum partitions hold 1"],
      [
        15,
        "member1 does not fit the quorum partitions, which hold members 0 to 0; re-initialise them with more members",
      ],
      [
        23,
        "service1 does not fit the quorum partitions, which hold services 0 to 0; re-initialise them with more services",
      ],
    ]);
  });

  it("reports missing required keys and blocks at the line of their block", () => {
    const errors = errorsOf(
      "[cluster]\n[quorum]\nprimary = /dev/sdb1\n[members]\nstart member0\nend member0\n",
    );
    expect(errors.map((e) => [e.line, e.message])).toEqual([
      [1, "[cluster] needs \"name = ...\" (a name of letters, digits, '.', '_' and '-' (at most 64))"],
      [2, '[quorum] needs "backup = ..." (an absolute path)'],
      [5, "member0 needs \"name = ...\" (a name of letters, digits, '.', '_' and '-' (at most 64))"],
      [5, "member0 has no power block; fencing needs one (type = none is allowed, but unsafe)"],
    ]);
  });

  it("accepts a member's own quorum paths, and refuses one without the other", () => {
    const own = example.replace(
      "start member1\n  name = clu2\n",
      "start member1\n  name = clu2\n  primary = /dev/sdc1\n  backup = /dev/sdc2\n",
    );
    const r = validateText(own);
    expect(r.ok && r.config.members[1]!.quorum).toEqual({ primary: "/dev/sdc1", backup: "/dev/sdc2" });
    const half = errorsOf(
      example.replace(
        "start member1\n  name = clu2\n",
        "start member1\n  name = clu2\n  primary = /dev/sdc1\n",
      ),
    );
    expect(half.map((e) => e.message)).toEqual([
      "member1 gives only one of primary and backup; give both, or neither to use [quorum]",
    ]);
  });

  it("refuses io_timeout equal to heartbeat_interval x tko despite floating point", () => {
    const errors = errorsOf(
      minimal({ cluster: "heartbeat_interval = 0.1\ntko = 3\nio_timeout = 0.3", members: "", services: "" }),
    );
    expect(errors.map((e) => e.key)).toEqual(["io_timeout"]);
  });

  it("reports a channel defined twice, and member names that differ only in case", () => {
    const errors = errorsOf(
      minimal({
        cluster: "",
        members:
          "start member2\n  name = CLU2\n  start chan0\n    type = serial\n    device = /dev/ttyS0\n  end chan0\n  start chan0\n    type = serial\n    device = /dev/ttyS1\n  end chan0\n  start power\n    type = none\n  end power\nend member2",
        services: "",
      }),
    );
    expect(errors.map((e) => e.message)).toEqual([
      'two members are named "CLU2" (the other, "clu2", on line 16)',
      "chan0 of member2 is defined twice (first on line 23)",
    ]);
  });

  it("reports a port on a switch that has none as an unknown key", () => {
    const text = example.replace(
      "    device = /dev/ttyS0\n    outlet = 0\n",
      "    device = /dev/ttyS0\n    outlet = 0\n    port = 23\n",
    );
    expect(errorsOf(text).map((e) => e.message)).toEqual([
      'unknown key "port" in the power block of member0; known here: type, outlet, device',
    ]);
  });

  it("reports every error at once, in line order", () => {
    const text = example
      .replace("tko = 7 ", "tko = x ")
      .replace("type = rps10 ", "type = rps11 ")
      .replace("preferred_member = clu2", "preferred_member = nobody")
      .replace("  address = 10.0.0.51/24", "  address = 10.0.0.351/24");
    const errors = errorsOf(text);
    expect(errors.map((e) => e.key)).toEqual(["tko", "type", "preferred_member", "address"]);
    expect(errors.map((e) => e.line)).toEqual([...errors.map((e) => e.line)].sort((a, b) => a - b));
    expect(formatErrors("/etc/cluster.conf", errors)[0]).toMatch(
      /^\/etc\/cluster\.conf:10: tko in \[cluster\] must be/,
    );
  });

  it("never throws on random text, and answers with errors or a config", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const r = validateText(text);
        expect(r.ok || r.errors.length > 0).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on the example with any one line replaced by junk", () => {
    const lines = example.split("\n");
    fc.assert(
      fc.property(fc.nat(lines.length - 1), fc.string({ maxLength: 30 }), (at, junk) => {
        const copy = [...lines];
        copy[at] = junk;
        const r = validateText(copy.join("\n"));
        if (!r.ok) for (const e of r.errors) expect(e.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });
});
