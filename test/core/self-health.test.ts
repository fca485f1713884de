import { describe, expect, it } from "vitest";
import { SelfHealth } from "../../src/core/self-health.js";
import { emptyMail, MailKind } from "../../src/disk/mailbox-block.js";

const fencedNotice = (incarnation: number, from = 2) => ({
  ...emptyMail(1, from),
  kind: MailKind.Fenced,
  sequence: 1,
  incarnation,
});

/** io_timeout 3 s, incarnation 5, tko x interval 7 s. */
const config = { ioTimeoutMs: 3000, incarnation: 5, mailboxBlindMs: 7000 };

describe("self-health", () => {
  it("stays healthy while writes to both copies land within io_timeout", () => {
    const h = new SelfHealth(config, 0);
    for (let t = 1000; t <= 20_000; t += 1000) {
      h.writeStarted(t);
      h.writeFinished(true, t, t + 40);
      expect(h.healthy(t + 40)).toBe(true);
      expect(h.mustSelfFence(t + 40)).toBeUndefined();
    }
  });

  it("self-fences when a write stays pending past io_timeout, before it ever returns", () => {
    const h = new SelfHealth(config, 0);
    h.writeStarted(1000);
    expect(h.mustSelfFence(4000)).toBeUndefined();
    expect(h.mustSelfFence(4001)).toMatchObject({
      kind: "io-timeout",
      detail: expect.stringMatching(/pending for 3001 ms/),
    });
    // It never clears, even if the write finally lands.
    h.writeFinished(true, 1000, 4500);
    expect(h.mustSelfFence(4600)).toMatchObject({ kind: "io-timeout" });
    expect(h.healthy(4600)).toBe(false);
  });

  it("self-fences when a write to one copy fails or lands too late", () => {
    const failed = new SelfHealth(config, 0);
    failed.writeStarted(1000);
    failed.writeFinished(false, 1000, 1010);
    expect(failed.mustSelfFence(1010)).toMatchObject({ detail: expect.stringMatching(/failed/) });
    const late = new SelfHealth(config, 0);
    late.writeStarted(1000);
    late.writeFinished(true, 1000, 4200);
    expect(late.mustSelfFence(4200)).toMatchObject({ detail: expect.stringMatching(/took 3200 ms/) });
  });

  it("self-fences on a fenced notice for its own incarnation only", () => {
    const h = new SelfHealth(config, 0);
    h.mail(fencedNotice(4)); // about an earlier life: already served by the restart
    h.mail({ ...fencedNotice(5), kind: MailKind.AdminRequest });
    expect(h.mustSelfFence(10)).toBeUndefined();
    h.mail(fencedNotice(5, 3));
    expect(h.mustSelfFence(10)).toEqual({ kind: "fenced-notice", by: 3, incarnation: 5 });
  });

  it("is not healthy enough to fence after a stall until a write lands again", () => {
    const h = new SelfHealth(config, 0);
    h.writeStarted(1000);
    h.writeFinished(true, 1000, 1010);
    // The daemon was stopped for 20 s: nothing pending, so no self-fence, but no fencing either.
    expect(h.mustSelfFence(21_000)).toBeUndefined();
    expect(h.healthy(21_000)).toBe(false);
    h.writeStarted(21_000);
    h.writeFinished(true, 21_000, 21_020);
    expect(h.healthy(21_020)).toBe(true);
  });

  it("self-fences when a peer's status names its own current life as fenced, and only then", () => {
    const h = new SelfHealth(config, 0);
    h.fencedBy(2, 4); // an earlier life of this member
    expect(h.mustSelfFence(10)).toBeUndefined();
    h.fencedBy(3, 5);
    expect(h.mustSelfFence(10)).toEqual({ kind: "fenced-status", by: 3, incarnation: 5 });
  });

  it("self-fences when its own status block holds a newer life of it", () => {
    const h = new SelfHealth(config, 0);
    h.ownStatus(5);
    h.ownStatus(4);
    expect(h.mustSelfFence(10)).toBeUndefined();
    h.ownStatus(6);
    expect(h.mustSelfFence(10)).toEqual({ kind: "superseded", incarnation: 6 });
  });

  it("self-fences once its own mailbox has been unreadable for longer than its peers' hang window", () => {
    const h = new SelfHealth(config, 0);
    const beat = (t: number, mailOk: boolean) => {
      h.writeStarted(t);
      h.writeFinished(true, t, t + 10);
      h.readFinished(true, mailOk, t + 10);
    };
    beat(1000, false);
    // A read that works again starts the count over.
    beat(7000, true);
    for (let t = 8000; t <= 15_000; t += 1000) beat(t, false);
    expect(h.mustSelfFence(15_010)).toBeUndefined(); // blind since 8010: 7000 ms, not longer
    beat(16_000, false);
    expect(h.mustSelfFence(16_010)).toMatchObject({
      kind: "mailbox-unreadable",
      detail: expect.stringMatching(
        /could not be read for 8000 ms, longer than its peers' hang window \(7000 ms\)/,
      ),
    });
    // A stall between reads is not blindness: nothing failed while it stood still.
    const stalled = new SelfHealth(config, 0);
    stalled.readFinished(true, true, 1000);
    stalled.readFinished(true, false, 30_000);
    expect(stalled.mustSelfFence(30_000)).toBeUndefined();
  });
});
