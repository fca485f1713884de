// The one helper the commands share for --json failures, on its own: which error text makes the
// object, and what a command that throws prints.
import { describe, expect, it } from "vitest";
import type { CommandIo } from "../../src/cli/io.js";
import { jsonRequested, withJsonErrors } from "../../src/cli/json-errors.js";

function capture(): CommandIo & { out: (t: string) => void; outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return { outs, errs, out: (t) => outs.push(t), err: (t) => errs.push(t) };
}

describe("withJsonErrors", () => {
  it("takes the error after the last output, not warnings, and leaves a JSON failure alone", async () => {
    const io = capture();
    const code = await withJsonErrors("clustonith", true, io, async (w) => {
      w.err("clustonith: warning: the line is busy");
      w.err("clustonith: the switch did not answer\nwithin 5 s");
      return 1;
    });
    expect(code).toBe(1);
    expect(io.outs.map((o) => JSON.parse(o))).toEqual([
      { error: { message: "the switch did not answer", exitCode: 1, details: ["within 5 s"] } },
    ]);
    const reported = capture();
    await withJsonErrors("cludiskutil", true, reported, async (w) => {
      w.err("cludiskutil: an early complaint");
      w.out('{"exitCode":1,"damaged":[]}');
      return 1;
    });
    expect(reported.outs).toEqual(['{"exitCode":1,"damaged":[]}']);
  });

  it("a command that throws prints one line and exits 70, with its object under --json", async () => {
    const io = capture();
    const code = await withJsonErrors("cluadmin", true, io, () =>
      Promise.reject(new TypeError("x is undefined")),
    );
    expect(code).toBe(70);
    expect(io.errs).toEqual(["cluadmin: internal error: x is undefined"]);
    expect(JSON.parse(io.outs[0]!)).toEqual({
      error: { message: "internal error: x is undefined", exitCode: 70 },
    });
    const plain = capture();
    expect(await withJsonErrors("cluadmin", false, plain, async () => 64)).toBe(64);
    expect(plain.outs).toEqual([]);
  });

  it("--json counts only among the options, not in cluadmin's command words", () => {
    expect(jsonRequested(["-c", "f", "--json"])).toBe(true);
    expect(jsonRequested(["--", "service", "add", "--json"])).toBe(false);
  });
});
