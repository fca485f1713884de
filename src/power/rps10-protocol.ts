// The WTI RPS-10 serial protocol, shared by the driver and the simulator.
//
// Every command is nine bytes: the fixed "password" ^B^X^X^B^X^X, the outlet address ('0'-'9',
// or '*' for all), the operation ('0' off, '1' on, 'T' toggle, '?' status) and a carriage
// return. The switch answers "Plug N Off" / "Plug N On" lines and then "Complete". After its
// line is reset (DTR dropped and raised) it prints "RPS-10 Ready". There is no error reply: a
// frame it does not understand gets no answer at all.

export const RPS10_PREFIX = Buffer.from([0x02, 0x18, 0x18, 0x02, 0x18, 0x18]);
export const RPS10_FRAME_BYTES = 9;
export const RPS10_BANNER = "RPS-10 Ready";
export const RPS10_BAUD = 9600;

export type Rps10Op = "0" | "1" | "T" | "?";
export const RPS10_OPS: readonly Rps10Op[] = ["0", "1", "T", "?"];

/** An outlet address: one module '0'..'9', or '*' for every module on the chain. */
export function isRps10Address(address: string): boolean {
  return /^[0-9*]$/.test(address);
}

export function rps10Frame(address: string, op: Rps10Op): Buffer {
  if (!isRps10Address(address)) throw new RangeError(`RPS-10 outlet "${address}" is not 0-9 or *`);
  return Buffer.concat([RPS10_PREFIX, Buffer.from(`${address}${op}\r`, "latin1")]);
}

export type Rps10Reply =
  | { kind: "plug"; plug: string; state: "on" | "off" }
  | { kind: "complete" }
  | { kind: "ready" }
  | { kind: "other"; text: string };

export function parseRps10Line(line: string): Rps10Reply {
  const text = line.trim();
  const plug = /^Plug (\d) (On|Off)$/.exec(text);
  if (plug) return { kind: "plug", plug: plug[1]!, state: plug[2] === "On" ? "on" : "off" };
  if (text === "Complete") return { kind: "complete" };
  // Some units print "PRS-10 Ready": match the part every unit gets right.
  if (/S-10 Ready$/i.test(text)) return { kind: "ready" };
  return { kind: "other", text };
}

/** Splits a byte stream into lines at CR, LF, CRLF or LFCR, keeping at most `maxLine` bytes each. */
export class LineSplitter {
  private pending = "";
  constructor(private readonly maxLine = 256) {}

  clear(): void {
    this.pending = "";
  }

  push(chunk: Buffer | string): string[] {
    this.pending += typeof chunk === "string" ? chunk : chunk.toString("latin1");
    const parts = this.pending.split(/\r\n|\n\r|\r|\n/);
    this.pending = (parts.pop() ?? "").slice(-this.maxLine);
    return parts.filter((l) => l.length > 0).map((l) => l.slice(0, this.maxLine));
  }
}

/** Finds complete frames in a byte stream, ignoring anything that is not one (as the device does). */
export class FrameScanner {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): { address: string; op: string }[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const frames: { address: string; op: string }[] = [];
    for (;;) {
      const at = this.pending.indexOf(RPS10_PREFIX);
      if (at === -1) {
        // Keep a tail that could be the start of a prefix split across chunks.
        this.pending = this.pending.subarray(Math.max(0, this.pending.length - (RPS10_PREFIX.length - 1)));
        return frames;
      }
      if (this.pending.length < at + RPS10_FRAME_BYTES) {
        this.pending = this.pending.subarray(at);
        return frames;
      }
      const frame = this.pending.subarray(at, at + RPS10_FRAME_BYTES);
      this.pending = this.pending.subarray(at + RPS10_FRAME_BYTES);
      if (frame[8] === 0x0d)
        frames.push({ address: String.fromCharCode(frame[6]!), op: String.fromCharCode(frame[7]!) });
    }
  }
}
