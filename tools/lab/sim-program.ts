// Runs a switch simulator from tools/sim as its own program, the way an administrator would.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SIM_DIR = fileURLToPath(new URL("../sim/", import.meta.url));

function argv(script: string, args: string[]): string[] {
  return ["--import", "tsx", join(SIM_DIR, `${script}.ts`), ...args];
}

/** Starts the simulator and resolves with its first line ("listening PORT", "ready PATH"). */
export async function startSimProgram(
  script: string,
  args: string[],
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, argv(script, args), { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("\n")) resolve(out.trim());
    });
    child.on("exit", (code) => reject(new Error(`simulator exited ${code}`)));
  });
  return { child, line };
}

/** Runs the simulator to completion, for command lines it must refuse. */
export function runSimProgram(script: string, args: string[]) {
  return spawnSync(process.execPath, argv(script, args), { encoding: "utf8", timeout: 30_000 });
}
