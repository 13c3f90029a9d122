/**
 * The exit-code contract every `floatip` command keeps, and the one place that maps errors to it:
 *   0 passed · 1 a check failed · 2 could not check (usage, kubeconfig, unreachable API,
 *   unexpected error) · 130 interrupted (SIGINT/SIGTERM).
 */
import { CommanderError } from "commander";
import { CheckFailedError, InterruptedError } from "../ops/outcome.js";
import { errorText } from "../kube/errors.js";

export const EXIT = { passed: 0, failed: 1, couldNotCheck: 2, interrupted: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The help text's paragraph on exit codes (every command shows it). */
export const EXIT_HELP = `
Exit codes:
  0    passed
  1    a check failed (the report says which and how to fix it)
  2    could not check: bad flags, kubeconfig, unreachable API server, another run holds the lock
  130  interrupted (Ctrl-C / SIGTERM); failover-test puts the node back first; migrate and
       rollback undo a half-done EnvoyProxy patch or finish the Service step they are in
`;

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof InterruptedError) return EXIT.interrupted;
  if (err instanceof CheckFailedError) return EXIT.failed;
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.passed : EXIT.couldNotCheck;
  return EXIT.couldNotCheck;
}

const cleanups = new Set<() => Promise<void>>();

/** Something to undo if the command is interrupted (e.g. release the runbook lock); returns the remover. */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

export interface CommandContext {
  /** Aborted on the first SIGINT/SIGTERM; commands that handle it stop, restore and return. */
  signal: AbortSignal;
}

/**
 * Runs a command body under the contract. With `handlesInterrupt`, the body sees the signal and
 * must restore and return (a second signal exits at once); without, an interrupt runs the
 * registered cleanups and exits 130 (read-only commands have nothing to restore).
 */
export async function runCommand(
  name: string,
  body: (ctx: CommandContext) => Promise<ExitCode>,
  options: { handlesInterrupt?: boolean } = {},
): Promise<void> {
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted || !options.handlesInterrupt) {
      abort.abort();
      process.stderr.write(`floatip ${name}: ${sig}: stopping now\n`);
      void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(EXIT.interrupted));
      return;
    }
    process.stderr.write(`floatip ${name}: ${sig}: stopping and restoring (again to quit at once)\n`);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const code = await body({ signal: abort.signal });
    process.exitCode = abort.signal.aborted ? EXIT.interrupted : code;
  } catch (err) {
    process.exitCode = abort.signal.aborted ? EXIT.interrupted : exitCodeFor(err);
    console.error(`floatip ${name}: ${errorText(err)}`);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Commander's own usage errors (unknown option, bad choice) exit 2 like ours, on every subcommand. */
export function usageErrorsExit2(cmd: import("commander").Command): void {
  cmd.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.couldNotCheck);
  });
  for (const sub of cmd.commands) usageErrorsExit2(sub);
}
