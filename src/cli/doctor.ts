import { Command } from "commander";
import { collectSnapshot } from "../ops/doctor/collect.js";
import { diagnose } from "../ops/doctor/doctor.js";
import { formatReport } from "../ops/doctor/format.js";
import { runCommand } from "../ops/envoy/cli-support.js";
import { OpsClient } from "../ops/envoy/kube.js";

export function doctorCommand(): Command {
  return new Command("doctor")
    .description(
      "Explain why LoadBalancer Services are <pending> and who owns them (exit 0 healthy, 1 problems found, 2 could not check)",
    )
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    .option(
      "--namespace <ns>",
      "namespace of IPAddressPools, L2Advertisements and speakers",
      "metallb-system",
    )
    .option(
      "--lb-class <class>",
      "the loadBalancerClass floatip is meant to serve ('' = Services without a class)",
      "metallb",
    )
    .option("--json", "print the report as JSON")
    .action((opts: { kubeconfig?: string; namespace: string; lbClass: string; json?: boolean }) =>
      runCommand("doctor", async () => {
        const client = await OpsClient.connect(opts.kubeconfig);
        try {
          const snap = await collectSnapshot(client, {
            namespace: opts.namespace,
            lbClass: opts.lbClass || undefined,
          });
          const report = diagnose(snap);
          process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report));
          return report.exitCode;
        } finally {
          client.close();
        }
      }),
    );
}
