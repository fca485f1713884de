// The daemon's log: one JSON object per line (pino), at the syslog levels cluster.conf names, so
// `loglevel = notice` means what an administrator of the original expects.
import pino from "pino";
import { LOG_LEVELS, type LogLevel } from "../config/model.js";

const SYSLOG_LEVELS: Record<LogLevel, number> = {
  debug: 20,
  info: 30,
  notice: 35,
  warning: 40,
  err: 50,
  crit: 55,
  alert: 58,
  emerg: 60,
};

export type Logger = pino.Logger<LogLevel, true>;

/**
 * Writes synchronously: a member that self-fences exits (or reboots) right after its last line,
 * and that line is the one an administrator needs most.
 */
export function createLogger(level: LogLevel, fields: Record<string, unknown>, fd = 1): Logger {
  if (!LOG_LEVELS.includes(level)) throw new RangeError(`unknown log level ${level}`);
  return pino<LogLevel, true>(
    {
      level,
      customLevels: SYSLOG_LEVELS,
      useOnlyCustomLevels: true,
      base: { pid: process.pid, ...fields },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd, sync: true }),
  );
}
