import { Command } from "commander";
import { UsageError } from "../ops/outcome.js";
import { NotReadyError } from "../ops/envoy/locate.js";
import { acquireLock } from "../ops/lock.js";
import {
  expectationFrom,
  ipOption,
  serviceOption,
  withChangeOptions,
  withClusterOptions,
  withProbeOptions,
} from "./options.js";
import { probePlace } from "./probes.js";
import { preflight } from "./preflight.js";
import { planConfirmation, progressPrinter } from "./prompt.js";
import { EXIT_HELP, onInterrupt, runCommand } from "./run.js";
import { EG_NAMESPACE } from "../ops/envoy/types.js";
import { runMigrate } from "../ops/migrate/run.js";
import type { KubeClient } from "../kube/client.js";
import { type ObjectRef, parseRef } from "../kube/objects.js";

interface MigrateFlags {
  service?: string;
  envoyproxy?: string;
  ip?: string;
  lbClass?: string;
  namespace: string;
  envoyNamespace: string;
  dryRun?: boolean;
  yes?: boolean;
  timeout: number;
  url?: string;
  probeUrl?: string;
  kubeconfig?: string;
  lab?: string;
  expectStatus: readonly (readonly [number, number])[];
  expectBody?: string;
}

export function refOption(flag: string, value: string | undefined, defaultNs: string): ObjectRef | undefined {
  if (value === undefined) return undefined;
  const ref = parseRef(value, defaultNs);
  if (!ref) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected <namespace>/<name>`);
  return ref;
}

export function migrateCommand(): Command {
  const cmd = new Command("migrate").description(
    "Move an Envoy Gateway Service from externalIPs to a floatip floating IP (the runbook's EnvoyProxy change + Service recreation)",
  );
  return withProbeOptions(withChangeOptions(withClusterOptions(cmd), EG_NAMESPACE))
    .addOption(serviceOption("the Envoy Gateway proxy Service"))
    .option("--envoyproxy <ns/name>", "or: the EnvoyProxy (used by exactly one Gateway)")
    .addOption(ipOption("the floating IP (default: the Service's current externalIP)"))
    .option("--url <url>", "verify: this URL must answer through the floating IP")
    .option("--probe-url <url>", "measure real unavailability with a 10 ms probe loop against this URL")
    .addHelpText(
      "after",
      `\nA Lease (floatip-runbook-lock) keeps a second failover-test, migrate or rollback from running\nat the same time (not taken with --dry-run).\n${EXIT_HELP}`,
    )
    .action((flags: MigrateFlags) =>
      runCommand(
        "migrate",
        async ({ signal }) => {
          if (!flags.service === !flags.envoyproxy)
            throw new UsageError("pass exactly one of --service <ns/name> or --envoyproxy <ns/name>");
          const timeoutMs = flags.timeout;
          const service = refOption("--service", flags.service, flags.envoyNamespace);
          const envoyProxy = refOption("--envoyproxy", flags.envoyproxy, flags.envoyNamespace);
          const place = await probePlace(flags.lab, expectationFrom(flags));
          const { client, lbClass } = await preflight({
            ...flags,
            kubeconfig: flags.kubeconfig ?? place.kubeconfig,
          });
          const lock = flags.dryRun ? undefined : await lockFor(client, flags.namespace, "migrate");
          const out = (line: string) => process.stdout.write(line + "\n");
          try {
            const result = await runMigrate(
              {
                ...(service ? { service } : {}),
                ...(envoyProxy ? { envoyProxy } : {}),
                ...(flags.ip ? { ip: flags.ip } : {}),
                lbClass,
                namespace: flags.namespace,
                envoyNamespace: flags.envoyNamespace,
                dryRun: !!flags.dryRun,
                timeoutMs,
                ...(flags.url ? { url: flags.url } : {}),
                ...(flags.probeUrl ? { probeUrl: flags.probeUrl } : {}),
              },
              {
                client,
                progress: progressPrinter(),
                out,
                confirm: planConfirmation(flags.yes, out),
                probe: (url) => place.probe(url),
                httpCheck: (url) => place.check(url),
                signal,
              },
            );
            return result.exitCode;
          } catch (err) {
            if (err instanceof NotReadyError) {
              out(`Refusing to migrate: ${err.message}\nNothing was changed.`);
              return 1;
            }
            throw err;
          } finally {
            await lock?.release();
            client.close();
          }
        },
        { handlesInterrupt: true },
      ),
    );
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
