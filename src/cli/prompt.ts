/**
 * Talking to the operator at a terminal: y/N questions before a command changes anything, and
 * progress lines on stderr. Used by migrate, rollback and cloudsigma fix-nic.
 */
import { createInterface } from "node:readline/promises";

/** Asks `question` (which shows its own "[y/N]") on stderr; true only for y/yes. */
export async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

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
    return ask("Apply this plan? [y/N] ");
  };
}

/** Progress lines on stderr, stamped with the (monotonic) time since the command started. */
export function progressPrinter(start = performance.now()): (line: string) => void {
  return (line) => {
    const t = ((performance.now() - start) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[${t}s] ${line}\n`);
  };
}
