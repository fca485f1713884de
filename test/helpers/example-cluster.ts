// A fresh cluster on partition files (ext4, direct I/O): both partitions initialised for the
// example configuration's cluster, and conf/cluster.conf pointed at them, as root keeps it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initialisePair } from "../../src/disk/initialise.js";
import { zeroFile } from "./scratch.js";

export const EXAMPLE_CONF = readFileSync("conf/cluster.conf", "utf8");

export interface ExampleCluster {
  primary: string;
  backup: string;
  /** The configuration file's path, and its text. */
  conf: string;
  text: string;
}

/** `name` keeps the files apart from other clusters in `dir`. */
export async function exampleCluster(dir: string, name: string): Promise<ExampleCluster> {
  const primary = zeroFile(join(dir, `${name}-p.img`), 4 << 20);
  const backup = zeroFile(join(dir, `${name}-b.img`), 4 << 20);
  await initialisePair(primary, backup, { clusterName: "octane", maxMembers: 4, maxServices: 8 });
  const conf = join(dir, `${name}.conf`);
  const text = EXAMPLE_CONF.replace("/dev/sdb1", primary).replace("/dev/sdb2", backup);
  writeFileSync(conf, text, { mode: 0o600 });
  return { primary, backup, conf, text };
}
