import { Command } from "commander";
import { UsageError } from "../ops/outcome.js";
import {
  expectationFrom,
  ipOption,
  LOCK_HELP,
  serviceOption,
  withChangeOptions,
  withClusterOptions,
  withProbeOptions,
} from "./options.js";
import { EXIT_HELP, runCommand } from "./run.js";
import { EG_NAMESPACE } from "../ops/envoy/types.js";

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
    .addHelpText("after", `${LOCK_HELP}${EXIT_HELP}`)
    .action((flags: MigrateFlags) =>
      runCommand(
        "migrate",
        async ({ signal }) => {
          if (!flags.service === !flags.envoyproxy)
            throw new UsageError("pass exactly one of --service <ns/name> or --envoyproxy <ns/name>");
          // Loaded when run: the speaker and controller start from this CLI too (cli/README.md).
          const { probePlace } = await import("./probes.js");
          const { preflight } = await import("./preflight.js");
          const { planConfirmation, progressPrinter } = await import("./prompt.js");
          const { runMigrate } = await import("../ops/migrate/run.js");
          const { refOption, runChange } = await import("./change.js");
          const timeoutMs = flags.timeout;
          const service = refOption("--service", flags.service, flags.envoyNamespace);
          const envoyProxy = refOption("--envoyproxy", flags.envoyproxy, flags.envoyNamespace);
          const place = await probePlace(flags.lab, expectationFrom(flags));
          const { client, lbClass } = await preflight({
            ...flags,
            kubeconfig: flags.kubeconfig ?? place.kubeconfig,
          });
          return runChange(
            client,
            { operation: "migrate", refusing: "migrate", namespace: flags.namespace, dryRun: !!flags.dryRun },
            (out) =>
              runMigrate(
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
              ),
          );
        },
        { handlesInterrupt: true },
      ),
    );
}
