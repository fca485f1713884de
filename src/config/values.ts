// Value types of cluster.conf: each reads the text of one value and either gives the typed value
// or says, in a phrase that fits after "key must be", what it should have been.

export type Read<T> = { ok: true; value: T } | { ok: false; expected: string };

export interface ValueType<T> {
  read(text: string): Read<T>;
  describe: string;
}

export function seconds(min: number, max: number): ValueType<number> {
  const describe = `a number of seconds from ${min} to ${max}`;
  return {
    describe,
    read: (t) => {
      const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
      return n >= min && n <= max ? { ok: true, value: n } : { ok: false, expected: describe };
    },
  };
}

export function integer(min: number, max: number): ValueType<number> {
  const describe = `a whole number from ${min} to ${max}`;
  return {
    describe,
    read: (t) => {
      const n = /^\d+$/.test(t) ? Number(t) : Number.NaN;
      return n >= min && n <= max ? { ok: true, value: n } : { ok: false, expected: describe };
    },
  };
}

export function oneOf<T extends string>(...values: readonly T[]): ValueType<T> {
  const describe = `one of ${values.join(", ")}`;
  return {
    describe,
    read: (t) =>
      (values as readonly string[]).includes(t)
        ? { ok: true, value: t as T }
        : { ok: false, expected: describe },
  };
}

export const yesNo: ValueType<boolean> = {
  describe: "yes or no",
  read: (t) => {
    const v = t.toLowerCase();
    if (["yes", "true", "on", "1"].includes(v)) return { ok: true, value: true };
    if (["no", "false", "off", "0"].includes(v)) return { ok: true, value: false };
    return { ok: false, expected: "yes or no" };
  },
};

export const text: ValueType<string> = {
  describe: "some text",
  read: (t) => (t.length > 0 ? { ok: true, value: t } : { ok: false, expected: "not empty" }),
};

export const name: ValueType<string> = {
  describe: "a name of letters, digits, '.', '_' and '-' (at most 64)",
  read: (t) =>
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(t)
      ? { ok: true, value: t }
      : {
          ok: false,
          expected:
            "a name of letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit",
        },
};

export const absolutePath: ValueType<string> = {
  describe: "an absolute path",
  read: (t) =>
    t.startsWith("/") && !t.includes("\0")
      ? { ok: true, value: t }
      : { ok: false, expected: "an absolute path" },
};

export const host: ValueType<string> = {
  describe: "a host name or IP address",
  read: (t) =>
    /^[A-Za-z0-9][A-Za-z0-9.:-]{0,253}$/.test(t)
      ? { ok: true, value: t }
      : { ok: false, expected: "a host name or IP address" },
};

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export const ipv4: ValueType<string> = {
  describe: "an IPv4 address",
  read: (t) =>
    IPV4.test(t) ? { ok: true, value: t } : { ok: false, expected: "an IPv4 address such as 10.0.0.1" },
};

export const cidr: ValueType<string> = {
  describe: "an IPv4 address with a prefix length, such as 10.0.0.50/24",
  read: (t) => {
    const [address = "", prefix, ...rest] = t.split("/");
    const bits = prefix !== undefined && /^\d+$/.test(prefix) ? Number(prefix) : -1;
    return IPV4.test(address) && bits >= 0 && bits <= 32 && rest.length === 0
      ? { ok: true, value: t }
      : { ok: false, expected: "an IPv4 address with a prefix length, such as 10.0.0.50/24" };
  },
};

/** Levenshtein distance, for "did you mean" suggestions; bounded by the strings' short lengths. */
export function distance(a: string, b: string): number {
  const row = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** "; did you mean X?" when a candidate is a plausible typo of `word`, else nothing. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = nearest(word, candidates);
  return near !== undefined ? `; did you mean ${near}?` : "";
}

/** The nearest of `candidates` to `word`, if it is a plausible typo of it. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}
