// Everything a switch can do wrong ends in one of these: it names the switch, the outlet and the
// step, and never carries a password.

export type PowerFailure =
  /** The switch did not answer within the step's deadline. */
  | "timeout"
  /** It answered something that is not the protocol. */
  | "garbled"
  /** The line or connection closed under us, or could not be opened. */
  | "disconnected"
  /** Another process holds the line (a peer's check or fence on a shared serial line). */
  | "busy"
  /** It refused the password or community. */
  | "auth"
  /** It does not have that outlet. */
  | "unknown-outlet"
  /** It answered, but the outlet did not end in the state asked for. */
  | "not-confirmed"
  /** A fence agent or other program failed. */
  | "failed"
  /** This switch type cannot do that (a watchdog has no outlet state to read). */
  | "unsupported"
  /** The switch's configuration is incomplete or invalid. */
  | "config";

/** The line or connection to a switch closed while a step was waiting on it. */
export class LineClosed extends Error {
  override name = "LineClosed";
}

/** Another process holds the line's exclusive lock: it is in use, not dead. */
export class LineBusy extends Error {
  override name = "LineBusy";
}

/** The switch sent more than a reply may hold without the text awaited: it is not speaking the
 * protocol (or not that switch), and reading on would only grow our buffers. */
export class Garbled extends Error {
  override name = "Garbled";
}

export class PowerSwitchError extends Error {
  override name = "PowerSwitchError";
  constructor(
    readonly kind: PowerFailure,
    readonly switchName: string,
    readonly outlet: string | undefined,
    readonly step: string,
    /** What went wrong, without the switch, outlet and step in front. */
    readonly detail: string,
  ) {
    super(`${switchName}${outlet !== undefined ? ` outlet ${outlet}` : ""}: ${step}: ${detail}`);
  }
}
