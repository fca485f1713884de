// An APC power switch on loopback, answering SNMP v1/v2c with the PowerNet MIB objects that
// fence_apc_snmp and our driver use.
//
//   npx tsx tools/sim/apc-snmp.ts --port 1161 [--community private] [--outlets 8] [--model rpdu]
//
// A request with another community gets no answer, as on the real unit. Prints "listening PORT".
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";
import snmp from "net-snmp";
import {
  APC_COMMAND_OFF,
  APC_COMMAND_ON,
  APC_COMMAND_REBOOT,
  APC_MASTERSWITCH_SYS_OBJECT_ID,
  APC_RPDU_SYS_OBJECT_ID,
  APC_STATE_OFF,
  APC_STATE_ON,
  type ApcModel,
  RPDU_CONTROL_COLUMNS,
  RPDU_CONTROL_TABLE,
  RPDU_STATUS_COLUMNS,
  RPDU_STATUS_TABLE,
  SPDU_CONTROL_COLUMNS,
  SPDU_CONTROL_TABLE,
  SYS_OBJECT_ID,
} from "../../src/power/apc-oids.js";
import { bankOptions, COMMON_OPTIONS, oneOf, required, serveUntilSignalled } from "./cli.js";
import { OutletBank, type State } from "./outlets.js";

/** silent: answers nothing; stuck: a relay that no longer switches (commands change nothing). */
export type ApcFault = "none" | "silent" | "stuck";
const APC_FAULTS: readonly ApcFault[] = ["none", "silent", "stuck"];

export interface ApcSimOptions {
  port: number;
  community?: string;
  outlets?: number;
  model?: ApcModel;
  stateFile?: string;
  hook?: string;
  /** Answer this sysObjectID instead of the model's own (to pose as a model we do not drive). */
  sysObjectId?: string;
  /** Off time of an immediateReboot command. */
  rebootDelayMs?: number;
}

interface MibRequest {
  operation: number;
  /** Set during the first of the two passes net-snmp makes over a SET (validation, then commit). */
  testSet?: boolean;
  setValue?: unknown;
  instanceNode: { value: unknown };
  oid: string;
  done: (error?: { errorStatus: number }) => void;
}

interface Mib {
  registerProvider(definition: object): void;
  setScalarValue(name: string, value: unknown): void;
  addTableRow(name: string, row: unknown[]): void;
  setTableSingleCell(name: string, column: number, index: number[], value: unknown): void;
}

interface Agent {
  getMib(): Mib;
  getAuthorizer(): {
    addCommunity(c: string): void;
    getAccessControlModel(): { setCommunityAccess(c: string, level: number): void };
  };
  close(cb?: () => void): void;
}

const READY_ATTEMPTS = 50;
const READY_PROBE_MS = 100;

const stateValue = (s: State) => (s === "on" ? APC_STATE_ON : APC_STATE_OFF);

/** A free UDP port on loopback (the agent cannot report the port it bound to). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createSocket("udp4");
    probe.once("error", reject);
    probe.bind(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export class ApcSimulator {
  readonly bank: OutletBank;
  readonly model: ApcModel;
  /** Every SET received: outlet and command value, for tests. */
  readonly sets: { outlet: number; command: number }[] = [];
  private agent: Agent | undefined;
  private boundPort = 0;
  private faultMode: ApcFault = "none";

  constructor(private readonly options: ApcSimOptions) {
    const count = options.outlets ?? 8;
    if (!Number.isInteger(count) || count < 1 || count > 48)
      throw new RangeError("an APC switch has 1 to 48 outlets");
    this.model = options.model ?? "rpdu";
    this.bank = new OutletBank({
      names: [...Array(count).keys()].map((i) => String(i + 1)),
      ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
      ...(options.hook !== undefined ? { hook: options.hook } : {}),
    });
    this.bank.on("change", ({ outlet, state }) => this.publish(Number(outlet), state));
  }

  get port(): number {
    return this.boundPort;
  }

  get fault(): ApcFault {
    return this.faultMode;
  }

  /** "silent" closes the agent's socket, so every request goes unanswered; "none" opens it again. */
  async setFault(mode: ApcFault): Promise<void> {
    const wasSilent = this.faultMode === "silent";
    this.faultMode = mode;
    if (mode === "silent" && !wasSilent) await this.stop();
    if (mode !== "silent" && wasSilent) await this.listen();
  }

  private get community(): string {
    return this.options.community ?? "private";
  }

  async start(): Promise<void> {
    this.boundPort = this.options.port === 0 ? await freeUdpPort() : this.options.port;
    await this.listen();
  }

  private async listen(): Promise<void> {
    const agent = snmp.createAgent(
      {
        port: this.boundPort,
        address: "127.0.0.1",
        accessControlModelType: snmp.AccessControlModelType.Simple,
      },
      () => {}, // requests with another community are dropped quietly, as the real unit does
    ) as Agent;
    this.agent = agent;
    const authorizer = agent.getAuthorizer();
    authorizer.addCommunity(this.community);
    authorizer.getAccessControlModel().setCommunityAccess(this.community, snmp.AccessLevel.ReadWrite);
    const mib = agent.getMib();
    mib.registerProvider({
      name: "sysObjectID",
      type: snmp.MibProviderType.Scalar,
      oid: "1.3.6.1.2.1.1.2",
      scalarType: snmp.ObjectType.OID,
      maxAccess: snmp.MaxAccess["read-only"],
    });
    mib.setScalarValue(
      "sysObjectID",
      this.options.sysObjectId ??
        (this.model === "rpdu" ? APC_RPDU_SYS_OBJECT_ID : APC_MASTERSWITCH_SYS_OBJECT_ID),
    );
    if (this.model === "rpdu") this.registerRpdu(mib);
    else this.registerMasterSwitch(mib);
    await this.answering();
  }

  /** net-snmp binds its socket in the background: ask ourselves until we answer. */
  private async answering(): Promise<void> {
    for (let attempt = 0; attempt < READY_ATTEMPTS; attempt++) {
      const answered = await new Promise<boolean>((resolve) => {
        const session = snmp.createSession("127.0.0.1", this.community, {
          port: this.boundPort,
          timeout: READY_PROBE_MS,
          retries: 0,
        });
        session.on("error", () => {});
        session.get([SYS_OBJECT_ID], (err) => {
          session.close();
          resolve(err === null);
        });
      });
      if (answered) return;
    }
    throw new Error(`the simulated switch did not answer on UDP port ${this.boundPort}`);
  }

  async stop(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    await new Promise<void>((resolve) => (agent ? agent.close(() => resolve()) : resolve()));
  }

  private registerRpdu(mib: Mib): void {
    const int = snmp.ObjectType.Integer;
    const ro = snmp.MaxAccess["read-only"];
    mib.registerProvider({
      name: "rPDUOutletStatusTable",
      type: snmp.MibProviderType.Table,
      oid: `${RPDU_STATUS_TABLE}.1`, // the entry: net-snmp places cells at ENTRY.COLUMN.INDEX
      maxAccess: snmp.MaxAccess["not-accessible"],
      tableColumns: [
        { number: RPDU_STATUS_COLUMNS.index, name: "rPDUOutletStatusIndex", type: int, maxAccess: ro },
        {
          number: RPDU_STATUS_COLUMNS.name,
          name: "rPDUOutletStatusOutletName",
          type: snmp.ObjectType.OctetString,
          maxAccess: ro,
        },
        { number: RPDU_STATUS_COLUMNS.state, name: "rPDUOutletStatusOutletState", type: int, maxAccess: ro },
        {
          number: RPDU_STATUS_COLUMNS.pending,
          name: "rPDUOutletStatusCommandPending",
          type: int,
          maxAccess: ro,
        },
      ],
      tableIndex: [{ columnName: "rPDUOutletStatusIndex" }],
    });
    mib.registerProvider({
      name: "rPDUOutletControlTable",
      type: snmp.MibProviderType.Table,
      oid: `${RPDU_CONTROL_TABLE}.1`,
      maxAccess: snmp.MaxAccess["not-accessible"],
      tableColumns: [
        { number: RPDU_CONTROL_COLUMNS.index, name: "rPDUOutletControlIndex", type: int, maxAccess: ro },
        {
          number: RPDU_CONTROL_COLUMNS.name,
          name: "rPDUOutletControlOutletName",
          type: snmp.ObjectType.OctetString,
          maxAccess: ro,
        },
        {
          number: RPDU_CONTROL_COLUMNS.command,
          name: "rPDUOutletControlOutletCommand",
          type: int,
          maxAccess: snmp.MaxAccess["read-write"],
        },
      ],
      tableIndex: [{ columnName: "rPDUOutletControlIndex" }],
      handler: (req: MibRequest) => this.control(req),
    });
    for (const name of this.bank.names) {
      const n = Number(name);
      const state = stateValue(this.bank.get(name));
      mib.addTableRow("rPDUOutletStatusTable", [n, `Outlet ${n}`, state, 2]);
      mib.addTableRow("rPDUOutletControlTable", [n, `Outlet ${n}`, state]);
    }
  }

  private registerMasterSwitch(mib: Mib): void {
    mib.registerProvider({
      name: "sPDUOutletControlTable",
      type: snmp.MibProviderType.Table,
      oid: `${SPDU_CONTROL_TABLE}.1`,
      maxAccess: snmp.MaxAccess["not-accessible"],
      tableColumns: [
        {
          number: SPDU_CONTROL_COLUMNS.index,
          name: "sPDUOutletControlIndex",
          type: snmp.ObjectType.Integer,
          maxAccess: snmp.MaxAccess["read-only"],
        },
        {
          number: SPDU_CONTROL_COLUMNS.control,
          name: "sPDUOutletCtl",
          type: snmp.ObjectType.Integer,
          maxAccess: snmp.MaxAccess["read-write"],
        },
        {
          number: SPDU_CONTROL_COLUMNS.name,
          name: "sPDUOutletCtlName",
          type: snmp.ObjectType.OctetString,
          maxAccess: snmp.MaxAccess["read-only"],
        },
      ],
      tableIndex: [{ columnName: "sPDUOutletControlIndex" }],
      handler: (req: MibRequest) => this.control(req),
    });
    for (const name of this.bank.names) {
      mib.addTableRow("sPDUOutletControlTable", [
        Number(name),
        stateValue(this.bank.get(name)),
        `Outlet ${name}`,
      ]);
    }
  }

  /** A SET of a command column switches the outlet; the column then reads back as the state. */
  private control(req: MibRequest): void {
    if (req.operation !== snmp.PduType.SetRequest) {
      req.done();
      return;
    }
    const outlet = Number(req.oid.split(".").at(-1));
    const command = Number(req.setValue);
    if (
      ![APC_COMMAND_ON, APC_COMMAND_OFF, APC_COMMAND_REBOOT].includes(command) ||
      !this.bank.has(String(outlet))
    ) {
      req.done({ errorStatus: snmp.ErrorStatus.BadValue });
      return;
    }
    // net-snmp calls this twice per SET, to validate and then to commit, and clears testSet
    // inside done(): read it first, and act once, in the commit pass.
    const validating = req.testSet === true;
    req.done();
    if (validating) return;
    this.sets.push({ outlet, command });
    // The agent commits the SET value after the handler; the state is published just after it.
    setImmediate(() => {
      if (this.faultMode === "stuck") {
        this.publish(outlet, this.bank.get(String(outlet)));
        return;
      }
      if (command === APC_COMMAND_REBOOT) {
        this.bank.set(String(outlet), "off");
        setTimeout(() => this.bank.set(String(outlet), "on"), this.options.rebootDelayMs ?? 1_000);
      } else this.bank.set(String(outlet), command === APC_COMMAND_ON ? "on" : "off");
      this.publish(outlet, this.bank.get(String(outlet)));
    });
  }

  private publish(outlet: number, state: State): void {
    const mib = this.agent?.getMib();
    if (mib === undefined) return;
    const value = stateValue(state);
    if (this.model === "rpdu") {
      mib.setTableSingleCell("rPDUOutletStatusTable", RPDU_STATUS_COLUMNS.state, [outlet], value);
      mib.setTableSingleCell("rPDUOutletControlTable", RPDU_CONTROL_COLUMNS.command, [outlet], value);
    } else mib.setTableSingleCell("sPDUOutletControlTable", SPDU_CONTROL_COLUMNS.control, [outlet], value);
  }
}

const HELP = `usage: npx tsx tools/sim/apc-snmp.ts --port PORT [options]

A simulated APC power switch on 127.0.0.1, answering SNMP v1 and v2c.

  --port PORT         UDP port to listen on (0 picks a free one; required)
  --community C       the read-write community (default private)
  --outlets N         number of outlets, 1..N (1-48, default 8)
  --model M           rpdu (Switched Rack PDU, default) or masterswitch
  --state-file FILE   write the outlet states as JSON after every change
  --hook CMD          run CMD (with OUTLET and STATE set) whenever an outlet changes
  --fault KIND        misbehave: silent (answer nothing) or stuck (sets change nothing)
  -h, --help          show this help

Prints "listening PORT" when it answers; stops on SIGINT or SIGTERM.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...COMMON_OPTIONS,
      port: { type: "string" },
      community: { type: "string" },
      model: { type: "string" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const port = Number(required("apc-snmp", "--port PORT", values.port, HELP));
  const model = oneOf<ApcModel>("apc-snmp", "--model", values.model, ["rpdu", "masterswitch"]);
  const fault = oneOf("apc-snmp", "--fault", values.fault, APC_FAULTS);
  const sim = new ApcSimulator({
    port,
    ...(values.community !== undefined ? { community: values.community } : {}),
    ...bankOptions(values),
    ...(model !== undefined ? { model } : {}),
  });
  await sim.start();
  if (fault !== undefined) await sim.setFault(fault);
  serveUntilSignalled(`listening ${sim.port}`, () => sim.stop());
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
