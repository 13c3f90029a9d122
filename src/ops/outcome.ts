/**
 * How a runbook operation ends when it does not return a report: the CLI maps these to its exit
 * codes (src/cli/run.ts), the ops code only says what happened.
 */

/**
 * The command could not run as asked: bad flags or input, an unusable kubeconfig, an object that
 * isn't there (exit 2, "could not check", never a finding about the cluster).
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The operator interrupted (SIGINT/SIGTERM); anything changed has been restored. */
export class InterruptedError extends Error {
  override name = "InterruptedError";
}

/** The check ran and found the floating IP not working (exit 1, not "could not check"). */
export class CheckFailedError extends Error {
  override name = "CheckFailedError";
}
