// A client of a lab service: asks it every few milliseconds, as a user would, and remembers when
// it stopped answering and who answered first after that.
import http from "node:http";

export const PROBE_EVERY_MS = 10;
/** A request that takes longer than this counts as no answer. */
const PROBE_TIMEOUT_MS = 200;

export interface ProbeAnswer {
  atMs: number;
  /** The member that answered, or undefined for no answer. */
  member: string | undefined;
}

export function askOnce(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: address, port, path: "/", agent: false, timeout: PROBE_TIMEOUT_MS },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve(body.trim() || undefined));
        res.on("error", () => resolve(undefined));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

export class HttpProbe {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  last: ProbeAnswer | undefined;
  /** Each change of who answers (or of no answer), in order. */
  readonly changes: ProbeAnswer[] = [];

  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly onChange: (a: ProbeAnswer) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.probe(), PROBE_EVERY_MS);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    // One request at a time: a slow answer is not overtaken by the next probe's.
    if (this.inFlight) return;
    this.inFlight = true;
    const member = await askOnce(this.address, this.port);
    this.inFlight = false;
    const a = { atMs: Date.now(), member };
    if (this.last === undefined || this.last.member !== member) {
      this.changes.push(a);
      this.onChange(a);
    }
    this.last = a;
  }

  /** The first answer from `member` at or after `sinceMs`. */
  answeredBy(member: string, sinceMs: number): ProbeAnswer | undefined {
    return this.changes.find((c) => c.member === member && c.atMs >= sinceMs);
  }
}
