// The example configuration with secrets that stand out, and a family of mutations of it: the
// damage an editor, a copy between systems or a careless hand does to a cluster.conf. Each
// mutation keeps the text and says which values it moved, so a test can tell a secret that stays
// under a secret key from one that was typed under another.
import { isSecretName } from "../../src/config/secrets.js";
import { EXAMPLE_CONF } from "../helpers/example-cluster.js";

/** The secrets of the fixture: each holds a space, so no name, host, path or number type accepts
 * it, and one holds a # (quoted), so it must survive the comment rule. */
export const FIXTURE_SECRETS = [
  "wti pass 7Qx#1",
  "ipmi pass K2v9",
  "kg 0bad c0de",
  "snmp comm 4rTz",
] as const;

const APC_MEMBER = `
start member3
  name = clu4
  start chan0
    type = net
    address = 10.0.0.4
  end chan0
  start power
    type = apc_snmp
    host = 10.0.0.251
    community = "${FIXTURE_SECRETS[3]}"
    outlet = 3
  end power
end member3
`;

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the example configuration no longer holds ${from}`);
  return text.replace(from, to);
}

/** conf/cluster.conf with its two passwords replaced, a fence_ipmilan key and an APC community. */
export function fixture(): string {
  let text = replaceOnce(EXAMPLE_CONF, 'password = "change me"', `password = "${FIXTURE_SECRETS[0]}"`);
  text = replaceOnce(
    text,
    "arg.password = secret",
    `arg.password = ${FIXTURE_SECRETS[1]}\n    arg.hexadecimal_kg = "${FIXTURE_SECRETS[2]}"`,
  );
  return replaceOnce(text, "end member2\n", `end member2\n${APC_MEMBER}`);
}

export interface Mutation {
  name: string;
  text: string;
}

const ENTRY = /^(\s*)([A-Za-z0-9_.-]+)(\s*=)(.*)$/;

/** The lines with line endings chosen per line: "\n", "\r\n" and "\r" in turn from `phase`. */
function withEndings(lines: readonly string[], endings: readonly string[], phase = 0): string {
  return lines.map((l, i) => l + endings[(i + phase) % endings.length]!).join("");
}

export function mutations(base: string): Mutation[] {
  const lines = base.replace(/\n$/, "").split("\n");
  const out: Mutation[] = [];
  const styles: readonly (readonly string[])[] = [["\n"], ["\r\n"], ["\n", "\r\n", "\r"]];
  const emit = (name: string, changed: readonly string[], n: number) => {
    const style = styles[n % styles.length]!;
    out.push({
      name: `${name} (${style.map((e) => JSON.stringify(e)).join(" ")})`,
      text: withEndings(changed, style, n),
    });
  };

  // Line endings of the whole file.
  out.push({ name: "CRLF", text: withEndings(lines, ["\r\n"]) });
  out.push({ name: "CR only", text: withEndings(lines, ["\r"]) });
  out.push({ name: "CR CR LF", text: withEndings(lines, ["\r\r\n"]) });
  for (let phase = 0; phase < 3; phase++)
    out.push({ name: `mixed, phase ${phase}`, text: withEndings(lines, ["\n", "\r\n", "\r"], phase) });
  out.push({ name: "CRLF, no final line break", text: withEndings(lines, ["\r\n"]).replace(/\r\n$/, "") });
  out.push({ name: "byte order mark and CRLF", text: `\ufeff${withEndings(lines, ["\r\n"])}` });
  out.push({ name: "LF CR (reversed)", text: withEndings(lines, ["\n\r"]) });

  const entries = lines.flatMap((l, i) => (ENTRY.test(l) ? [i] : []));
  let n = 0;
  // Each line deleted.
  for (let i = 0; i < lines.length; i++)
    emit(
      `line ${i + 1} deleted`,
      lines.filter((_, j) => j !== i),
      n++,
    );
  // Each entry set twice.
  for (const i of entries)
    emit(`line ${i + 1} duplicated`, [...lines.slice(0, i + 1), ...lines.slice(i)], n++);
  // Values swapped between two entries: every entry with every secret one, and every pair of
  // distinct keys (their first lines).
  const secretLines = entries.filter((i) => isSecretName(ENTRY.exec(lines[i]!)![2]!));
  const firstOfKey = new Map<string, number>();
  for (const i of entries) {
    const key = ENTRY.exec(lines[i]!)![2]!;
    if (!firstOfKey.has(key)) firstOfKey.set(key, i);
  }
  const pairs = new Set<string>();
  for (const s of secretLines)
    for (const i of entries) if (i !== s) pairs.add([s, i].sort((a, b) => a - b).join(","));
  const firsts = [...firstOfKey.values()];
  for (const a of firsts) for (const b of firsts) if (a < b) pairs.add(`${a},${b}`);
  for (const pair of pairs) {
    const [a, b] = pair.split(",").map(Number) as [number, number];
    const ea = ENTRY.exec(lines[a]!)!;
    const eb = ENTRY.exec(lines[b]!)!;
    const changed = [...lines];
    changed[a] = `${ea[1]}${ea[2]}${ea[3]}${eb[4]}`;
    changed[b] = `${eb[1]}${eb[2]}${eb[3]}${ea[4]}`;
    emit(`values of lines ${a + 1} and ${b + 1} swapped`, changed, n++);
  }
  // A secret's value copied under every other key, while it stays under its own.
  for (const s of secretLines) {
    const value = ENTRY.exec(lines[s]!)![4]!;
    for (const i of entries) {
      if (i === s) continue;
      const e = ENTRY.exec(lines[i]!)!;
      const changed = [...lines];
      changed[i] = `${e[1]}${e[2]}${e[3]}${value}`;
      emit(`value of line ${s + 1} copied to line ${i + 1}`, changed, n++);
    }
  }
  return out;
}
