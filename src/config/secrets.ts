// Which configuration values are secrets: the one rule behind every mask (logs, --json, printed
// configuration, fence agent output). A name is judged by its last dotted part, so arg.password and
// param.api_key count. A name containing any of the words is a secret (privkey, apikey,
// snmp_priv_passwd, fence_ipmilan's hexadecimal_kg), except the *_file form, which names a file
// holding the secret: the path itself is not one.

const SECRET = /pass|secret|community|token|credential|key|(^|[_-])kg$/i;
const PATH_TO_SECRET = /[_-]file$/i;

export function isSecretName(name: string): boolean {
  const last = name.split(".").at(-1) ?? name;
  return SECRET.test(last) && !PATH_TO_SECRET.test(last);
}

/** What a secret is shown as, everywhere. */
export const MASK = "***";

/**
 * `text` with every one of `forms` (the ways secrets may appear in it) replaced by MASK. Longest
 * first, so a secret that contains another is masked whole, not left with a tail showing.
 */
export function maskForms(text: string, forms: Iterable<string>): string {
  let out = text;
  for (const form of [...new Set(forms)].sort((a, b) => b.length - a.length)) {
    if (form !== "") out = out.replaceAll(form, MASK);
  }
  return out;
}
