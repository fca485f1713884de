// No secret of cluster.conf reaches cluadmin's output, whatever the line endings of the file and
// whichever key a secret value was typed under: every mutation of the example (secret-mutations.ts)
// goes through config check, member show, service show config and cluster show config, plain and
// --json, and all they print (stdout, stderr, error text) is searched for every secret.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/cluadmin-main.js";
import { MIN_MASKED_SECRET, maskConfigText, redact, secretValues } from "../../src/config/redact.js";
import { isSecretName } from "../../src/config/secrets.js";
import { validateText } from "../../src/config/validate.js";
import { scratchDir } from "../helpers/scratch.js";
import { FIXTURE_SECRETS, fixture, mutations } from "./secret-mutations.js";

const dir = scratchDir("clumanager-redaction-");
afterAll(() => dir.remove());

const COMMANDS: readonly (readonly string[])[] = [
  ["config", "check"],
  ["--json", "config", "check"],
  ["member", "show"],
  ["--json", "member", "show"],
  ["service", "show", "config"],
  ["--json", "service", "show", "config"],
  ["cluster", "show", "config"],
  ["--json", "cluster", "show", "config"],
];

async function cluadmin(conf: string, words: readonly string[]): Promise<{ code: number; all: string }> {
  let all = "";
  const [json, rest] = words[0] === "--json" ? [["--json"], words.slice(1)] : [[], words];
  const code = await main(["-c", conf, "-m", "clu1", ...json, "--", ...rest], {
    out: (t) => (all += `${t}\n`),
    err: (t) => (all += `${t}\n`),
  });
  return { code, all };
}

/** The test's own reading of which values sit under a secret key: each line, split at any line
 * break, "key = value" with a secret key; a quoted value up to its closing quote, else up to " #". */
function secretsUnderSecretKeys(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(line.replace(/^\ufeff/, ""));
    if (m === null || !isSecretName(m[1]!)) continue;
    const raw = m[2]!;
    const value = raw.startsWith('"') ? raw.slice(1, raw.indexOf('"', 1)) : raw.split(/\s#/)[0]!.trim();
    if (value.length >= MIN_MASKED_SECRET) found.push(value);
  }
  return found;
}

describe("masking secrets in printed configuration", () => {
  it("the fixture is valid and holds the four secrets", () => {
    const text = fixture();
    expect(validateText(text).ok).toBe(true);
    expect(secretsUnderSecretKeys(text).sort()).toEqual([...FIXTURE_SECRETS].sort());
  });

  it("masks the secrets of every mutation of the example in everything cluadmin prints", async () => {
    const all = mutations(fixture());
    expect(all.length).toBeGreaterThan(500);
    const leaks: string[] = [];
    const odd: string[] = [];
    const path = join(dir.path, "mutated.conf");
    for (const m of all) {
      writeFileSync(path, m.text, { mode: 0o600 });
      const known = secretsUnderSecretKeys(m.text);
      for (const words of COMMANDS) {
        const r = await cluadmin(path, words);
        // A failing command prints errors: no secret of the example may be in them, wherever
        // the mutation put it. A command that succeeds prints the configuration as it is: no
        // value under a secret key may be in it.
        const forbidden = r.code === 0 ? known : [...new Set([...known, ...FIXTURE_SECRETS])];
        for (const s of forbidden)
          if (r.all.includes(s)) leaks.push(`${m.name}: ${words.join(" ")} (exit ${r.code}) prints "${s}"`);
        if (r.code !== 0 && r.code !== 1) odd.push(`${m.name}: ${words.join(" ")} exits ${r.code}: ${r.all}`);
        if (/undefined|TypeError|RangeError/.test(r.all)) odd.push(`${m.name}: ${words.join(" ")}: ${r.all}`);
      }
    }
    expect(leaks).toEqual([]);
    expect(odd).toEqual([]);
  }, 300_000);

  it("masks a secret line whole however short its value, and a repeated value of four characters or more", () => {
    const text = "[x]\r\npassword = ab\r\nhost = abcd\rcommunity = abcd\nname = ab\n";
    const secrets = secretValues(text);
    expect(maskConfigText(text, secrets)).toBe(
      "[x]\r\npassword = ***\r\nhost = ***\rcommunity = ***\nname = ab\n",
    );
    expect(redact('{"p":"a\\"bc d"}', new Set(['a"bc d']))).toBe('{"p":"***"}');
  });

  it("quotes no rejected value in an error, so a secret typed under the wrong key is not printed", () => {
    const text = fixture().replace("tko = 7 ", `tko = "${FIXTURE_SECRETS[0]}" `);
    const result = validateText(text);
    expect(result.ok).toBe(false);
    const messages = result.ok ? [] : result.errors.map((e) => e.message);
    expect(messages).toEqual(["tko in [cluster] must be a whole number from 2 to 1000"]);
  });
});

describe("the real cluadmin on mutated files", () => {
  const bin = join(process.cwd(), "dist/cli/cluadmin.js");
  const run = promisify(execFile);

  async function real(conf: string, words: readonly string[]): Promise<{ code: number; all: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [bin, "-c", conf, "-m", "clu1", ...words]);
      return { code: 0, all: stdout + stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, all: e.stdout + e.stderr };
    }
  }

  it("prints no secret from a CRLF, a CR-only and a value-swapped file", async () => {
    const picked = mutations(fixture()).filter((m) => ["CRLF", "CR only", "mixed, phase 1"].includes(m.name));
    const text = fixture();
    // A password typed under tko and a community under a heartbeat port, with CRLF endings.
    picked.push({
      name: "secrets under number keys, CRLF",
      text: text
        .replace("tko = 7 ", `tko = "${FIXTURE_SECRETS[0]}" `)
        .replace("port = 1228", `port = ${FIXTURE_SECRETS[3]}`)
        .replaceAll("\n", "\r\n"),
    });
    expect(picked).toHaveLength(4);
    for (const [i, m] of picked.entries()) {
      const conf = join(dir.path, `real${i}.conf`);
      writeFileSync(conf, m.text, { mode: 0o600 });
      for (const words of [
        ["--", "member", "show"],
        ["--", "cluster", "show", "config"],
        ["--json", "--", "cluster", "show", "config"],
        ["--", "config", "check"],
        ["--json", "--", "config", "check"],
      ]) {
        const r = await real(conf, words);
        for (const s of FIXTURE_SECRETS) expect(r.all, `${m.name}: ${words.join(" ")}`).not.toContain(s);
      }
    }
  });
});
