// Configurations in which every value is well formed but the whole cannot work: a heartbeat
// nobody can send to, two members on one address and port, a tty that carries both a serial
// heartbeat and an RPS-10, one floating address in two services, a floating address that is no
// host's. validate.ts checks each value; this looks across them, on the document itself, so each
// error names the line of the value at fault and the line of the other one.
import type { Block, ConfDocument, Entry, Node } from "./document.js";
import { DEFAULTS } from "./model.js";
import { absolutePath, cidr, integer, ipv4, type ValueType } from "./values.js";

export interface Impossible {
  line: number;
  key: string;
  message: string;
}

/** The first entry `key` among `children` (a key set twice is reported by validate.ts). */
function entry(children: readonly Node[], key: string): Entry | undefined {
  return children.find((c): c is Entry => c.kind === "entry" && c.key === key);
}

/** The value of `key` when it reads as `type`; a value that does not is reported elsewhere. */
function readValue<T>(
  children: readonly Node[],
  key: string,
  type: ValueType<T>,
): { value: T; line: number } | undefined {
  const e = entry(children, key);
  if (e === undefined) return undefined;
  const read = type.read(e.value);
  return read.ok ? { value: read.value, line: e.line } : undefined;
}

function blocksOf(children: readonly Node[], stem: string): Block[] {
  const pattern = new RegExp(`^${stem}\\d+$`);
  return children.filter((c): c is Block => c.kind === "block" && pattern.test(c.name));
}

function section(doc: ConfDocument, name: string): readonly Node[] {
  return doc.sections.filter((s) => s.name === name).flatMap((s) => s.children);
}

function octets(address: string): number[] {
  return address.split(".").map(Number);
}

function toNumber(address: string): number {
  return octets(address).reduce((n, o) => n * 256 + o, 0);
}

/** Why `address` cannot be the address of one host, or undefined when it can. */
function notAHost(address: string, loopbackAllowed: boolean): string | undefined {
  const [first = 0] = octets(address);
  if (address === "0.0.0.0") return "0.0.0.0 means any address, not one host's";
  if (first === 0) return `${address} is in 0.0.0.0/8, which names no host`;
  if (first === 127 && !loopbackAllowed)
    return `${address} is a loopback address, which never leaves the host`;
  if (first >= 224 && first <= 239) return `${address} is a multicast address`;
  if (address === "255.255.255.255") return "255.255.255.255 is the broadcast address";
  if (first >= 240) return `${address} is in 240.0.0.0/4, which is reserved`;
  return undefined;
}

interface Place {
  line: number;
  what: string;
}

export function impossibleSetups(doc: ConfDocument): Impossible[] {
  return [...heartbeats(doc), ...floatingAddresses(doc)];
}

function heartbeats(doc: ConfDocument): Impossible[] {
  const found: Impossible[] = [];
  const listening = new Map<string, Place>();
  const members = blocksOf(section(doc, "members"), "member");
  // Every member opens its peers' RPS-10 lines (to fence them and to check their switches).
  const rps10 = members.flatMap((m) => {
    const power = m.children.find((c): c is Block => c.kind === "block" && c.name === "power");
    if (power === undefined || entry(power.children, "type")?.value !== "rps10") return [];
    const device = readValue(power.children, "device", absolutePath);
    return device !== undefined ? [{ member: m.name, device: device.value, line: device.line }] : [];
  });
  for (const m of members) {
    const serial = new Map<string, Place>();
    for (const chan of blocksOf(m.children, "chan")) {
      const where = `${m.name} ${chan.name}`;
      const type = entry(chan.children, "type")?.value;
      if (type === "net") {
        const address = readValue(chan.children, "address", ipv4);
        if (address === undefined) continue;
        const why = notAHost(address.value, true);
        if (why !== undefined) {
          found.push({
            line: address.line,
            key: "address",
            message: `the heartbeat address of ${where} cannot work: ${why}; give this member's own address on the heartbeat network`,
          });
          continue;
        }
        const given = entry(chan.children, "port");
        const port =
          given === undefined ? DEFAULTS.netPort : readValue(chan.children, "port", integer(1, 65535))?.value;
        if (port === undefined) continue;
        const at = `${address.value}:${port}`;
        const first = listening.get(at);
        if (first !== undefined) {
          found.push({
            line: address.line,
            key: "address",
            message: `${where} listens on ${at}, as ${first.what} does (line ${first.line}); two channels cannot bind one address and port: give each its own`,
          });
        } else listening.set(at, { line: address.line, what: where });
      } else if (type === "serial") {
        const device = readValue(chan.children, "device", absolutePath);
        if (device === undefined) continue;
        const first = serial.get(device.value);
        if (first !== undefined) {
          found.push({
            line: device.line,
            key: "device",
            message: `${where} uses ${device.value} for a serial heartbeat, as ${first.what} does (line ${first.line}); one line carries one channel`,
          });
          continue;
        }
        serial.set(device.value, { line: device.line, what: where });
        const power = rps10.find((p) => p.member !== m.name && p.device === device.value);
        if (power !== undefined) {
          found.push({
            line: device.line,
            key: "device",
            message: `${where} uses ${device.value} for a serial heartbeat, but it is also the RPS-10 line of ${power.member}'s power switch (line ${power.line}), which ${m.name} opens to fence ${power.member}; one tty cannot carry both: use another line for one of them`,
          });
        }
      }
    }
  }
  return found;
}

function floatingAddresses(doc: ConfDocument): Impossible[] {
  const found: Impossible[] = [];
  const floating = new Map<string, Place>();
  for (const service of blocksOf(section(doc, "services"), "service")) {
    for (const resource of blocksOf(service.children, "resource")) {
      if (entry(resource.children, "type")?.value !== "ip") continue;
      const given = readValue(resource.children, "address", cidr);
      if (given === undefined) continue;
      const where = `${service.name} ${resource.name}`;
      const [address = "", prefixText = ""] = given.value.split("/");
      const prefix = Number(prefixText);
      const why = floatingProblem(address, prefix);
      if (why !== undefined) {
        found.push({
          line: given.line,
          key: "address",
          message: `the floating address ${given.value} of ${where} cannot work: ${why}`,
        });
        continue;
      }
      const first = floating.get(address);
      if (first !== undefined) {
        found.push({
          line: given.line,
          key: "address",
          message: `${where} floats ${address}, as ${first.what} does (line ${first.line}); an address can be up on one member only, so two resources cannot own it`,
        });
      } else floating.set(address, { line: given.line, what: where });
    }
  }
  return found;
}

/** Why a floating ADDRESS/PREFIX cannot be added as one host's address, or undefined. */
function floatingProblem(address: string, prefix: number): string | undefined {
  const host = notAHost(address, false);
  if (host !== undefined) return `${host}; give a free address of the service's network`;
  if (prefix === 0)
    return "a /0 prefix puts every address on this link; give the service network's prefix, such as /24";
  // /31 and /32 have no network or broadcast address (RFC 3021).
  if (prefix >= 31) return undefined;
  const size = 2 ** (32 - prefix);
  const offset = toNumber(address) % size;
  if (offset === 0)
    return `it is the network address of its /${prefix}, which no host may take; give a free address of that network`;
  if (offset === size - 1)
    return `it is the broadcast address of its /${prefix}, which no host may take; give a free address of that network`;
  return undefined;
}
