// Configurations whose every value is well formed but which cannot work are errors, each at the
// line at fault and naming the other line when two collide; config check exits 1 for them.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/cluadmin-main.js";
import { type ConfigError, validateText } from "../../src/config/validate.js";
import { EXAMPLE_CONF } from "../helpers/example-cluster.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-impossible-");
afterAll(() => dir.remove());

/** The example with `from` (which must be there once) replaced by `to`. */
function changed(from: string, to: string, text = EXAMPLE_CONF): string {
  expect(text.split(from)).toHaveLength(2);
  return text.replace(from, to);
}

/** The 1-based line of the first line holding `marker` after `after`. */
function lineOf(text: string, marker: string, after = ""): number {
  const start = text.indexOf(after);
  return text.slice(0, text.indexOf(marker, start)).split("\n").length;
}

function errorsOf(text: string): ConfigError[] {
  const r = validateText(text);
  return r.ok ? [] : r.errors;
}

describe("configurations that cannot work", () => {
  it("refuses a heartbeat address that is no host's: 0.0.0.0, 0/8, multicast, broadcast", () => {
    for (const address of ["0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255", "240.0.0.9"]) {
      const text = changed("address = 10.0.0.2\n", `address = ${address}\n`);
      expect(errorsOf(text)).toEqual([
        {
          line: lineOf(text, `address = ${address}`),
          key: "address",
          message: expect.stringMatching(
            /^the heartbeat address of member1 chan0 cannot work: .*; give this member's own address/,
          ),
        },
      ]);
    }
    // The lab runs every member on the loopback address, each on a port of its own.
    const loopback = changed("address = 10.0.0.2\n", "address = 127.0.0.1\n");
    expect(
      errorsOf(changed("address = 10.0.0.3\n", "address = 127.0.0.1\n    port = 1229\n", loopback)),
    ).toEqual([]);
  });

  it("refuses two channels on one address and port, with both lines", () => {
    // member1 chan0 has no port: it listens on the default 1228, as member0 chan0 does.
    const text = changed("address = 10.0.0.2\n", "address = 10.0.0.1\n");
    expect(errorsOf(text)).toEqual([
      {
        line: lineOf(text, "address = 10.0.0.1", "start member1"),
        key: "address",
        message: `member1 chan0 listens on 10.0.0.1:1228, as member0 chan0 does (line ${lineOf(text, "address = 10.0.0.1")}); two channels cannot bind one address and port: give each its own`,
      },
    ]);
    expect(errorsOf(changed("address = 10.0.0.2\n", "address = 10.0.0.1\n    port = 1229\n"))).toEqual([]);
  });

  it("refuses a serial heartbeat on the tty a peer's RPS-10 is on, and two serial channels on one tty", () => {
    // member0's RPS-10 is on /dev/ttyS0: member1 opens that line to fence member0.
    const text = changed(
      "    address = 10.0.0.2\n  end chan0\n",
      "    address = 10.0.0.2\n  end chan0\n  start chan1\n    type = serial\n    device = /dev/ttyS0\n  end chan1\n",
    );
    expect(errorsOf(text)).toEqual([
      {
        line: lineOf(text, "device = /dev/ttyS0", "start member1"),
        key: "device",
        message: `member1 chan1 uses /dev/ttyS0 for a serial heartbeat, but it is also the RPS-10 line of member0's power switch (line ${lineOf(text, "device = /dev/ttyS0")}), which member1 opens to fence member0; one tty cannot carry both: use another line for one of them`,
      },
    ]);
    const twice = changed(
      "  end chan1\n",
      "  end chan1\n  start chan2\n    type = serial\n    device = /dev/ttyS1\n  end chan2\n",
    );
    expect(errorsOf(twice)).toEqual([
      {
        line: lineOf(twice, "device = /dev/ttyS1", "start chan2"),
        key: "device",
        message: `member0 chan2 uses /dev/ttyS1 for a serial heartbeat, as member0 chan1 does (line ${lineOf(twice, "device = /dev/ttyS1")}); one line carries one channel`,
      },
    ]);
  });

  it("refuses one floating address in two services, with both lines", () => {
    const text = changed("address = 10.0.0.51/24", "address = 10.0.0.50/25");
    expect(errorsOf(text)).toEqual([
      {
        line: lineOf(text, "address = 10.0.0.50/25"),
        key: "address",
        message: `service1 resource0 floats 10.0.0.50, as service0 resource1 does (line ${lineOf(text, "address = 10.0.0.50/24")}); an address can be up on one member only, so two resources cannot own it`,
      },
    ]);
  });

  it("refuses a floating address that is its network's, its broadcast, or no host's", () => {
    const cases: [string, RegExp][] = [
      ["10.0.0.0/24", /it is the network address of its \/24/],
      ["10.0.0.255/24", /it is the broadcast address of its \/24/],
      ["10.0.0.63/26", /it is the broadcast address of its \/26/],
      ["0.0.0.0/0", /0\.0\.0\.0 means any address/],
      ["127.0.0.1/8", /127\.0\.0\.1 is a loopback address/],
      ["10.0.0.50/0", /a \/0 prefix puts every address on this link/],
      ["224.1.1.1/24", /is a multicast address/],
    ];
    for (const [address, why] of cases) {
      const text = changed("address = 10.0.0.50/24", `address = ${address}`);
      const errors = errorsOf(text);
      expect(errors, address).toHaveLength(1);
      expect(errors[0]).toMatchObject({ line: lineOf(text, `address = ${address}`), key: "address" });
      expect(errors[0]!.message).toMatch(
        new RegExp(
          `^the floating address ${address.replace(".", "\\.")} of service0 resource1 cannot work: `,
        ),
      );
      expect(errors[0]!.message).toMatch(why);
    }
    // A /31 and a /32 have no network or broadcast address.
    for (const address of ["10.0.0.50/31", "10.0.0.53/31", "10.0.0.50/32", "10.0.0.49/30"])
      expect(errorsOf(changed("address = 10.0.0.50/24", `address = ${address}`)), address).toEqual([]);
  });

  it("reports a boolean key set twice with both lines, in services and resources", () => {
    for (const [anchor, key] of [
      ["  failback = yes\n", "failback"],
      ["  disabled = no\n", "disabled"],
      ["    force_unmount = yes\n", "force_unmount"],
    ] as const) {
      const text = changed(anchor, `${anchor}${anchor.replace(/= \w+/, "= maybe")}`);
      const first = lineOf(text, anchor.trim());
      const where = key === "force_unmount" ? "service0 resource0" : "service0";
      expect(errorsOf(text)).toEqual([
        { line: first + 1, key, message: `"${key}" is set twice in ${where} (first on line ${first})` },
      ]);
    }
  });

  it("makes config check exit 1 and print the error with its file and line", async () => {
    const file = join(dir.path, "zero.conf");
    const text = changed("address = 10.0.0.3\n", "address = 0.0.0.0\n");
    // Readable by root only, as cluster.conf(5) asks, so no exposure warning joins the error.
    writeFileSync(file, text, { mode: 0o600 });
    let out = "";
    const code = await main(["-c", file, "--", "config", "check"], {
      out: (t) => (out += t),
      err: (t) => (out += t),
    });
    expect(code).toBe(1);
    expect(out).toBe(
      `${file}:${lineOf(text, "address = 0.0.0.0")}: the heartbeat address of member2 chan0 cannot work: 0.0.0.0 means any address, not one host's; give this member's own address on the heartbeat network`,
    );
  });
});
