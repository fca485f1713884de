// APC MasterSwitch and Switched Rack PDUs over SNMP v1/v2c, with the net-snmp package.
//
// The model is read from sysObjectID and decides the OIDs, as fence_apc_snmp does. Off and on
// are immediate commands; each is confirmed by reading the outlet state until it matches. A
// reboot is off, confirmed, then on, confirmed: the switch's own reboot command would give us no
// moment at which off is known.
import snmp from "net-snmp";
import {
  APC_COMMAND_OFF,
  APC_COMMAND_ON,
  APC_STATE_OFF,
  APC_STATE_ON,
  modelOf,
  outletOids,
  SYS_OBJECT_ID,
  unsupportedModel,
} from "./apc-oids.js";
import { Steps } from "./steps.js";
import { OffThenOnSwitch, type OutletState, type StepObserver } from "./switch.js";

export const APC_DEFAULT_PORT = 161;
export const APC_DEFAULT_COMMUNITY = "private";

export interface ApcTimeouts {
  /** One SNMP request (there are no retries: the step deadline is the retry budget). */
  request: number;
  /** How long an outlet may take to reach the new state. */
  confirm: number;
  poll: number;
}

const REQUEST_DEADLINE_MARGIN_MS = 1_000;

export const APC_TIMEOUTS: ApcTimeouts = { request: 3_000, confirm: 20_000, poll: 500 };

export interface ApcSnmpOptions {
  host: string;
  port?: number;
  community?: string;
  version?: "1" | "2c";
  timeouts?: Partial<ApcTimeouts>;
  observer?: StepObserver;
}

type SnmpValue = string | number | Buffer | bigint | boolean | null | undefined;

export class ApcSnmpSwitch extends OffThenOnSwitch {
  readonly type = "apc_snmp" as const;
  readonly confirmation = "switch" as const;
  readonly name: string;
  private readonly steps: Steps;
  private readonly timeouts: ApcTimeouts;
  private sysObjectId: string | undefined;

  constructor(private readonly options: ApcSnmpOptions) {
    super();
    this.name = `apc_snmp ${options.host}:${options.port ?? APC_DEFAULT_PORT}`;
    this.steps = new Steps(this.name, options.observer);
    this.timeouts = { ...APC_TIMEOUTS, ...options.timeouts };
  }

  async health(): Promise<void> {
    this.sysObjectId = undefined;
    await this.model(this.steps);
  }

  async status(outlet: string): Promise<OutletState> {
    const steps = this.steps.forOutlet(outlet);
    const oids = outletOids(await this.model(steps), this.outletNumber(steps, outlet));
    return this.readState(steps, "status", oids.state);
  }

  async close(): Promise<void> {}

  protected async switchTo(outlet: string, state: OutletState): Promise<void> {
    const steps = this.steps.forOutlet(outlet);
    const t = this.timeouts;
    const oids = outletOids(await this.model(steps), this.outletNumber(steps, outlet));
    // Reading first finds an unknown outlet before anything is sent.
    await this.readState(steps, "status", oids.state);
    await steps.run(`${state} sent`, this.requestDeadline, () =>
      this.request(steps, `${state} sent`, (session, done) =>
        session.set(
          [
            {
              oid: oids.command,
              type: snmp.ObjectType.Integer,
              value: state === "on" ? APC_COMMAND_ON : APC_COMMAND_OFF,
            },
          ],
          done,
        ),
      ),
    );
    await steps.confirm(state, t.confirm, t.poll, async () => ({
      state: await this.stateOf(steps, "state read", oids.state),
    }));
  }

  /** The step around a request waits a little longer than the request's own timeout, so the more
   * specific error of the request (which names what went unanswered) is the one reported. */
  private get requestDeadline(): number {
    return this.timeouts.request + REQUEST_DEADLINE_MARGIN_MS;
  }

  private outletNumber(steps: Steps, outlet: string): number {
    if (!/^[1-9]\d{0,3}$/.test(outlet)) {
      throw steps.error(
        "unknown-outlet",
        "checking the outlet",
        `an APC outlet is a number from 1, not "${outlet}"`,
      );
    }
    return Number(outlet);
  }

  /** The switch's sysObjectID, read once: it decides which OIDs to use. */
  private async model(steps: Steps): Promise<string> {
    if (this.sysObjectId !== undefined) return this.sysObjectId;
    const value = await steps.run(
      "identify",
      this.requestDeadline,
      () => this.get(steps, "identify", SYS_OBJECT_ID),
      (v) => `sysObjectID ${String(v)} (${modelOf(String(v))})`,
    );
    if (typeof value !== "string")
      throw steps.error("garbled", "identify", "sysObjectID is not an object identifier");
    const unsupported = unsupportedModel(value);
    if (unsupported !== undefined) {
      throw steps.error(
        "config",
        "identify",
        `${unsupported} is not supported by this driver; use type fence_agent with agent fence_apc_snmp`,
      );
    }
    this.sysObjectId = value;
    return value;
  }

  private async readState(steps: Steps, step: string, oid: string): Promise<OutletState> {
    return steps.run(step, this.requestDeadline, () => this.stateOf(steps, step, oid));
  }

  /** One read of the outlet state, reported only through its result. */
  private async stateOf(steps: Steps, step: string, oid: string): Promise<OutletState> {
    const value = await this.get(steps, step, oid);
    if (value === APC_STATE_ON) return "on";
    if (value === APC_STATE_OFF) return "off";
    throw steps.error("garbled", step, `the outlet state is ${String(value)}, neither on (1) nor off (2)`);
  }

  private async get(steps: Steps, step: string, oid: string): Promise<SnmpValue> {
    const varbinds = await this.request(steps, step, (session, done) => session.get([oid], done));
    const vb = varbinds[0];
    if (vb === undefined) throw steps.error("garbled", step, "the answer holds no value");
    if (snmp.isVarbindError(vb)) {
      const outletMissing =
        vb.type === snmp.ObjectType.NoSuchInstance || vb.type === snmp.ObjectType.NoSuchObject;
      throw steps.error(
        outletMissing ? "unknown-outlet" : "garbled",
        step,
        `${oid}: ${snmp.varbindError(vb)}`,
      );
    }
    return vb.value as SnmpValue;
  }

  /** One request on a fresh session; maps net-snmp's errors onto ours. */
  private request(
    steps: Steps,
    step: string,
    send: (session: snmp.Session, done: (err: Error | null, varbinds?: snmp.Varbind[]) => void) => void,
  ): Promise<snmp.Varbind[]> {
    const session = snmp.createSession(this.options.host, this.options.community ?? APC_DEFAULT_COMMUNITY, {
      port: this.options.port ?? APC_DEFAULT_PORT,
      version: this.options.version === "2c" ? snmp.Version2c : snmp.Version1,
      timeout: this.timeouts.request,
      retries: 0,
    });
    return new Promise<snmp.Varbind[]>((resolve, reject) => {
      session.on("error", (err: Error) => reject(steps.error("disconnected", step, err.message)));
      const unreachable = (err: Error) =>
        /ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNREFUSED/.test(
          `${(err as NodeJS.ErrnoException).code ?? ""} ${err.message}`,
        );
      send(session, (err, varbinds) => {
        session.close();
        if (err === null) return resolve(varbinds ?? []);
        if (unreachable(err)) return reject(steps.error("disconnected", step, err.message));
        if (err.name === "RequestTimedOutError") {
          return reject(steps.error("timeout", step, "no answer (a wrong community gets none either)"));
        }
        const status = (err as Error & { status?: number }).status;
        if (status === snmp.ErrorStatus.NoSuchName)
          return reject(steps.error("unknown-outlet", step, err.message));
        reject(
          steps.error(
            status === snmp.ErrorStatus.NoAccess || status === snmp.ErrorStatus.AuthorizationError
              ? "auth"
              : "garbled",
            step,
            err.message,
          ),
        );
      });
    });
  }
}
