// Our fence_agent driver against real programs: Debian's fence_dummy, and small agents of our own
// that hang or misbehave, run as real child processes.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PowerSwitchError } from "../../src/power/errors.js";
import { FenceAgentSwitch } from "../../src/power/fence-agent.js";
import type { StepEvent } from "../../src/power/switch.js";
import { needsTools } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("clumanager-agent-");
afterAll(() => dir.remove());

/** Whether `pid` is gone (or dead, waiting only to be reaped) within a second. */
async function gone(pid: number): Promise<boolean> {
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive();
}

function script(name: string, body: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

needsTools(["fence_dummy"])("fence_agent driving Debian's fence_dummy", () => {
  it("reads status as exit 2 = off and 0 = on, and switches on, off and reboot", async () => {
    const statusFile = join(dir.path, "dummy.status");
    const steps: StepEvent[] = [];
    const sw = new FenceAgentSwitch({
      agent: "fence_dummy",
      args: { type: "file", status_file: statusFile },
      timeoutMs: 30_000,
      observer: (e) => steps.push(e),
    });
    expect(await sw.status("1")).toBe("off");
    await sw.on("1");
    expect(readFileSync(statusFile, "utf8").trim()).toBe("on");
    expect(await sw.status("1")).toBe("on");
    await sw.off("1");
    expect(await sw.status("1")).toBe("off");
    await sw.reboot("1");
    expect(await sw.status("1")).toBe("on");
    await sw.health();
    expect(steps.map((s) => s.step)).toContain("off confirmed");
    expect(steps.every((s) => s.durationMs >= 0)).toBe(true);
  });

  it("reports a failing agent with its exit code and last words", async () => {
    const sw = new FenceAgentSwitch({
      agent: "fence_dummy",
      args: { type: "fail", power_timeout: "1" },
      timeoutMs: 30_000,
    });
    const err = await sw.off("1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PowerSwitchError);
    expect(err).toMatchObject({ kind: "failed", outlet: "1", step: "off" });
    expect((err as Error).message).toMatch(/fence_agent fence_dummy outlet 1: off: fence_dummy exited 1/);
  });
});

describe("fence_agent with agents that misbehave", () => {
  it("kills an agent that hangs, and its children, at the deadline, and says it timed out", async () => {
    const pidFile = join(dir.path, "child.pid");
    const agent = script("fence_hang", `sleep 300 & echo $! > ${pidFile}\nwait`);
    const sw = new FenceAgentSwitch({ agent, timeoutMs: 300 });
    const started = Date.now();
    const err = await sw.off("3").catch((e: unknown) => e);
    // The documented kind for a switch that does not answer in time, as every other driver says.
    expect(err).toMatchObject({ kind: "timeout", step: "off" });
    expect((err as Error).message).toMatch(/did not finish within 300 ms and was killed/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await gone(Number(readFileSync(pidFile, "utf8")))).toBe(true);
  });

  it("does not wait for a detached child that holds its pipes, and kills that child", async () => {
    const pidFile = join(dir.path, "detached.pid");
    const agent = script(
      "fence_detach",
      `cat > /dev/null\nsetsid sleep 300 &\necho $! > ${pidFile}\necho "ERROR: the BMC is busy" >&2\nexit 1`,
    );
    const err = await new FenceAgentSwitch({ agent, timeoutMs: 2_000 }).status("1").catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "failed", step: "status" });
    expect((err as Error).message).toMatch(/exited 1: ERROR: the BMC is busy$/);
    expect(await gone(Number(readFileSync(pidFile, "utf8")))).toBe(true);
  });

  it("passes the arguments, then its own nodename, action and plug, as lines on stdin, and hides secrets", async () => {
    const seen = join(dir.path, "stdin.txt");
    const agent = script("fence_echo", `cat > ${seen}\necho "login failed for password hunter2" >&2\nexit 1`);
    const sw = new FenceAgentSwitch({
      agent,
      args: { ip: "10.0.0.9", password: "hunter2" },
      nodename: "clu2",
      timeoutMs: 5_000,
    });
    const err = await sw.on("7").catch((e: unknown) => e);
    // fence-agents keep the last value of a name: the driver's own lines come last.
    expect(readFileSync(seen, "utf8")).toBe(
      "ip=10.0.0.9\npassword=hunter2\nnodename=clu2\naction=on\nplug=7\n",
    );
    expect((err as Error).message).toContain("login failed for password ***");
    expect((err as Error).message).not.toContain("hunter2");
  });

  it("treats a status exit other than 0 or 2 as a failure, not as a state", async () => {
    const agent = script("fence_confused", "cat > /dev/null\nexit 1");
    await expect(new FenceAgentSwitch({ agent, timeoutMs: 5_000 }).status("1")).rejects.toMatchObject({
      kind: "failed",
      step: "status",
    });
  });

  it("says where it looked for an agent that does not exist", () => {
    expect(() => new FenceAgentSwitch({ agent: "fence_nonexistent" })).toThrow(
      /no executable fence_nonexistent in \/usr\/sbin/,
    );
  });

  it("refuses an outlet that would inject another line, and never runs the agent", async () => {
    const ran = join(dir.path, "ran");
    const agent = script("fence_record", `touch ${ran}\ncat > /dev/null\nexit 0`);
    const err = await new FenceAgentSwitch({ agent }).off("1\naction=on").catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "config" });
    expect(existsSync(ran)).toBe(false);
  });

  it("refuses an argument that would inject another line", async () => {
    const agent = script("fence_ok", "cat > /dev/null\nexit 0");
    const sw = new FenceAgentSwitch({ agent, args: { ip: "1.2.3.4\naction=off" } });
    await expect(sw.on("1")).rejects.toMatchObject({ kind: "config" });
  });
});

describe("fence_agent and what it sends the agent", () => {
  it("refuses action, plug, port and nodename as arguments, and never runs the agent", async () => {
    const ran = join(dir.path, "ran-reserved");
    const agent = script("fence_reserved", `touch ${ran}\ncat > /dev/null\nexit 0`);
    for (const name of ["action", "plug", "port", "nodename", "Action", "node-name", "option"]) {
      const sw = new FenceAgentSwitch({ agent, args: { [name]: "off" } });
      const err = await sw.status("1").catch((e: unknown) => e);
      if (name === "node-name") {
        // Not a name fence-agents read as nodename: an ordinary argument.
        expect(err).toBe("on");
        continue;
      }
      expect(err).toMatchObject({ kind: "config", step: "status" });
      expect((err as Error).message).toContain(`"${name}" is sent by clumanager itself`);
    }
    expect(existsSync(ran)).toBe(true);
  });

  it("scrubs every secret it sent from what an agent that echoes its input says", async () => {
    const agent = script(
      "fence_parrot",
      // Echoes every line it reads, then prints its options as Python would (repr escapes).
      String.raw`while read -r l; do printf 'got %s\n' "$l" >&2; done
printf '%s\n' "ERROR: options {'--password': 'p\\'x', '--apikey': \"k\\\\q\"}" >&2
exit 1`,
    );
    const sw = new FenceAgentSwitch({
      agent,
      args: { ip: "10.0.0.9", password: "p'x", apikey: "k\\q", privkey: "-----BEGIN-----" },
      timeoutMs: 5_000,
    });
    const message = ((await sw.off("1").catch((e: unknown) => e)) as Error).message;
    expect(message).toContain("ERROR: options {'--password': '***', '--apikey': \"***\"}");
    const echoing = new FenceAgentSwitch({
      agent: script(
        "fence_echoes",
        String.raw`while read -r l; do printf 'got %s\n' "$l"; done
exit 1`,
      ),
      args: { password: "p'x", apikey: "k\\q", privkey: "-----BEGIN-----" },
      timeoutMs: 5_000,
    });
    const echoed = ((await echoing.off("1").catch((e: unknown) => e)) as Error).message;
    expect(echoed).toContain("got password=*** / got apikey=*** / got privkey=*** / got action=off");
    for (const leak of ["p'x", "p\\'x", "k\\q", "k\\\\q", "BEGIN"]) {
      expect(message).not.toContain(leak);
      expect(echoed).not.toContain(leak);
    }
  });
});

needsTools(["fence_ipmilan"])("fence_agent and Debian's fence_ipmilan", () => {
  it("reports the agent's real error, not its closing usage line", async () => {
    const sw = new FenceAgentSwitch({
      agent: "fence_ipmilan",
      args: {
        ip: "127.0.0.1",
        username: "admin",
        password: "bmc-pw",
        ipmitool_path: "/nonexistent/ipmitool",
      },
      timeoutMs: 30_000,
    });
    const err = await sw.status("1").catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "failed", step: "status" });
    expect((err as Error).message).toMatch(/exited 1: ERROR: Ipmitool not found/);
    expect((err as Error).message).not.toContain("Please use '-h' for usage");
  });
});
