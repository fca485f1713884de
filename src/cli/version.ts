// The version every command prints for --version: package.json's, read from the tree the command
// runs from (the checkout, or /usr/lib/clumanager in the Debian package), so the two cannot differ.
import { readFileSync } from "node:fs";

const PACKAGE_JSON = new URL("../../package.json", import.meta.url);

/** "NAME VERSION", e.g. "cluadmin 0.1.0". */
export function versionLine(command: string): string {
  const { version } = JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version: string };
  return `${command} ${version}`;
}
