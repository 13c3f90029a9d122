import { Command } from "commander";
import { jsonOption, lbClassValue, withClusterOptions } from "./options.js";
import { EXIT_HELP, runCommand } from "./run.js";

export function doctorCommand(): Command {
  return withClusterOptions(
    new Command("doctor").description("Explain why LoadBalancer Services are <pending> and who owns them"),
  )
    .addOption(jsonOption())
    .addHelpText("after", EXIT_HELP)
    .action((opts: { kubeconfig?: string; namespace: string; lbClass?: string; json?: boolean }) =>
      runCommand("doctor", async () => {
        // Loaded when run: the speaker and controller start from this CLI too (cli/README.md).
        const { collectSnapshot } = await import("../ops/doctor/collect.js");
        const { diagnose } = await import("../ops/doctor/doctor.js");
        const { formatReport } = await import("../ops/doctor/format.js");
        const { preflight } = await import("./preflight.js");
        const { client, lbClass } = await preflight(opts);
        try {
          const snap = await collectSnapshot(client, {
            namespace: opts.namespace,
            lbClass: lbClassValue(lbClass),
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
