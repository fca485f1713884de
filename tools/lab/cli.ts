// The lab tool: an N-member cluster on this machine, and a prompt to hurt it.
//
//   npm run lab -- [--members N] [--files] [--netns]
//
// Members are real daemons; their power switches are simulators whose outlets kill and restart
// them; each member runs a sample HTTP service. Everything is torn down on "quit", end of input,
// Ctrl-C or SIGTERM.
import { spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { runLabLine } from "./commands.js";
import { Lab, MAX_LAB_MEMBERS } from "./lab.js";

/** How long "members up" may wait for the sample services to be placed and running. */
const SERVICES_READY_MS = 20_000;

const HELP = `usage: npm run lab -- [--members N] [--files] [--netns]
  --members N   members, 2 to ${MAX_LAB_MEMBERS} (default 2)
  --files       quorum partitions on files even as root (the default without root)
  --netns       each member in a network namespace of its own, services on floating addresses (root)`;

function usage(message: string): never {
  process.stderr.write(`lab: ${message}\n${HELP}\n`);
  process.exit(64);
}

async function main(): Promise<void> {
  let values: { members?: string; files?: boolean; netns?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        members: { type: "string" },
        files: { type: "boolean" },
        netns: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const members = Number(values.members ?? 2);
  if (!Number.isInteger(members) || members < 2 || members > MAX_LAB_MEMBERS)
    usage(`--members must be a whole number from 2 to ${MAX_LAB_MEMBERS}, not ${values.members}`);
  const root = process.getuid?.() === 0;
  if (values.netns && !root) usage("--netns needs root");
  // The RPS-10 simulators' serial lines are socat's pseudo-terminals.
  if (values.netns && spawnSync("socat", ["-V"], { stdio: "ignore" }).error !== undefined) {
    process.stderr.write(
      "lab: --netns needs socat for its RPS-10 switches' serial lines; install the socat package\n",
    );
    process.exit(69);
  }
  const loops = root && !values.files;
  let nps: number[] = [];
  let rps10: string[] = [];
  const lab = new Lab({
    members,
    sampleServices: true,
    storage: loops ? "loop" : "file",
    ...(loops ? { ownPaths: Array.from({ length: members }, (_, m) => m) } : {}),
    ...(values.netns ? { netns: true } : {}),
    // Across network namespaces a serial line still reaches the switch; a TCP one would not.
    power: (m) =>
      values.netns
        ? { type: "rps10", device: rps10[m] as string }
        : { type: "wti_nps", host: "127.0.0.1", port: nps[m] as number },
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      process.stdout.write("tearing the lab down\n");
      await lab.close();
    })();
    return closing;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void close().then(() => process.exit(signal === "SIGINT" ? 130 : 143)));
  try {
    await lab.create();
    if (values.netns) rps10 = await lab.startRps10PerMember();
    else nps = await lab.startNpsPerMember();
    await lab.startAll();
  } catch (err) {
    process.stderr.write(`lab: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    await close();
    process.exitCode = 1;
    return;
  }
  const say = (text: string) => process.stdout.write(`${text}\n`);
  const pending = await lab.servicesRunning(SERVICES_READY_MS);
  if (pending.length > 0)
    say(
      `lab: not every service runs after ${SERVICES_READY_MS / 1000} s (${pending.join(", ")}); "status" shows them`,
    );
  say(
    `lab: ${members} members up, partitions on ${lab.storage === "loop" ? "loop devices" : "files"} in ${lab.dir.path}`,
  );
  say(`configuration: ${lab.config}; each member's log: ${lab.logFile(0).replace("member0", "memberN")}`);
  say(
    `sample services web0..web${members - 1} at ${lab.serviceAddress(0)}:${lab.servicePort(0)} and up; "help" lists the commands`,
  );
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: "lab> " });
  rl.prompt();
  // One line at a time, in order: a fault is injected before the next line is read.
  for await (const line of rl) {
    if (line.trim() === "quit") break;
    await runLabLine(lab, line, say);
    rl.prompt();
  }
  rl.close();
  await close();
}

await main();
