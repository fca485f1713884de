// Just enough telnet (RFC 854) for talking to power switches: pull the option negotiation out of
// the byte stream and answer it. We accept the server's SGA (character at a time) and refuse
// every option of our own; a server-side user strips the client's negotiation the same way.

export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const SE = 240;
export const OPT_ECHO = 1;
export const OPT_SGA = 3;

/** Limits a subnegotiation, so a hostile peer cannot make us buffer without end. */
const MAX_SUBNEGOTIATION = 1024;

export class TelnetFilter {
  private state: "data" | "iac" | "verb" | "sb" | "sb-iac" = "data";
  private verb = 0;
  private sbLength = 0;

  /**
   * Returns the data bytes of `chunk` and the replies to send. `role` decides the answers: a
   * client accepts the server's ECHO and SGA; a server ignores what the client offers.
   */
  push(chunk: Buffer, role: "client" | "server"): { data: Buffer; replies: Buffer } {
    const data: number[] = [];
    const replies: number[] = [];
    for (const byte of chunk) {
      switch (this.state) {
        case "data":
          if (byte === IAC) this.state = "iac";
          else data.push(byte);
          break;
        case "iac":
          if (byte === IAC) {
            data.push(IAC);
            this.state = "data";
          } else if (byte === SB) {
            this.state = "sb";
            this.sbLength = 0;
          } else if (byte >= WILL && byte <= DONT) {
            this.verb = byte;
            this.state = "verb";
          } else this.state = "data"; // a two-byte command (NOP, GA, ...)
          break;
        case "verb":
          if (role === "client") replies.push(...clientAnswer(this.verb, byte));
          this.state = "data";
          break;
        case "sb":
          if (byte === IAC) this.state = "sb-iac";
          else if (++this.sbLength > MAX_SUBNEGOTIATION) this.state = "data";
          break;
        case "sb-iac":
          this.state = byte === SE ? "data" : "sb";
          break;
      }
    }
    return { data: Buffer.from(data), replies: Buffer.from(replies) };
  }
}

function clientAnswer(verb: number, option: number): number[] {
  if (verb === WILL) return [IAC, option === OPT_SGA || option === OPT_ECHO ? DO : DONT, option];
  if (verb === DO) return [IAC, WONT, option];
  return [];
}
