import { Command } from "commander";
import {
  expectationFrom,
  ipOption,
  jsonOption,
  lbClassValue,
  positiveMs,
  serviceOption,
  withClusterOptions,
  withProbeOptions,
} from "./options.js";
import { EXIT, EXIT_HELP, runCommand } from "./run.js";

interface VerifyFlags {
  kubeconfig?: string;
  namespace: string;
  lbClass?: string;
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
  const cmd = new Command("verify").description(
    "The seed's Verification section as one command: components, pool, advertisement, Service, announcing node, HTTP",
  );
  return withProbeOptions(withClusterOptions(cmd))
    .addOption(serviceOption("the Service to check (default: the Envoy Gateway proxy Service)"))
    .addOption(ipOption("the floating IP the Service must have"))
    .option("--nodes <names>", "comma-separated nodes that must run a speaker (default: control-plane nodes)")
    .option("--no-http", "skip the HTTP reachability check")
    .option("--http-timeout-ms <ms>", "HTTP check timeout", positiveMs, 3000)
    .addOption(jsonOption())
    .addHelpText("after", EXIT_HELP)
    .action((opts: VerifyFlags) =>
      runCommand("verify", async ({ signal }) => {
        const { formatReport, verify } = await import("../ops/verify.js");
        const { preflight } = await import("./preflight.js");
        const { probePlace } = await import("./probes.js");
        const place = await probePlace(opts.lab, expectationFrom(opts));
        const kubeconfig = opts.kubeconfig ?? place.kubeconfig;
        const { client, lbClass } = await preflight({ ...opts, kubeconfig });
        const report = await verify(client.api, {
          namespace: opts.namespace,
          lbClass: lbClassValue(lbClass),
          service: opts.service,
          expectedIp: opts.ip,
          nodes: opts.nodes ? opts.nodes.split(",").filter(Boolean) : undefined,
          http: opts.http,
          httpTimeoutMs: opts.httpTimeoutMs,
          httpProbe: (url) => place.probe(url, 50, opts.httpTimeoutMs),
          expect: expectationFrom(opts),
          signal,
        }).finally(() => client.close());
        console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
        return report.ok ? EXIT.passed : EXIT.failed;
      }),
    );
}
