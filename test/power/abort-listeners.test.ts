// Every wait of a driver on a step's abort signal takes its listener off again when it ends: a
// step that waits once per line or chunk a switch sends must not pile listeners on its signal
// (Node warns past ten, and each one keeps its finished wait alive).
import { getEventListeners } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, beforeEach, expect, it } from "vitest";
import { abortableWait } from "../../src/power/abortable.js";
import { parseRps10Line } from "../../src/power/rps10-protocol.js";
import { ReplyWaiter } from "../../src/power/rps10-replies.js";
import { TelnetSession } from "../../src/power/telnet-session.js";
import { WtiNpsSwitch } from "../../src/power/wti-nps.js";
import { renderStatusTable } from "../../src/power/wti-nps-protocol.js";

/** More waits on one signal than Node's default listener limit (10), by far. */
const WAITS = 100;

let warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
beforeEach(() => {
  warnings = [];
  process.on("warning", onWarning);
});
afterEach(() => {
  process.off("warning", onWarning);
});

const tick = () => new Promise((r) => setImmediate(r));
const listeners = (signal: AbortSignal) => getEventListeners(signal, "abort").length;
const leaks = () => warnings.filter((w) => w.name === "MaxListenersExceededWarning");

it("leaves no listener behind on the signal, however many waits end on it", async () => {
  const signal = new AbortController().signal;
  for (let i = 0; i < WAITS; i++) {
    await abortableWait(signal, "aborted", (settle) => {
      const timer = setTimeout(() => settle("done"), 0);
      return () => clearTimeout(timer);
    });
    // Settled at once, before the cleanup was handed back.
    await abortableWait(signal, "aborted", (settle) => {
      settle("done");
      return undefined;
    });
  }
  expect(listeners(signal)).toBe(0);
  await tick();
  expect(leaks()).toEqual([]);
});

it("resolves with the aborted value and removes the cleanup when the signal aborts", async () => {
  const abort = new AbortController();
  let cleaned = false;
  const wait = abortableWait(abort.signal, "aborted", () => () => {
    cleaned = true;
  });
  expect(listeners(abort.signal)).toBe(1);
  abort.abort();
  expect(await wait).toBe("aborted");
  expect(cleaned).toBe(true);
  expect(listeners(abort.signal)).toBe(0);
});

it("the RPS-10 reply waits skip many lines on one step's signal without keeping a listener", async () => {
  const signal = new AbortController().signal;
  const waiter = new ReplyWaiter("the switch on /dev/ttyTEST");
  const start = listeners(signal);
  const reply = waiter.next((r) => (r.kind === "complete" ? true : undefined), signal);
  for (let i = 0; i < WAITS; i++) {
    await tick();
    waiter.push(parseRps10Line(`noise ${i}`));
  }
  waiter.push(parseRps10Line("Complete"));
  expect(await reply).toBe(true);
  // The quiet wait, woken by every line until the line goes quiet.
  const quiet = waiter.quiet(20, signal);
  for (let i = 0; i < WAITS; i++) {
    await tick();
    waiter.push(parseRps10Line(`Plug ${i % 10} On`));
  }
  await quiet;
  expect(listeners(signal)).toBe(start);
  await tick();
  expect(leaks()).toEqual([]);
});

/** A server that writes `parts` one at a time, each after the client has surely read the last. */
async function dribbling(parts: string[]): Promise<{ server: Server; port: number }> {
  const server = createServer(async (socket: Socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    for (const part of parts) {
      await new Promise((r) => setTimeout(r, 2));
      if (socket.destroyed) return;
      socket.write(part);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  return { server, port: typeof address === "object" && address !== null ? address.port : 0 };
}

it("a telnet session's prompt wait takes many chunks on one signal without keeping a listener", async () => {
  const banner = [..."Network Power Switch v3.34, slowly".split(""), "\r\nNPS> "];
  const { server, port } = await dribbling(banner);
  const socket = connect({ host: "127.0.0.1", port });
  try {
    const session = new TelnetSession(socket, `the switch at 127.0.0.1:${port}`);
    const signal = new AbortController().signal;
    const { output } = await session.until([/NPS>\s*$/], signal);
    expect(output).toContain("Network Power Switch");
    expect(listeners(signal)).toBe(0);
    await tick();
    expect(leaks()).toEqual([]);
  } finally {
    socket.destroy();
    server.close();
  }
});

it("the NPS driver logs in through a prompt sent a byte at a time without a listener warning", async () => {
  // No password: the prompt alone logs in; then the table for /S, and nothing more is needed.
  const prompt = "\r\nNetwork Power Switch v3.34\r\n\r\nNPS> ";
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    const send = async (text: string) => {
      for (const ch of text) {
        await new Promise((r) => setTimeout(r, 1));
        if (socket.destroyed) return;
        socket.write(ch);
      }
    };
    void send(prompt);
    socket.on("data", (d) => {
      if (d.toString().startsWith("/S"))
        void send(
          `/S\r\n${renderStatusTable([{ plug: "1", name: "clu1", state: "on", busy: false }])}\r\nNPS> `,
        );
      else if (d.toString().startsWith("/X")) socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  try {
    const sw = new WtiNpsSwitch({ host: "127.0.0.1", port, timeouts: { login: 10_000, command: 20_000 } });
    expect(await sw.status("1")).toBe("on");
    await sw.close();
    await tick();
    expect(leaks()).toEqual([]);
  } finally {
    server.close();
  }
});
