// When cluadmin counts a service request done, failed or still under way, from the service's row
// before the request and now.
import { describe, expect, it } from "vitest";
import type { ServiceRow } from "../../src/admin/cluster-status.js";
import { progress } from "../../src/admin/service-control.js";

const row = (extra: Partial<ServiceRow>): ServiceRow => ({
  id: 0,
  name: "nfs",
  state: "running",
  owner: "m0",
  restarts: 0,
  since: "2026-11-22T10:00:00.000Z",
  ...extra,
});
const later = "2026-11-22T10:00:05.000Z";

describe("service request progress", () => {
  const before = row({});

  it("relocate: done on another member, the named one if named", () => {
    const relocate = { op: "relocate", service: "nfs" } as const;
    expect(progress(relocate, before, before)).toBeUndefined();
    expect(progress(relocate, before, row({ state: "stopping", since: later }))).toBeUndefined();
    expect(progress(relocate, before, row({ owner: "m1", since: later }))).toEqual({ done: true });
    expect(progress({ ...relocate, target: "m2" }, before, row({ owner: "m1", since: later }))).toEqual({
      failed: "it started on m1, not on m2",
    });
    expect(progress(relocate, before, row({ since: later }))).toEqual({
      failed: "it started on m0 again: no other member could take it",
    });
    expect(progress({ ...relocate, target: "m0" }, before, before)).toEqual({ done: true });
  });

  it("restart counts only a new start; disable and enable wait for their state", () => {
    expect(progress({ op: "restart", service: "nfs" }, before, row({ since: later }))).toBeUndefined();
    expect(progress({ op: "restart", service: "nfs" }, before, row({ restarts: 1, since: later }))).toEqual({
      done: true,
    });
    expect(progress({ op: "disable", service: "nfs" }, before, row({ state: "stopping" }))).toBeUndefined();
    expect(progress({ op: "disable", service: "nfs" }, before, row({ state: "disabled" }))).toEqual({
      done: true,
    });
    const off = row({ state: "disabled", owner: undefined });
    expect(progress({ op: "enable", service: "nfs" }, off, row({ state: "starting" }))).toBeUndefined();
    expect(progress({ op: "enable", service: "nfs" }, off, row({}))).toEqual({ done: true });
  });

  it("a service that fails on the way is a failed request, an old failure is not", () => {
    expect(
      progress({ op: "disable", service: "nfs" }, before, row({ state: "failed", since: later })),
    ).toEqual({ failed: "it failed on m0" });
    const failed = row({ state: "failed" });
    expect(progress({ op: "disable", service: "nfs" }, failed, failed)).toBeUndefined();
  });
});
