import { describe, expect, it } from "vitest";
import { isSecretName } from "../../src/config/secrets.js";

describe("isSecretName", () => {
  // Every secret parameter of Debian's fence-agents, as arg.NAME in cluster.conf.
  const secrets = [
    "password",
    "passwd",
    "arg.password",
    "arg.apikey",
    "arg.access_key",
    "arg.secret_key",
    "arg.hexadecimal_kg",
    "arg.snmp_priv_passwd",
    "arg.community",
    "arg.token",
    "privkey",
    "param.api_key",
    "heartbeat.key",
  ];
  it.each(secrets)("masks %s", (name) => expect(isSecretName(name)).toBe(true));

  const plain = [
    "ipaddr",
    "arg.login",
    "arg.auth",
    "arg.key_file",
    "password_file",
    "arg.token_file",
    "outlet",
  ];
  it.each(plain)("shows %s", (name) => expect(isSecretName(name)).toBe(false));
});
