// `sudo npm test` in a plain user's checkout must leave nothing in it that the user cannot
// overwrite: tools/give-back.sh, which npm test runs last, hands root's files back.
import { spawnSync } from "node:child_process";
import { chownSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { needs } from "../helpers/needs.js";
import { scratchDir } from "../helpers/scratch.js";

const USER = 65534; // nobody: any uid that is not root will do
const dir = scratchDir("clumanager-give-back-");
afterAll(() => dir.remove());

/** A checkout owned by USER with files root made in it, as a run under sudo leaves them. */
function checkout(name: string, owner: number): string {
  const root = join(dir.path, name);
  mkdirSync(join(root, "dist", "cli"), { recursive: true });
  writeFileSync(join(root, "dist", "cli", "cluadmin.js"), "");
  writeFileSync(join(root, "README.md"), "");
  chownSync(root, owner, owner);
  chownSync(join(root, "README.md"), owner, owner);
  return root;
}

function giveBack(root: string, env: Record<string, string>): void {
  const { SUDO_UID: _u, SUDO_GID: _g, ...rest } = process.env;
  const r = spawnSync("sh", ["tools/give-back.sh", root], { encoding: "utf8", env: { ...rest, ...env } });
  expect(r.status, r.stderr).toBe(0);
}

const owners = (root: string) =>
  ["dist", "dist/cli", "dist/cli/cluadmin.js", "README.md"].map((p) => statSync(join(root, p)).uid);

needs({ root: true })("give-back after sudo npm test", () => {
  it("hands every root-owned file of a user's checkout back to the user sudo came from", () => {
    const root = checkout("mine", USER);
    giveBack(root, { SUDO_UID: String(USER), SUDO_GID: String(USER) });
    expect(owners(root)).toEqual([USER, USER, USER, USER]);
  });

  it("touches nothing without sudo, or in a checkout that is not that user's", () => {
    const plainRoot = checkout("root-run", USER);
    giveBack(plainRoot, {});
    expect(owners(plainRoot)).toEqual([0, 0, 0, USER]);
    const other = checkout("someone-else", USER);
    giveBack(other, { SUDO_UID: "1234", SUDO_GID: "1234" });
    expect(owners(other)).toEqual([0, 0, 0, USER]);
  });
});
