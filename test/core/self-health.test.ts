import { describe, expect, it } from "vitest";
import { SelfHealth } from "../../src/core/self-health.js";
import { emptyMail, MailKind } from "../../src/disk/mailbox-block.js";

const fencedNotice = (incarnation: number, from = 2) => ({
  ...emptyMail(1, from),
  kind: MailKind.Fenced,
  sequence: 1,
  incarnation,
});

describe("self-health", () => {
  it("stays healthy while writes to both copies land within io_timeout", () => {
    const h = new SelfHealth(3000, 5, 0);
    for (let t = 1000; t <= 20_000; t += 1000) {
      h.writeStarted(t);
      h.writeFinished(true, t, t + 40);
      expect(h.healthy(t + 40)).toBe(true);
      expect(h.mustSelfFence(t + 40)).toBeUndefined();
    }
  });

  it("self-fences when a write stays pending past io_timeout, before it ever returns", () => {
    const h = new SelfHealth(3000, 5, 0);
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
    const failed = new SelfHealth(3000, 5, 0);
    failed.writeStarted(1000);
    failed.writeFinished(false, 1000, 1010);
    expect(failed.mustSelfFence(1010)).toMatchObject({ detail: expect.stringMatching(/failed/) });
    const late = new SelfHealth(3000, 5, 0);
    late.writeStarted(1000);
    late.writeFinished(true, 1000, 4200);
    expect(late.mustSelfFence(4200)).toMatchObject({ detail: expect.stringMatching(/took 3200 ms/) });
  });

  it("self-fences on a fenced notice for its own incarnation only", () => {
    const h = new SelfHealth(3000, 5, 0);
    h.mail(fencedNotice(4)); // about an earlier life: already served by the restart
    h.mail({ ...fencedNotice(5), kind: MailKind.AdminRequest });
    expect(h.mustSelfFence(10)).toBeUndefined();
    h.mail(fencedNotice(5, 3));
    expect(h.mustSelfFence(10)).toEqual({ kind: "fenced-notice", by: 3, incarnation: 5 });
  });

  it("is not healthy enough to fence after a stall until a write lands again", () => {
    const h = new SelfHealth(3000, 5, 0);
    h.writeStarted(1000);
    h.writeFinished(true, 1000, 1010);
    // The daemon was stopped for 20 s: nothing pending, so no self-fence, but no fencing either.
    expect(h.mustSelfFence(21_000)).toBeUndefined();
    expect(h.healthy(21_000)).toBe(false);
    h.writeStarted(21_000);
    h.writeFinished(true, 21_000, 21_020);
    expect(h.healthy(21_020)).toBe(true);
  });
});
