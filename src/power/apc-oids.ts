// The APC PowerNet MIB objects a driver needs, shared by the driver and the simulator. Two
// families: the Switched Rack PDU (rPDU), and the original MasterSwitch (sPDU), whose one
// outlet-control object both reads the state and takes commands.

export const SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0";
export const APC_RPDU_SYS_OBJECT_ID = "1.3.6.1.4.1.318.1.3.4.5";
export const APC_MASTERSWITCH_V6_SYS_OBJECT_ID = "1.3.6.1.4.1.318.1.3.4.6";
/** What the simulator answers for an original MasterSwitch. */
export const APC_MASTERSWITCH_SYS_OBJECT_ID = "1.3.6.1.4.1.318.1.3.4.1";

export type ApcModel = "rpdu" | "masterswitch";

/** Tables, each given as the table OID: entries are TABLE.1.COLUMN.OUTLET. */
export const RPDU_STATUS_TABLE = "1.3.6.1.4.1.318.1.1.12.3.5.1";
export const RPDU_CONTROL_TABLE = "1.3.6.1.4.1.318.1.1.12.3.3.1";
export const SPDU_CONTROL_TABLE = "1.3.6.1.4.1.318.1.1.4.4.2";

export const RPDU_STATUS_COLUMNS = { index: 1, name: 2, state: 4, pending: 5 } as const;
export const RPDU_CONTROL_COLUMNS = { index: 1, name: 2, command: 4 } as const;
export const SPDU_CONTROL_COLUMNS = { index: 1, control: 3, name: 4 } as const;

/** State values: outletStatusOn(1) / outletStatusOff(2) in both families. */
export const APC_STATE_ON = 1;
export const APC_STATE_OFF = 2;
/** Commands: immediateOn(1), immediateOff(2), immediateReboot(3) in both families. */
export const APC_COMMAND_ON = 1;
export const APC_COMMAND_OFF = 2;
export const APC_COMMAND_REBOOT = 3;

export function modelOf(sysObjectId: string): ApcModel {
  const id = sysObjectId.replace(/^\./, "");
  return id === APC_RPDU_SYS_OBJECT_ID || id === APC_MASTERSWITCH_V6_SYS_OBJECT_ID ? "rpdu" : "masterswitch";
}

/** Where to read an outlet's state and where to send it a command. MasterSwitch v6 firmware
 * reports state in the old table but takes commands in the rPDU one, as fence_apc_snmp does. */
export function outletOids(sysObjectId: string, outlet: number): { state: string; command: string } {
  const id = sysObjectId.replace(/^\./, "");
  const rpduCommand = `${RPDU_CONTROL_TABLE}.1.${RPDU_CONTROL_COLUMNS.command}.${outlet}`;
  const spdu = `${SPDU_CONTROL_TABLE}.1.${SPDU_CONTROL_COLUMNS.control}.${outlet}`;
  if (id === APC_RPDU_SYS_OBJECT_ID)
    return { state: `${RPDU_STATUS_TABLE}.1.${RPDU_STATUS_COLUMNS.state}.${outlet}`, command: rpduCommand };
  if (id === APC_MASTERSWITCH_V6_SYS_OBJECT_ID) return { state: spdu, command: rpduCommand };
  return { state: spdu, command: spdu };
}

/** Models whose outlets sit elsewhere (MasterSwitch plus: per-switch tables; Tripplite: its own
 * MIB). Named, so a driver refuses them plainly instead of reporting every outlet as unknown. */
export function unsupportedModel(sysObjectId: string): string | undefined {
  const id = sysObjectId.replace(/^\./, "");
  if (id === "1.3.6.1.4.1.318.1.3.4.4") return "an APC MasterSwitch plus";
  if (id === "1.3.6.1.4.1.850.1" || id.startsWith("1.3.6.1.4.1.850.1.")) return "a Tripplite PDU";
  return undefined;
}
