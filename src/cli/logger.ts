import { pino, type Logger } from "pino";

/** JSON logs on stdout (what `kubectl logs ... | grep serviceAnnounced` reads). */
export function createLogger(component: string, level = process.env.FLOATIP_LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
