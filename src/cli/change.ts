/**
 * What migrate and rollback share around their run: `<namespace>/<name>` flags, the runbook lock
 * (not taken with --dry-run, released also on Ctrl-C), closing the client, and a proxy that isn't
 * ready as "Refusing to …" (exit 1, nothing changed).
 */
import type { KubeClient } from "../kube/client.js";
import { parseRef, type ObjectRef } from "../kube/objects.js";
import { NotReadyError } from "../ops/envoy/locate.js";
import { acquireLock } from "../ops/lock.js";
import { UsageError } from "../ops/outcome.js";
import { onInterrupt, type ExitCode } from "./run.js";

export function refOption(flag: string, value: string | undefined, defaultNs: string): ObjectRef | undefined {
  if (value === undefined) return undefined;
  const ref = parseRef(value, defaultNs);
  if (!ref) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected <namespace>/<name>`);
  return ref;
}

/** The runbook lock, released also when the command is interrupted. */
export async function lockFor(client: KubeClient, namespace: string, operation: string) {
  try {
    const lock = await acquireLock(client, namespace, operation);
    const unregister = onInterrupt(() => lock.release());
    return {
      release: async () => {
        unregister();
        await lock.release();
      },
    };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** Runs one change under the lock and closes the client after; `refusing` words a NotReadyError. */
export async function runChange(
  client: KubeClient,
  opts: { operation: "migrate" | "rollback"; refusing: string; namespace: string; dryRun: boolean },
  run: (out: (line: string) => void) => Promise<{ exitCode: ExitCode }>,
): Promise<ExitCode> {
  const lock = opts.dryRun ? undefined : await lockFor(client, opts.namespace, opts.operation);
  const out = (line: string) => process.stdout.write(line + "\n");
  try {
    return (await run(out)).exitCode;
  } catch (err) {
    if (err instanceof NotReadyError) {
      out(`Refusing to ${opts.refusing}: ${err.message}\nNothing was changed.`);
      return 1;
    }
    throw err;
  } finally {
    await lock?.release();
    client.close();
  }
}
