// The quorum partitions: what the rest of clumanager uses of src/disk.
export { type AccessOptions, type CopyAccess, testAccess } from "./access-test.js";
export { type Block, type Decoded, decodeBlock, encodeBlock } from "./block.js";
export { configCapacity, type StoredConfig } from "./config-region.js";
export { DEFAULT_IO_TIMEOUT_MS, DirectDevice, MAX_STUCK_TRANSFERS } from "./device.js";
export * from "./errors.js";
export * from "./format.js";
export type { PartitionHeader } from "./header-block.js";
export {
  checkClusterName,
  type InitOptions,
  type InitResult,
  initialisePair,
  uuidString,
} from "./initialise.js";
export { type BlockRow, type CopyView, inspectPair, type PrintReport } from "./inspect.js";
export {
  computeLayout,
  formatBytes,
  type Layout,
  layoutFor,
  mailboxIndex,
  type RegionName,
} from "./layout.js";
export { emptyLock, type LockSlot, NO_TARGET } from "./lock-block.js";
export { emptyMail, type Mail, MailKind } from "./mailbox-block.js";
export { openBoth, type PairOptions, QuorumPair, type ReadResult } from "./pair.js";
export { emptyService, NO_OWNER, type ServiceRecord, ServiceState } from "./service-block.js";
export { emptyStatus, MemberState, type MemberStatus } from "./status-block.js";
export { UPGRADE_WATCH_MS, type UpgradeOptions, type UpgradeResult, upgradePair } from "./upgrade.js";
export {
  type Damage,
  type RepairOptions,
  type RepairReport,
  repairExitCode,
  repairPair,
  VERIFY_CLEAN,
  VERIFY_REPAIRABLE,
  VERIFY_UNREPAIRABLE,
  type VerifyReport,
  verifyExitCode,
  verifyPair,
} from "./verify.js";
export { wallClock } from "./wall-clock.js";
