// The serial heartbeat channel: a null-modem cable between two members. Each sealed packet goes
// out as one line of hex, so a reader that starts mid-packet, or a line hit by noise, loses that
// one packet and finds the next line whole. Authentication and replay checks stay in packet.ts.
import { SerialPort } from "serialport";
import { PACKET_BYTES } from "./packet.js";

/** 60 bytes as 121 characters a beat: at 0.2 s intervals that is 605 bytes/s, half of 19200 8N1. */
export const SERIAL_BAUD = 19200;
/** A line that went away (a USB adapter unplugged, a cable simulator stopped) is reopened this often. */
export const SERIAL_REOPEN_MS = 2_000;
/** Heartbeats waiting to go out beyond this are dropped: a line slower than the heartbeat rate
 * must not queue them without end, and a late heartbeat is worth nothing. */
const MAX_QUEUED_BYTES = 4 * (PACKET_BYTES * 2 + 1);
/** A line longer than a packet's is noise; it is dropped and not buffered without end. */
const MAX_LINE = PACKET_BYTES * 2 + 2;

export class SerialChannel {
  /** Lines that were not a packet's hex, and write errors: shown in status, never fatal. */
  garbled = 0;
  errors = 0;
  private partial = "";
  private closing = false;
  private reopen: NodeJS.Timeout | undefined;

  private constructor(
    private readonly port: SerialPort,
    readonly device: string,
    private readonly onPacket: (packet: Buffer) => void,
  ) {
    port.setEncoding("latin1");
    port.on("data", (chunk: string) => this.receive(chunk));
    // A line error must not take the daemon down; the missing heartbeats show in channel health.
    port.on("error", () => this.errors++);
    port.on("close", () => this.lost());
  }

  /** The line closed under us: keep trying to open it again until it comes back or we close. */
  private lost(): void {
    if (this.closing || this.reopen !== undefined) return;
    this.partial = "";
    this.reopen = setInterval(() => {
      if (this.port.isOpen || this.port.opening) return;
      this.port.open((err) => {
        if (err) {
          this.errors++;
          return;
        }
        clearInterval(this.reopen);
        this.reopen = undefined;
      });
    }, SERIAL_REOPEN_MS);
  }

  static async open(device: string, onPacket: (packet: Buffer) => void): Promise<SerialChannel> {
    const port = new SerialPort({
      path: device,
      baudRate: SERIAL_BAUD,
      dataBits: 8,
      parity: "none",
      stopBits: 1,
      autoOpen: false,
      lock: true,
    });
    await new Promise<void>((resolve, reject) =>
      port.open((err) =>
        err
          ? reject(new Error(`cannot open the serial heartbeat line ${device}: ${err.message}`))
          : resolve(),
      ),
    );
    return new SerialChannel(port, device, onPacket);
  }

  private receive(chunk: string): void {
    this.partial += chunk;
    for (let nl = this.partial.indexOf("\n"); nl >= 0; nl = this.partial.indexOf("\n")) {
      const line = this.partial.slice(0, nl).trim();
      this.partial = this.partial.slice(nl + 1);
      if (line.length === 0) continue;
      if (line.length !== PACKET_BYTES * 2 || !/^[0-9a-f]+$/.test(line)) {
        this.garbled++;
        continue;
      }
      this.onPacket(Buffer.from(line, "hex"));
    }
    if (this.partial.length > MAX_LINE) {
      this.garbled++;
      this.partial = "";
    }
  }

  send(packet: Buffer): Promise<void> {
    if (packet.length !== PACKET_BYTES) throw new RangeError(`a heartbeat is ${PACKET_BYTES} bytes`);
    return new Promise((resolve) => {
      if (!this.port.isOpen || this.port.writableLength > MAX_QUEUED_BYTES) {
        this.errors++;
        resolve();
        return;
      }
      this.port.write(`${packet.toString("hex")}\n`, (err) => {
        if (err) this.errors++;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.closing = true;
    clearInterval(this.reopen);
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }
}
