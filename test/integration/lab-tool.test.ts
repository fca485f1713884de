// The lab tool, driven as a user would pipe a script to it: it brings a cluster up, takes faults
// by command, shows the sample service moving, and leaves nothing behind.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { expect, it } from "vitest";
import { needs, needsTools } from "../helpers/needs.js";

needsTools(["pgrep"])("the lab tool on files", () => {
  it("runs a piped script of faults and tears everything down", () => {
    // No sleep first: "members up" comes only once the services are placed and running.
    const script = [
      "ask web0",
      "service relocate nosuch",
      "hang",
      "hang m0",
      "sleep 6",
      "ask web0",
      "bogus",
      "status m1",
      "quit",
    ];
    const r = spawnSync(process.execPath, ["--import", "tsx", "tools/lab/cli.ts", "--files"], {
      input: `${script.join("\n")}\n`,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/lab: 2 members up, partitions on files in (\S+)/);
    expect(out).toMatch(/web0: answered by m0[\s\S]*m0 hangs[\s\S]*web0: answered by m1/);
    expect(out).toMatch(/unknown command bogus; "help" lists them/);
    // A request cluadmin refused is its sentence alone; a lab command typed wrong gets its usage.
    expect(out).toMatch(/cluadmin: .*nosuch/);
    expect(out).not.toMatch(/usage: service enable/);
    expect(out).toContain("hang: name a member, m0 to m1 (usage: hang MEMBER)");
    expect(out).toMatch(/web0 +running +m1/);
    expect(out).toMatch(/tearing the lab down/);
    const dir = /partitions on files in (\S+)/.exec(out)?.[1] as string;
    expect(existsSync(dir)).toBe(false);
    const leftovers = spawnSync("pgrep", ["-f", dir], { encoding: "utf8" });
    expect(leftovers.stdout).toBe("");
  }, 70_000);

  it("gives its usage as the npm script that runs it", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "tools/lab/cli.ts", "--help"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run lab -- \[--members N\]/);
  });

  it("tears everything down on Ctrl-C", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "tools/lab/cli.ts", "--files"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    const prompted = new Promise<void>((resolve) =>
      child.stdout.on("data", (c: string) => {
        out += c;
        if (out.includes("lab> ")) resolve();
      }),
    );
    await prompted;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    const dir = /partitions on files in (\S+)/.exec(out)?.[1] as string;
    expect(out).toMatch(/tearing the lab down/);
    expect(existsSync(dir)).toBe(false);
    expect(spawnSync("pgrep", ["-f", dir], { encoding: "utf8" }).stdout).toBe("");
  }, 60_000);
});

needs({ root: true })("the lab tool without socat", () => {
  it("says in one line that --netns needs socat, when socat is not installed", () => {
    // An empty PATH: no socat (the lab runs node by its absolute path).
    const r = spawnSync(process.execPath, ["--import", "tsx", "tools/lab/cli.ts", "--netns"], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, PATH: "/nonexistent" },
    });
    expect(r.stderr).toBe(
      "lab: --netns needs socat for its RPS-10 switches' serial lines; install the socat package\n",
    );
    expect(r.status).toBe(69);
  });
});

needs({ root: true, tools: ["socat", "ip", "arping", "pgrep"] })(
  "the lab tool with network namespaces",
  () => {
    it("moves a sample service's floating address to the survivor, reached from the client", () => {
      const script = ["sleep 3", "ask web0", "hang m0", "sleep 6", "ask web0", "quit"];
      const r = spawnSync(process.execPath, ["--import", "tsx", "tools/lab/cli.ts", "--netns"], {
        input: `${script.join("\n")}\n`,
        encoding: "utf8",
        timeout: 90_000,
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/at 192\.0\.2\.50:\d+/);
      expect(r.stdout).toMatch(/web0: answered by m0[\s\S]*m0 hangs[\s\S]*web0: answered by m1/);
      // The lab's namespaces are named after the lab tool's pid: none of them is left.
      expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toMatch(
        new RegExp(`^clul${(r.pid ?? 0) % 10_000}`, "m"),
      );
    }, 100_000);
  },
);
