import { Command, Option } from "commander";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";

export function failoverTestCommand(): Command {
  return new Command("failover-test")
    .description(
      "The seed's Failover Testing as one command: fail the announcing node, probe every 10 ms, measure, restore",
    )
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    .addOption(
      new Option("--namespace <ns>", "floatip's namespace")
        .env("FLOATIP_NAMESPACE")
        .default("metallb-system"),
    )
    .addOption(
      new Option("--lb-class <class>", "the loadBalancerClass floatip handles")
        .env("FLOATIP_LB_CLASS")
        .default("metallb"),
    )
    .option("--service <ns/name>", "the Service to test (default: the Envoy Gateway proxy Service)")
    .addOption(
      new Option("--method <method>", "how to fail the node (lab faults need --lab)")
        .choices(["drain", "crash", "freeze", "public-link-down", "partition", "sigterm"])
        .default("drain"),
    )
    .option(
      "--lab <socket>",
      "a running 'floatip lab up': inject lab faults and probe from its client namespace",
    )
    .option("--timeout-ms <ms>", "longest wait for the new announcement", (v) => Number(v), 60_000)
    .option("--settle-ms <ms>", "probe this long after recovery", (v) => Number(v), 2000)
    .option("--out <file>", "timeline plot (SVG)", "failover-timeline.svg")
    .option("--json", "machine-readable result", false)
    .action(async (opts) => {
      const { LabControl } = await import("../../lab/control.js");
      const { loadKubeConfig } = await import("../kube/client.js");
      const { failoverTest, formatFailoverResult } = await import("../ops/failover-test.js");
      const { timelineSvg } = await import("../ops/plot.js");
      const { probeFromNetns, probeLocally } = await import("../ops/probing.js");
      let kubeconfig = opts.kubeconfig as string | undefined;
      let lab: InstanceType<typeof LabControl> | undefined;
      let clientNs: string | undefined;
      if (opts.lab) {
        lab = new LabControl(opts.lab);
        const info = await lab.info();
        kubeconfig ??= info.kubeconfig;
        clientNs = info.clientNs;
      }
      const abort = new AbortController();
      const onSignal = () => {
        process.stderr.write("interrupted: restoring the node\n");
        abort.abort();
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const progress = (line: string) => process.stderr.write(`${line}\n`);
      const result = await failoverTest(loadKubeConfig(kubeconfig), {
        namespace: opts.namespace,
        lbClass: opts.lbClass || undefined,
        service: opts.service,
        method: opts.method as import("../ops/failover-test.js").FailMethod,
        faulter: lab,
        probe: (url) => (clientNs ? probeFromNetns(clientNs, url) : probeLocally(url)),
        timeoutMs: opts.timeoutMs,
        settleMs: opts.settleMs,
        progress,
        signal: abort.signal,
      });
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
      const markers = [{ t: result.faultAt, label: `${result.method} ${result.failedNode}` }];
      if (result.newAnnouncementMs !== undefined)
        markers.push({ t: result.faultAt + result.newAnnouncementMs, label: `${result.newNode} announces` });
      const svgPath = resolve(opts.out);
      if (result.timeline.length > 0) {
        writeFileSync(
          svgPath,
          timelineSvg(
            result.timeline,
            markers,
            `floatip failover-test: ${result.service} ${result.ip}, ${result.method} of ${result.failedNode}`,
          ),
        );
      }
      const { timeline: _timeline, summary: _summary, ...brief } = result;
      console.log(
        opts.json
          ? JSON.stringify({ ...brief, plot: svgPath }, null, 2)
          : `${formatFailoverResult(result)}\ntimeline plot: ${svgPath}`,
      );
      process.exitCode = result.ok ? 0 : 1;
    });
}
