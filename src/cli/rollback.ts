import { Command, Option } from "commander";
import { LOCK_HELP, parseIpArg, serviceOption, withChangeOptions, withClusterOptions } from "./options.js";
import { EXIT_HELP, runCommand } from "./run.js";
import { EG_NAMESPACE } from "../ops/envoy/types.js";

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
    .addHelpText("after", `${LOCK_HELP}${EXIT_HELP}`)
    .action((flags: RollbackFlags) =>
      runCommand(
        "rollback",
        async ({ signal }) => {
          // Loaded when run: the speaker and controller start from this CLI too (cli/README.md).
          const { preflight } = await import("./preflight.js");
          const { planConfirmation, progressPrinter } = await import("./prompt.js");
          const { runRollback } = await import("../ops/rollback/run.js");
          const { refOption, runChange } = await import("./change.js");
          const timeoutMs = flags.timeout;
          const service = refOption("--service", flags.service, flags.envoyNamespace);
          const { client, lbClass } = await preflight(flags);
          return runChange(
            client,
            {
              operation: "rollback",
              refusing: "roll back",
              namespace: flags.namespace,
              dryRun: !!flags.dryRun,
            },
            (out) =>
              runRollback(
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
              ),
          );
        },
        { handlesInterrupt: true },
      ),
    );
}
