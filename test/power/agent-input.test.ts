// What a fence agent reads on stdin: the user's arguments, then the driver's own lines, so an
// agent that keeps the last value of a name always does what the driver asked.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { agentInput, isDriverArgument } from "../../src/power/agent-input.js";

/** The value a fence-agents program ends with for `name`: the last line that sets it. */
function lastValue(text: string, name: string): string | undefined {
  let value: string | undefined;
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0 && line.slice(0, at).replaceAll("-", "_") === name) value = line.slice(at + 1);
  }
  return value;
}

describe("agentInput", () => {
  it("writes the user's arguments first, then nodename, action and plug", () => {
    const input = agentInput({
      action: "status",
      plugArgument: "plug",
      outlet: "1",
      nodename: "clu2",
      args: { ip: "10.0.0.9", username: "admin", password: "pw" },
    });
    expect(input).toEqual({
      ok: true,
      text: "ip=10.0.0.9\nusername=admin\npassword=pw\nnodename=clu2\naction=status\nplug=1\n",
    });
  });

  it("leaves out the plug for monitor and the nodename when no member is known", () => {
    expect(
      agentInput({
        action: "monitor",
        plugArgument: "plug",
        outlet: undefined,
        nodename: undefined,
        args: {},
      }),
    ).toEqual({
      ok: true,
      text: "action=monitor\n",
    });
  });

  it("refuses the driver's own names as arguments, in the spellings agents accept", () => {
    for (const name of ["action", "option", "plug", "port", "nodename", "ACTION", " plug"]) {
      expect(isDriverArgument(name)).toBe(true);
      const input = agentInput({
        action: "status",
        plugArgument: "plug",
        outlet: "1",
        nodename: undefined,
        args: { [name]: "off" },
      });
      expect(input.ok).toBe(false);
    }
    expect(isDriverArgument("plug_map")).toBe(false);
  });

  it("refuses line breaks in values and odd names, so no argument can add a line", () => {
    const base = { action: "on", plugArgument: "plug", outlet: "1", nodename: undefined };
    expect(agentInput({ ...base, args: { ip: "1.2.3.4\naction=off" } })).toMatchObject({ ok: false });
    expect(agentInput({ ...base, args: { "ip\naction": "off" } })).toMatchObject({ ok: false });
    expect(agentInput({ ...base, args: { "a=b": "off" } })).toMatchObject({ ok: false });
    expect(agentInput({ ...base, outlet: "1\naction=off", args: {} })).toMatchObject({ ok: false });
    expect(agentInput({ ...base, nodename: "clu1\raction=off", args: {} })).toMatchObject({ ok: false });
  });

  it("whatever the arguments, the agent ends with the driver's action, plug and nodename", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z_-]{1,10}$/), fc.string({ maxLength: 20 })),
        fc.constantFrom("on", "off", "status"),
        (args, action) => {
          const input = agentInput({ action, plugArgument: "plug", outlet: "4", nodename: "clu3", args });
          if (!input.ok) return;
          expect(lastValue(input.text, "action")).toBe(action);
          expect(lastValue(input.text, "plug")).toBe("4");
          expect(lastValue(input.text, "port")).toBeUndefined();
          expect(lastValue(input.text, "nodename")).toBe("clu3");
        },
      ),
    );
  });
});
