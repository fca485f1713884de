// What an RPS-10 line can make the driver keep is bounded: a line without an end is cut at the
// longest line the protocol has, and a switch that floods the line with more lines than any
// answer holds is one clear error, not a growing queue.
import { expect, it } from "vitest";
import { Garbled } from "../../src/power/errors.js";
import { LineSplitter, parseRps10Line } from "../../src/power/rps10-protocol.js";
import { MAX_PENDING_REPLIES, ReplyWaiter } from "../../src/power/rps10-replies.js";

it("fails the wait once more lines are queued than any answer holds, and keeps no more", async () => {
  const waiter = new ReplyWaiter("the switch on /dev/ttyS0");
  for (let i = 0; i < 10 * MAX_PENDING_REPLIES; i++) {
    waiter.push(parseRps10Line(`Plug ${i % 10} On`));
    expect(waiter.pending).toBeLessThanOrEqual(MAX_PENDING_REPLIES);
  }
  const err = await waiter
    .next((r) => (r.kind === "complete" ? true : undefined), new AbortController().signal)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Garbled);
  expect((err as Error).message).toBe(
    `the switch on /dev/ttyS0 sent more than ${MAX_PENDING_REPLIES} lines without the answer awaited; check that it is an RPS-10 at 9600 8N1`,
  );
  expect(waiter.pending).toBe(0);
});

it("keeps at most one line's worth of a line that never ends", () => {
  const splitter = new LineSplitter(256);
  for (let i = 0; i < 1_000; i++) expect(splitter.push("x".repeat(1_000))).toEqual([]);
  const [line] = splitter.push("\r\n");
  expect(line).toHaveLength(256);
});
