// The lab tool's commands: each line typed at its prompt (or piped to it) is one of these. They
// inject the faults an administrator fears, one member at a time, and show what the cluster did.
import { renderStatus } from "../../src/admin/cluster-status.js";
import { ADMIN_EXIT } from "../../src/admin/commands.js";
import { main as cluadmin } from "../../src/cli/cluadmin-main.js";
import { askOnce } from "./http-probe.js";
import type { Lab } from "./lab.js";

export interface LabCommand {
  usage: string;
  help: string;
  /** Needs root (loop devices, nftables). */
  root?: boolean;
  run(lab: Lab, args: string[], say: (text: string) => void): Promise<void>;
}

const LOG_LINES_DEFAULT = 10;
const MAX_SLEEP_S = 600;

/** A command typed wrong: its usage follows the sentence. Any other failure is the sentence alone. */
class LabUsageError extends Error {}

function member(lab: Lab, word: string | undefined): number {
  const m = Number(word?.replace(/^m/, ""));
  if (word === undefined || !Number.isInteger(m) || m < 0 || m >= lab.options.members)
    throw new LabUsageError(`name a member, m0 to m${lab.options.members - 1}`);
  return m;
}

function askFromClient(lab: Lab, address: string, port: number): string | undefined {
  const r = lab.inClient(
    `require("http").get({host:"${address}",port:${port},agent:false,timeout:500},(res)=>{let b="";` +
      `res.on("data",(c)=>b+=c);res.on("end",()=>console.log(b.trim()))}).on("error",()=>{}).on("timeout",function(){this.destroy()})`,
  );
  return r.status === 0 && r.out !== "" ? r.out : undefined;
}

/** The first member whose daemon answers, to ask about the cluster. */
async function anyMember(lab: Lab): Promise<number> {
  for (let m = 0; m < lab.options.members; m++) {
    if (
      await lab.status(m).then(
        () => true,
        () => false,
      )
    )
      return m;
  }
  throw new Error("no member's daemon answers");
}

export const LAB_COMMANDS: Record<string, LabCommand> = {
  status: {
    usage: "status [MEMBER]",
    help: "cluadmin cluster status, as MEMBER (or the first that answers) sees it",
    async run(lab, [m], say) {
      const who = m === undefined ? await anyMember(lab) : member(lab, m);
      say(renderStatus(await lab.status(who)));
    },
  },
  hang: {
    usage: "hang MEMBER",
    help: "freeze the member and its services (SIGSTOP to its process group)",
    async run(lab, [m], say) {
      lab.hang(member(lab, m));
      say(`m${member(lab, m)} hangs; its peers will find it hung and power-cycle it`);
    },
  },
  crash: {
    usage: "crash MEMBER",
    help: "kill the member's daemon (SIGKILL); its services keep running until it is fenced",
    async run(lab, [m], say) {
      lab.signal(member(lab, m), "SIGKILL");
      say(`m${member(lab, m)}'s daemon is dead; its peers will power-cycle it`);
    },
  },
  cut: {
    usage: "cut MEMBER",
    help: "drop the member's network heartbeats (the disk still carries its heartbeat)",
    root: true,
    async run(lab, [m], say) {
      lab.cutNetwork(member(lab, m), true);
      say(`m${member(lab, m)}'s network heartbeats are dropped; "mend ${m}" restores them`);
    },
  },
  mend: {
    usage: "mend MEMBER",
    help: "restore the member's network heartbeats",
    root: true,
    async run(lab, [m], say) {
      lab.cutNetwork(member(lab, m), false);
      say(`m${member(lab, m)}'s network heartbeats flow again`);
    },
  },
  readonly: {
    usage: "readonly MEMBER",
    help: "make the member's path to the quorum partitions read-only: it self-fences",
    root: true,
    async run(lab, [m], say) {
      lab.readOnly(member(lab, m), true);
      say(`m${member(lab, m)} can no longer write its heartbeat; "writable ${m}" undoes it`);
    },
  },
  writable: {
    usage: "writable MEMBER",
    help: "make the member's path to the quorum partitions writable again",
    root: true,
    async run(lab, [m], say) {
      lab.readOnly(member(lab, m), false);
      say(`m${member(lab, m)}'s path is writable; a member that stopped is started again by its power cycle`);
    },
  },
  corrupt: {
    usage: "corrupt MEMBER",
    help: "overwrite part of the member's status block on the primary partition",
    async run(lab, [m], say) {
      const where = lab.corruptStatusBlock(member(lab, m));
      say(`wrote garbage into ${where}; the members read the backup copy and log the damage`);
    },
  },
  "switch-fail": {
    usage: "switch-fail MEMBER",
    help: "the member's power switch stops answering: fencing it fails until switch-fix",
    async run(lab, [m], say) {
      lab.failSwitch(member(lab, m), true);
      say(`m${member(lab, m)}'s switch is frozen`);
    },
  },
  "switch-fix": {
    usage: "switch-fix MEMBER",
    help: "the member's power switch answers again",
    async run(lab, [m], say) {
      lab.failSwitch(member(lab, m), false);
      say(`m${member(lab, m)}'s switch answers again`);
    },
  },
  ask: {
    usage: "ask SERVICE",
    help: "ask a sample service (webN) over HTTP which member answers",
    async run(lab, [s], say) {
      const n = Number(s?.replace(/^web/, ""));
      if (s === undefined || !Number.isInteger(n) || n < 0 || n >= lab.options.members)
        throw new LabUsageError(`name a sample service, web0 to web${lab.options.members - 1}`);
      // With namespaces, the service's floating address is reached from the client namespace.
      const who = lab.options.netns
        ? askFromClient(lab, lab.serviceAddress(n), lab.servicePort(n))
        : await askOnce(lab.serviceAddress(n), lab.servicePort(n));
      say(who === undefined ? `web${n}: no answer` : `web${n}: answered by ${who}`);
    },
  },
  service: {
    usage: "service enable|disable|relocate|restart NAME [MEMBER]",
    help: "a cluadmin service request, asked of the first member that answers",
    async run(lab, args, say) {
      const who = await anyMember(lab);
      const code = await cluadmin(
        ["-c", lab.config, "--run-dir", lab.runDir(who), "--", "service", ...args],
        {
          out: say,
          err: say,
        },
      );
      // cluadmin has said why it failed; only words it could not take want the lab's usage too.
      if (code === ADMIN_EXIT.usage) throw new LabUsageError(`cluadmin exited ${code}`);
    },
  },
  sleep: {
    usage: "sleep SECONDS",
    help: "wait, as a script piped to the lab may want to",
    async run(_lab, [s], say) {
      const seconds = Number(s);
      if (!(seconds >= 0 && seconds <= MAX_SLEEP_S))
        throw new LabUsageError(`sleep takes 0 to ${MAX_SLEEP_S} seconds`);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      say(`slept ${seconds} s`);
    },
  },
  log: {
    usage: "log MEMBER [LINES]",
    help: `the member's last log lines (default ${LOG_LINES_DEFAULT})`,
    async run(lab, [m, n], say) {
      const lines = lab.log(member(lab, m)).slice(-(Number(n) || LOG_LINES_DEFAULT));
      say(lines.map((l) => `${l.time} ${l.level} ${l.msg}`).join("\n"));
    },
  },
};

/** Runs one line; a mistake is one sentence, and the lab goes on. */
export async function runLabLine(lab: Lab, line: string, say: (text: string) => void): Promise<void> {
  const [word, ...args] = line.trim().split(/\s+/);
  if (word === undefined || word === "") return;
  if (word === "help") {
    for (const c of Object.values(LAB_COMMANDS))
      say(`  ${c.usage.padEnd(52)} ${c.help}${c.root ? " (root)" : ""}`);
    say(`  ${"quit".padEnd(52)} tear everything down and leave`);
    return;
  }
  const command = LAB_COMMANDS[word];
  if (command === undefined) {
    say(`unknown command ${word}; "help" lists them`);
    return;
  }
  if (command.root && process.getuid?.() !== 0) {
    say(`${word} needs root; run the lab as root`);
    return;
  }
  try {
    await command.run(lab, args, say);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    say(
      err instanceof LabUsageError ? `${word}: ${message} (usage: ${command.usage})` : `${word}: ${message}`,
    );
  }
}
