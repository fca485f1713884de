// A fake NPS on loopback that floods: pages of /S output that never reach the prompt, or an
// endless stream with no prompt at all. Each is one clear error naming the switch and the limit,
// and the driver keeps no more than the limit while it reads.
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import type { MemberConfig } from "../../src/config/model.js";
import { SwitchChecker } from "../../src/daemon/switch-check.js";
import { Garbled } from "../../src/power/errors.js";
import { MAX_SESSION_OUTPUT, TelnetSession } from "../../src/power/telnet-session.js";
import { MAX_STATUS_OUTPUT, MAX_STATUS_PAGES, WtiNpsSwitch } from "../../src/power/wti-nps.js";

/** One page of the fake switch: 60 KB of table-like rows, then the pager's prompt. */
const PAGE = `${" 1   | clu1             | (undefined)      |  ON    |   5 Secs   |   ON    |\r\n".repeat(780)}Enter: `;
/** What the endless flood writes at a time, and at most in all (so a broken driver cannot hang the test). */
const CHUNK = "x".repeat(16 * 1024);
const FLOOD_LIMIT = 64 * 1024 * 1024;

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function listen(serve: (socket: Socket) => void): Promise<number> {
  server = createServer((socket) => {
    socket.on("error", () => {});
    serve(socket);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

/** Logs in without a password, then answers /S and every next-page request with another page. */
async function pagingForever(): Promise<{ port: number; pages: () => number }> {
  let pages = 0;
  const port = await listen((socket) => {
    socket.write("\r\nNetwork Power Switch v3.34\r\n\r\nNPS> ");
    socket.on("data", (d) => {
      for (const line of d.toString("latin1").split("\r\n").slice(0, -1)) {
        if (line === "/S" || line === "") {
          pages++;
          socket.write(PAGE);
        }
      }
    });
  });
  return { port, pages: () => pages };
}

/** Writes without end (up to FLOOD_LIMIT) and never a prompt, as long as the client reads. */
async function streamingForever(): Promise<{ port: number; written: () => number }> {
  let written = 0;
  const port = await listen((socket) => {
    const pump = () => {
      while (!socket.destroyed && written < FLOOD_LIMIT) {
        written += CHUNK.length;
        if (!socket.write(CHUNK)) return void socket.once("drain", pump);
      }
    };
    pump();
  });
  return { port, written: () => written };
}

it("gives up on /S output that pages on and on, with one error naming the switch", async () => {
  const { port, pages } = await pagingForever();
  const sw = new WtiNpsSwitch({ host: "127.0.0.1", port, timeouts: { login: 5_000, command: 20_000 } });
  const err = await sw.health().catch((e: unknown) => e);
  expect(err).toMatchObject({ kind: "garbled", step: "status table" });
  expect((err as Error).message).toMatch(
    new RegExp(
      `^wti_nps 127\\.0\\.0\\.1:${port}: status table: the switch at 127\\.0\\.0\\.1:${port} sent \\d+ pages \\(\\d+ bytes\\) of /S output without its command prompt, more than a plug table holds \\(${MAX_STATUS_PAGES} pages, ${MAX_STATUS_OUTPUT} bytes\\)$`,
    ),
  );
  // It stopped asking as soon as the output passed the limit.
  expect(pages()).toBeLessThanOrEqual(Math.ceil(MAX_STATUS_OUTPUT / PAGE.length) + 1);
  await sw.close();
});

it("gives up on a stream with no prompt at all, keeping no more than the limit", async () => {
  const { port, written } = await streamingForever();
  const socket = connect({ host: "127.0.0.1", port });
  const session = new TelnetSession(socket, `the switch at 127.0.0.1:${port}`);
  let most = 0;
  socket.on("data", () => {
    most = Math.max(most, session.buffered);
  });
  const err = await session.until([/NPS>\s*$/], new AbortController().signal).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Garbled);
  expect((err as Error).message).toBe(
    `the switch at 127.0.0.1:${port} sent more than ${MAX_SESSION_OUTPUT} bytes without a prompt; check that it is the switch type configured and that its command prompt is one this driver knows`,
  );
  expect(most).toBeLessThanOrEqual(MAX_SESSION_OUTPUT);
  expect(session.closed).toBe(true);
  expect(written()).toBeLessThan(FLOOD_LIMIT);
});

it("the driver and the daemon's switch check report the flood as a garbled switch", async () => {
  const { port } = await streamingForever();
  const err = await new WtiNpsSwitch({ host: "127.0.0.1", port }).health().catch((e: unknown) => e);
  expect(err).toMatchObject({ kind: "garbled", step: "login" });
  expect((err as Error).message).toMatch(/sent more than 65536 bytes without a prompt/);
  const peer = {
    id: 1,
    name: "clu1",
    channels: [],
    power: { type: "wti_nps", host: "127.0.0.1", port, outlet: "1" },
  } as unknown as MemberConfig;
  const details: string[] = [];
  const checker = new SwitchChecker(
    [peer],
    () => false,
    (c) => details.push(c.check.detail),
  );
  await checker.checkAll();
  expect(checker.result(1)).toMatchObject({ ok: false });
  expect(details).toEqual([expect.stringMatching(/sent more than 65536 bytes without a prompt/)]);
});
