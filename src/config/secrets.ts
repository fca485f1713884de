// Which configuration values are secrets: the one rule behind every mask (logs, --json, printed
// configuration, fence agent output). A name is judged by its last dotted part, so arg.password and
// param.api_key count, while key_file (a path) does not.

const SECRET = /pass|secret|community|token|credential|(^|[_-])key$/i;

export function isSecretName(name: string): boolean {
  return SECRET.test(name.split(".").at(-1) ?? name);
}
