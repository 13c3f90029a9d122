import { Command } from "commander";
import {
  expectBodyOption,
  expectStatusOption,
  expectationFrom,
  ipOption,
  jsonOption,
  kubeconfigOption,
  labOption,
  lbClassOption,
  namespaceOption,
  positiveMs,
} from "./options.js";
import { EXIT, EXIT_HELP, runCommand } from "./run.js";

interface VerifyFlags {
  kubeconfig?: string;
  namespace: string;
  lbClass: string;
  service?: string;
  ip?: string;
  nodes?: string;
  http: boolean;
  httpTimeoutMs: number;
  expectStatus: readonly (readonly [number, number])[];
  expectBody?: string;
  lab?: string;
  json: boolean;
}

export function verifyCommand(): Command {
  return new Command("verify")
    .description(
      "The seed's Verification section as one command: components, pool, advertisement, Service, announcing node, HTTP",
    )
    .addOption(kubeconfigOption())
    .addOption(namespaceOption())
    .addOption(lbClassOption())
    .option("--service <ns/name>", "the Service to check (default: the Envoy Gateway proxy Service)")
    .addOption(ipOption("the floating IP the Service must have"))
    .option("--nodes <names>", "comma-separated nodes that must run a speaker (default: control-plane nodes)")
    .option("--no-http", "skip the HTTP reachability check")
    .option("--http-timeout-ms <ms>", "HTTP check timeout", positiveMs, 3000)
    .addOption(expectStatusOption())
    .addOption(expectBodyOption())
    .addOption(labOption())
    .addOption(jsonOption())
    .addHelpText("after", EXIT_HELP)
    .action((opts: VerifyFlags) =>
      runCommand("verify", async ({ signal }) => {
        const { LabControl } = await import("../../lab/control.js");
        const { loadKubeConfig } = await import("../kube/client.js");
        const { probeFromNetns } = await import("../ops/probing.js");
        const { formatReport, verify } = await import("../ops/verify.js");
        const { preflight } = await import("./preflight.js");
        const expect = expectationFrom(opts);
        let kubeconfig = opts.kubeconfig;
        let httpProbe: ((url: string) => import("../ops/probing.js").ProbeSession) | undefined;
        if (opts.lab) {
          const info = await new LabControl(opts.lab).info();
          kubeconfig ??= info.kubeconfig;
          httpProbe = (url: string) => probeFromNetns(info.clientNs, url, 50, opts.httpTimeoutMs, expect);
        }
        (await preflight({ kubeconfig, namespace: opts.namespace, lbClass: opts.lbClass })).close();
        const report = await verify(loadKubeConfig(kubeconfig), {
          namespace: opts.namespace,
          lbClass: opts.lbClass || undefined,
          service: opts.service,
          expectedIp: opts.ip,
          nodes: opts.nodes ? opts.nodes.split(",").filter(Boolean) : undefined,
          http: opts.http,
          httpTimeoutMs: opts.httpTimeoutMs,
          httpProbe,
          expect,
          signal,
        });
        console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
        return report.ok ? EXIT.passed : EXIT.failed;
      }),
    );
}
