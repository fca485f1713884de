// `npm run demo`: a two-member cluster on this machine, no hardware and no root needed. It shows
// the cluster's status, hangs the member running the sample service, and tells the story as it
// happens: the missed heartbeats, the verdict, the power switch confirming off, the service
// starting on the survivor and a client answered again; then the fenced member rejoins.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { renderStatus } from "../../src/admin/cluster-status.js";
import { HttpProbe } from "./http-probe.js";
import { Lab, type LogLine } from "./lab.js";

/** Every step of the story has this long to happen before the demo gives up and says so. */
const STEP_MS = 20_000;
const FAST = { heartbeatInterval: 0.2, tko: 5, tkoNetup: 10, ioTimeout: 0.5, fenceDelay: 1 };

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const storage = process.argv.includes("--files") ? "file" : undefined;
  let ports: number[] = [];
  const lab = new Lab({
    members: 2,
    ...FAST,
    sampleServices: true,
    power: (m) => ({ type: "wti_nps", host: "127.0.0.1", port: ports[m] as number }),
    ...(storage !== undefined ? { storage } : {}),
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= lab.close();
    return closing;
  };
  process.once("SIGINT", () => void close().then(() => process.exit(130)));
  try {
    say(
      `clumanager demo: two members on this machine, quorum partitions on ${lab.storage === "loop" ? "loop devices" : "files"} in ${lab.dir.path}`,
    );
    await lab.create();
    ports = await lab.startNpsPerMember();
    await lab.startAll();
    const port = lab.servicePort(0);
    await lab.waitFor("web0 running on m0", STEP_MS, async () => {
      const s = await lab.status(1);
      const web0 = s.services?.find((v) => v.name === "web0");
      return web0?.owner === "m0" && web0.state === "running" ? true : undefined;
    });
    say("\n$ cluadmin cluster status");
    say(renderStatus(await lab.status(1)));

    const probe = new HttpProbe("127.0.0.1", port);
    probe.start();
    await lab.waitFor("the client answered by m0", STEP_MS, () =>
      probe.last?.member === "m0" ? true : undefined,
    );
    say(`\nA client asks http://127.0.0.1:${port}/ every 10 ms; m0 answers.`);
    say("Now m0 hangs (SIGSTOP to its daemon and its service), as a machine stuck in the kernel would.\n");
    const t0 = Date.now();
    lab.hang(0);
    const at = (ms: number) => `${((ms - t0) / 1000).toFixed(2).padStart(6)} s`;
    const told = new Set<string>();
    const tell = (key: string, ms: number, text: string) => {
      if (told.has(key)) return;
      told.add(key);
      say(`${at(ms)}  ${text}`);
    };
    const logged = (match: (l: LogLine) => boolean) =>
      lab.log(1).find((l) => Date.parse(l.time) >= t0 && match(l));
    let lastBeat: { value: number; atMs: number } | undefined;
    const intervalMs = FAST.heartbeatInterval * 1000;
    await lab.waitFor("m0 to rejoin after its power cycle", 3 * STEP_MS, async () => {
      const s = await lab.status(1);
      const m0 = s.members[0];
      // Missed heartbeats: m1 sees m0's counter on the disk stand still for over an interval.
      if (m0?.heartbeat !== undefined && m0.incarnation === 1) {
        if (lastBeat === undefined || m0.heartbeat !== lastBeat.value)
          lastBeat = { value: m0.heartbeat, atMs: Date.now() };
        else if (Date.now() - lastBeat.atMs > 1.5 * intervalMs)
          tell("missed", Date.now(), `m1 sees m0's heartbeat counter stand still at ${m0.heartbeat}`);
      }
      const hung = logged((l) => l.event === "membership" && l.to === "hung");
      if (hung) {
        tell("hung", Date.parse(hung.time), `m1 declares m0 hung: ${hung.reason as string}`);
        tell(
          "delay",
          Date.parse(hung.time),
          `m1 waits fence_delay (${FAST.fenceDelay} s): of two members, the higher id waits, so two cut off from each other never fence each other at once`,
        );
      }
      const firing = logged((l) => l.event === "fence" && /^fencing member/.test(l.msg));
      if (firing) tell("fire", Date.parse(firing.time), `m1 tells m0's power switch to turn it off`);
      const fenced = logged((l) => l.event === "fence" && / fenced: /.test(l.msg));
      if (fenced)
        tell(
          "fenced",
          Date.parse(fenced.time),
          `the switch confirms m0 off: ${fenced.msg.split(" fenced: ")[1]}`,
        );
      const started = logged((l) => l.event === "service" && l.msg === "service web0: starting");
      if (started) tell("started", Date.parse(started.time), "m1 takes web0 and starts it");
      const answered = probe.answeredBy("m1", t0);
      if (answered) tell("answered", answered.atMs, "the client is answered again, by m1");
      const back = logged((l) => l.event === "membership" && l.peer === 0 && l.to === "up");
      if (back) tell("back", Date.parse(back.time), "m0, power-cycled, rejoins in a new incarnation");
      return back !== undefined && answered !== undefined ? true : undefined;
    });
    const silent = probe.changes.find((c) => c.atMs >= t0 && c.member === undefined);
    const answered = probe.answeredBy("m1", t0);
    probe.stop();
    if (silent !== undefined && answered !== undefined)
      say(`\nThe client went without an answer for ${((answered.atMs - silent.atMs) / 1000).toFixed(2)} s.`);
    await lab.allUp(STEP_MS);
    say("\n$ cluadmin cluster status");
    say(renderStatus(await lab.status(1)));
    return 0;
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    const web = join(lab.dir.path, "web.log");
    if (existsSync(web)) process.stderr.write(`the sample service said:\n${readFileSync(web, "utf8")}`);
    return 1;
  } finally {
    await close();
  }
}

process.exitCode = await main();
