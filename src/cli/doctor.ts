import { Command } from "commander";
import { collectSnapshot } from "../ops/doctor/collect.js";
import { diagnose } from "../ops/doctor/doctor.js";
import { formatReport } from "../ops/doctor/format.js";
import { jsonOption, lbClassValue, withClusterOptions } from "./options.js";
import { preflight } from "./preflight.js";
import { EXIT_HELP, runCommand } from "./run.js";

export function doctorCommand(): Command {
  return withClusterOptions(
    new Command("doctor").description("Explain why LoadBalancer Services are <pending> and who owns them"),
  )
    .addOption(jsonOption())
    .addHelpText("after", EXIT_HELP)
    .action((opts: { kubeconfig?: string; namespace: string; lbClass?: string; json?: boolean }) =>
      runCommand("doctor", async () => {
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
