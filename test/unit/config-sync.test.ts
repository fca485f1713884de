// Keeping the local cluster.conf equal to the view on the quorum partitions.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigSync } from "../../src/daemon/config-sync.js";
import type { StoredConfig } from "../../src/disk/config-region.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());

describe("ConfigSync", () => {
  it("leaves the file alone before any view is stored, rewrites it for a new view, once", async () => {
    const path = join(dir.path, "a.conf");
    writeFileSync(path, "old\n", { mode: 0o640 });
    let stored: StoredConfig = { view: 0, text: "" };
    const sync = new ConfigSync(path, async () => stored);
    expect(await sync.check()).toEqual({ kind: "unchanged", view: 0 });
    stored = { view: 3, text: "new\n" };
    expect(await sync.check()).toEqual({ kind: "rewritten", view: 3 });
    expect(readFileSync(path, "utf8")).toBe("new\n");
    expect(statSync(path).mode & 0o777).toBe(0o640);
    // An administrator's local edit is not fought over for a view already applied.
    writeFileSync(path, "edited by hand\n");
    expect(await sync.check()).toEqual({ kind: "unchanged", view: 3 });
    expect(sync.view).toBe(3);
  });

  it("reports a file it cannot rewrite, and tries again at the next look", async () => {
    // A directory where the file should be: renaming over it fails, for root too.
    const path = join(dir.path, "b.conf");
    mkdirSync(path);
    const sync = new ConfigSync(path, async () => ({ view: 1, text: "new\n" }));
    const first = await sync.check();
    expect(first).toMatchObject({ kind: "failed", view: 1 });
    expect(sync.view).toBe(-1);
    rmSync(path, { recursive: true });
    expect(await sync.check()).toEqual({ kind: "rewritten", view: 1 });
    expect(readFileSync(path, "utf8")).toBe("new\n");
  });
});
