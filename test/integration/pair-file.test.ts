import { join } from "node:path";
import { afterAll, describe } from "vitest";
import { pairSuite } from "../helpers/pair-suite.js";
import { scratchDir, zeroFile } from "../helpers/scratch.js";

const dir = scratchDir();
afterAll(() => dir.remove());
let n = 0;

describe("quorum partitions on files on ext4", () => {
  pairSuite(() => {
    n++;
    return {
      primary: zeroFile(join(dir.path, `primary-${n}.img`), 2 << 20),
      backup: zeroFile(join(dir.path, `backup-${n}.img`), 2 << 20),
      sectorSize: 512,
    };
  });
});
