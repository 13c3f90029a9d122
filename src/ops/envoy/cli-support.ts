// Plumbing shared by the ops subcommands (doctor, migrate, rollback): durations, prompts. The exit
// codes and the error → exit code mapping live in src/cli/run.ts.

import { createInterface } from "node:readline/promises";
import { UsageError } from "./kube.js";

/** 0 ok, 1 the operation found problems or failed, 2 bad input or unreachable cluster. */
export type ExitCode = 0 | 1 | 2;

/** "90s", "2m", "500ms", "1h" or a plain number of seconds, in ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`not a duration: ${JSON.stringify(text)} (use e.g. 90s, 2m, 500ms)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Math.round(n * unit);
}

/** Asks y/N on a terminal; without one, refuses (the caller says to pass --yes). */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Progress lines on stderr, stamped with the time since the command started. */
/**
 * The plan confirmation shared by migrate and rollback: `--yes` skips it, and without a terminal to
 * ask on we refuse rather than change the cluster unasked.
 */
export function planConfirmation(
  yes: boolean | undefined,
  out: (line: string) => void,
): () => Promise<boolean> {
  return async () => {
    if (yes) return true;
    if (!process.stdin.isTTY) {
      out("Refusing to change the cluster without confirmation: pass --yes (or --dry-run).");
      return false;
    }
    return confirm("Apply this plan?");
  };
}

export function progressPrinter(start = Date.now()): (line: string) => void {
  return (line) => {
    const t = ((Date.now() - start) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[${t}s] ${line}\n`);
  };
}
