// Exit codes shared by the commands (sysexits.h where one fits); each man page lists its own.
import { CONFIG_EXIT } from "../config/read.js";

export const EXIT = {
  ok: 0,
  /** --verify: damage found, all repairable; -t: a partition failed the test. */
  failed: 1,
  /** --verify / --repair: a block is bad on both copies. */
  unrepairable: 2,
  usage: 64,
  /** The partitions are not what was expected: uninitialised, foreign, mismatched. */
  dataError: 65,
  /** A path does not exist or cannot be opened. */
  noInput: 66,
  /** A command that is not built yet. */
  unavailable: 69,
  software: 70,
  /** -I refused to overwrite existing data. */
  cantCreate: 73,
  ioError: 74,
  /** The cluster configuration given with -c cannot be read (EX_CONFIG). */
  config: CONFIG_EXIT,
} as const;
