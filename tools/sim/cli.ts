// What the three switch simulators' command lines share: the outlet options, refusing bad
// input with one sentence and exit 64, and running until SIGINT or SIGTERM.

/** parseArgs options every simulator takes. */
export const COMMON_OPTIONS = {
  outlets: { type: "string" },
  "state-file": { type: "string" },
  hook: { type: "string" },
  fault: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export function usageError(sim: string, message: string): never {
  process.stderr.write(`${sim} simulator: ${message}\n`);
  process.exit(64);
}

export function required(sim: string, option: string, value: string | undefined, help: string): string {
  if (value === undefined) usageError(sim, `${option} is required\n${help}`);
  return value;
}

/** The value if it is one of `allowed`; otherwise a usage error naming them all. */
export function oneOf<T extends string>(
  sim: string,
  option: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  usageError(sim, `${option} must be one of ${allowed.join(", ")}, not ${value}`);
}

/** The outlet bank's options from the common command-line values. */
export function bankOptions(values: {
  outlets?: string | undefined;
  "state-file"?: string | undefined;
  hook?: string | undefined;
}): { outlets?: number; stateFile?: string; hook?: string } {
  return {
    ...(values.outlets !== undefined ? { outlets: Number(values.outlets) } : {}),
    ...(values["state-file"] !== undefined ? { stateFile: values["state-file"] } : {}),
    ...(values.hook !== undefined ? { hook: values.hook } : {}),
  };
}

/** Prints the ready line, then stops the simulator and exits 0 on SIGINT or SIGTERM. */
export function serveUntilSignalled(readyLine: string, stop: () => Promise<void>): void {
  process.stdout.write(`${readyLine}\n`);
  const onSignal = () => void stop().then(() => process.exit(0));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
