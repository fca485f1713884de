// Where `cluster status` gets its view: the local daemon over its admin socket, or, when none
// answers, the quorum partitions themselves (read-only), so an administrator can look at a
// cluster whose daemon is down on this member.
import { join } from "node:path";
import { parseDocument } from "../config/document.js";
import { ConfigFileError } from "../config/read.js";
import { formatErrors, validateDocument } from "../config/validate.js";
import { SOCKET_FILE } from "../daemon/paths.js";
import { DiskError } from "../disk/errors.js";
import { ChangeRefused, currentConfigText } from "./change.js";
import type { ClusterStatus } from "./cluster-status.js";
import { askDaemon, DaemonUnreachable } from "./daemon-client.js";
import { statusFromPartitions } from "./disk-status.js";

export async function clusterStatus(
  configPath: string,
  member: string | undefined,
  runDir: string,
): Promise<ClusterStatus> {
  const socket = join(runDir, SOCKET_FILE);
  let why: string;
  try {
    const answer = await askDaemon(socket, { command: "status" });
    if (answer.ok) return answer.status as ClusterStatus;
    why = `the daemon answered: ${answer.error}`;
  } catch (err) {
    if (!(err instanceof DaemonUnreachable)) throw err;
    why = err.message;
  }
  let text: string;
  try {
    ({ text } = await currentConfigText(configPath, member));
  } catch (err) {
    // Say first why the daemon gave no status: that is what the administrator asked about.
    const message = `${why}, and the configuration cannot be read either: ${(err as Error).message}`;
    if (err instanceof ConfigFileError) throw new ConfigFileError(message, err.code);
    throw new ChangeRefused(message);
  }
  const checked = validateDocument(parseDocument(text));
  if (!checked.ok) {
    throw new ChangeRefused(
      `${why}, and the configuration is not valid, so the quorum partitions cannot be found:\n${formatErrors(configPath, checked.errors).join("\n")}`,
    );
  }
  try {
    return await statusFromPartitions(checked.config, configPath, why, member);
  } catch (err) {
    if (!(err instanceof DiskError)) throw err;
    throw new ChangeRefused(`${why}, and the quorum partitions cannot be read either: ${err.message}`);
  }
}
