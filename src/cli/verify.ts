import { Command, Option } from "commander";

export function verifyCommand(): Command {
  return new Command("verify")
    .description(
      "The seed's Verification section as one command: components, pool, advertisement, Service, announcing node, HTTP",
    )
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    .addOption(
      new Option("--namespace <ns>", "floatip's namespace")
        .env("FLOATIP_NAMESPACE")
        .default("metallb-system"),
    )
    .addOption(
      new Option("--lb-class <class>", "the loadBalancerClass floatip handles ('' for none)")
        .env("FLOATIP_LB_CLASS")
        .default("metallb"),
    )
    .option("--service <ns/name>", "the Service to check (default: the Envoy Gateway proxy Service)")
    .option("--ip <ip>", "the floating IP the Service must have")
    .option("--nodes <names>", "comma-separated nodes that must run a speaker (default: control-plane nodes)")
    .option("--no-http", "skip the HTTP reachability check")
    .option("--http-timeout-ms <ms>", "HTTP check timeout", (v) => Number(v), 3000)
    .option("--lab <socket>", "a running 'floatip lab up': do the HTTP check from the lab's client namespace")
    .option("--json", "machine-readable output", false)
    .action(async (opts) => {
      const { LabControl } = await import("../../lab/control.js");
      const { loadKubeConfig } = await import("../kube/client.js");
      const { probeFromNetns } = await import("../ops/probing.js");
      const { formatReport, verify } = await import("../ops/verify.js");
      let kubeconfig = opts.kubeconfig as string | undefined;
      let httpProbe: ((url: string) => import("../ops/probing.js").ProbeSession) | undefined;
      if (opts.lab) {
        const info = await new LabControl(opts.lab).info();
        kubeconfig ??= info.kubeconfig;
        httpProbe = (url: string) => probeFromNetns(info.clientNs, url, 50, opts.httpTimeoutMs);
      }
      const report = await verify(loadKubeConfig(kubeconfig), {
        namespace: opts.namespace,
        lbClass: opts.lbClass || undefined,
        service: opts.service,
        expectedIp: opts.ip,
        nodes: opts.nodes ? String(opts.nodes).split(",").filter(Boolean) : undefined,
        http: opts.http,
        httpTimeoutMs: opts.httpTimeoutMs,
        httpProbe,
      });
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
