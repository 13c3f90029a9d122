import { Command, Option } from "commander";
import { NotReadyError } from "../ops/envoy/locate.js";
import { parseIpArg, serviceOption, withChangeOptions, withClusterOptions } from "./options.js";
import { preflight } from "./preflight.js";
import { planConfirmation, progressPrinter } from "./prompt.js";
import { EXIT_HELP, runCommand } from "./run.js";
import { EG_NAMESPACE } from "../ops/envoy/types.js";
import { runRollback } from "../ops/rollback/run.js";
import { lockFor, refOption } from "./migrate.js";

interface RollbackFlags {
  service?: string;
  externalIp?: string;
  uninstall?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  lbClass?: string;
  namespace: string;
  envoyNamespace: string;
  timeout: number;
  release: string;
  selector: string;
  helm: string;
  kubeconfig?: string;
}

export function rollbackCommand(): Command {
  const cmd = new Command("rollback").description(
    "The runbook's rollback: put externalIPs back on the Envoy Gateway Service (through the EnvoyProxy and Gateway), optionally uninstall floatip",
  );
  return withChangeOptions(withClusterOptions(cmd), EG_NAMESPACE)
    .addOption(serviceOption("the Envoy Gateway proxy Service (default: the one with --lb-class)"))
    .addOption(
      new Option(
        "--external-ip <address>",
        "the address to put back (default: the Service's current floating IP)",
      ).argParser(parseIpArg("--external-ip")),
    )
    .option(
      "--uninstall",
      "also uninstall floatip (helm uninstall if a release exists, else delete its workloads)",
    )
    .option("--release <name>", "Helm release to uninstall", "floatip")
    .option(
      "--selector <labels>",
      "label selector of floatip workloads without Helm",
      "app.kubernetes.io/name=floatip",
    )
    .option("--helm <path>", "helm binary", "helm")
    .addHelpText(
      "after",
      `\nA Lease (floatip-runbook-lock) keeps a second failover-test, migrate or rollback from running\nat the same time (not taken with --dry-run).\n${EXIT_HELP}`,
    )
    .action((flags: RollbackFlags) =>
      runCommand(
        "rollback",
        async ({ signal }) => {
          const timeoutMs = flags.timeout;
          const service = refOption("--service", flags.service, flags.envoyNamespace);
          const { client, lbClass } = await preflight(flags);
          const lock = flags.dryRun ? undefined : await lockFor(client, flags.namespace, "rollback");
          const out = (line: string) => process.stdout.write(line + "\n");
          try {
            const result = await runRollback(
              {
                ...(service ? { service } : {}),
                ...(flags.externalIp ? { externalIp: flags.externalIp } : {}),
                uninstall: !!flags.uninstall,
                dryRun: !!flags.dryRun,
                lbClass,
                namespace: flags.namespace,
                envoyNamespace: flags.envoyNamespace,
                timeoutMs,
                release: flags.release,
                selector: flags.selector,
                helm: flags.helm,
                ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
              },
              {
                client,
                progress: progressPrinter(),
                out,
                confirm: planConfirmation(flags.yes, out),
                signal,
              },
            );
            return result.exitCode;
          } catch (err) {
            if (err instanceof NotReadyError) {
              out(`Refusing to roll back: ${err.message}\nNothing was changed.`);
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
