// The serial heartbeat channel: a null-modem cable between two members. Each sealed packet goes
// out as one line of hex, so a reader that starts mid-packet, or a line hit by noise, loses that
// one packet and finds the next line whole. Authentication and replay checks stay in packet.ts.
import { SerialPort } from "serialport";
import { PACKET_BYTES } from "./packet.js";

/** 60 bytes as 121 characters a beat: at 0.2 s intervals that is 605 bytes/s, half of 19200 8N1. */
export const SERIAL_BAUD = 19200;
/** A line that went away (a USB adapter unplugged, a cable simulator stopped) is reopened this often. */
export const SERIAL_REOPEN_MS = 2_000;
/** A line silent this long is reopened: it may be open on a device that is no longer there. */
export const SERIAL_STALE_MS = 3 * SERIAL_REOPEN_MS;
/** Heartbeats waiting to go out beyond this are dropped: a line slower than the heartbeat rate
 * must not queue them without end, and a late heartbeat is worth nothing. */
const MAX_QUEUED_BYTES = 4 * (PACKET_BYTES * 2 + 1);
/** A line longer than a packet's is noise; it is dropped and not buffered without end. */
const MAX_LINE = PACKET_BYTES * 2 + 2;

function newPort(device: string): SerialPort {
  return new SerialPort({
    path: device,
    baudRate: SERIAL_BAUD,
    dataBits: 8,
    parity: "none",
    stopBits: 1,
    autoOpen: false,
    lock: true,
  });
}

function openPort(port: SerialPort): Promise<void> {
  return new Promise((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
}

export class SerialChannel {
  /** Lines that were not a packet's hex, and write errors: shown in status, never fatal. */
  garbled = 0;
  errors = 0;
  private partial = "";
  private closing = false;
  private lastHeardMs = 0;
  private openedMs = 0;
  private reopening = false;
  private readonly reopen: NodeJS.Timeout;

  private constructor(
    private port: SerialPort,
    readonly device: string,
    private readonly onPacket: (packet: Buffer) => void,
  ) {
    this.attach(port);
    // However the line went away, it is looked at again on this timer and opened when it can be,
    // through a new port object (the old one may hold writes queued for a device that is gone).
    // A line silent for SERIAL_STALE_MS may be open on a device that no longer exists (a
    // pseudo-terminal whose other end died reports nothing), so it is replaced too.
    this.reopen = setInterval(() => {
      if (this.closing || this.reopening) return;
      const silent = Date.now() - Math.max(this.lastHeardMs, this.openedMs) > SERIAL_STALE_MS;
      if (this.port.isOpen && !silent) return;
      this.reopening = true;
      void this.replace().finally(() => {
        this.reopening = false;
      });
    }, SERIAL_REOPEN_MS);
  }

  private attach(port: SerialPort): void {
    this.openedMs = Date.now();
    this.partial = "";
    port.setEncoding("latin1");
    port.on("data", (chunk: string) => this.receive(chunk));
    // A line error must not take the daemon down; the missing heartbeats show in channel health.
    port.on("error", () => this.errors++);
  }

  private async replace(): Promise<void> {
    const old = this.port;
    old.removeAllListeners("data");
    await new Promise<void>((resolve) => (old.isOpen ? old.close(() => resolve()) : resolve()));
    old.destroy();
    const fresh = newPort(this.device);
    try {
      await openPort(fresh);
    } catch {
      this.errors++;
      fresh.destroy();
      return;
    }
    if (this.closing) {
      fresh.close(() => {});
      return;
    }
    this.port = fresh;
    this.attach(fresh);
  }

  static async open(device: string, onPacket: (packet: Buffer) => void): Promise<SerialChannel> {
    const port = newPort(device);
    try {
      await openPort(port);
    } catch (err) {
      throw new Error(`cannot open the serial heartbeat line ${device}: ${(err as Error).message}`);
    }
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
      this.lastHeardMs = Date.now();
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
        if (err) {
          this.errors++;
        }
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
