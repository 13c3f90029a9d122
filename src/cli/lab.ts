import { Command, Option } from "commander";
import { FAULT_KINDS, type FaultKind } from "../../lab/faults.js";

export function labCommand(): Command {
  const lab = new Command("lab").description(
    "The one-machine network lab (needs root): nodes as network namespaces",
  );
  lab
    .command("demo")
    .description("Run the seed's setup in the lab, fail the announcing node, and show the IP moving")
    .addOption(
      new Option("--fault <kinds...>", "faults to show, in order")
        .choices([...FAULT_KINDS])
        .default(["crash", "sigterm"]),
    )
    .option("--out <file>", "where to write the timeline plot (SVG)", "floatip-demo-timeline.svg")
    .option("--keep", "keep the lab running at the end until Ctrl-C", false)
    .action(async (opts: { fault: FaultKind[]; out: string; keep: boolean }) => {
      const { runDemo } = await import("../../lab/demo.js");
      await runDemo({ faults: opts.fault, out: opts.out, keep: opts.keep });
    });
  lab
    .command("up")
    .description(
      "Start the seed's setup in the lab and keep it running; other commands reach it with --lab <socket>",
    )
    .option("--socket <path>", "control socket for verify/failover-test --lab", "/run/floatip-lab.sock")
    .action(async (opts: { socket: string }) => {
      const { LabCluster } = await import("../../lab/cluster.js");
      const { setupSeed } = await import("../../lab/demo.js");
      const { serveLabControl } = await import("../../lab/control.js");
      const { VIP } = await import("../../lab/addresses.js");
      const say = (l: string) => console.log(l);
      const cluster = await LabCluster.create({
        nodes: 3,
        workers: 1,
        lbClass: "metallb",
        progress: (l) => say(`   ${l}`),
      });
      const server = await serveLabControl(cluster, opts.socket);
      const stop = () => {
        server.close();
        void cluster.destroy().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      const svc = await setupSeed(cluster, VIP, (n, text) => say(`${n}. ${text}`), say);
      say(`\nThe lab is up: floating IP ${VIP}, nodes ${cluster.lab.nodes.map((n) => n.name).join(", ")}.`);
      say(`  export KUBECONFIG=${cluster.cp.kubeconfigPath}`);
      say(`  floatip verify --lab ${opts.socket}`);
      say(
        `  floatip failover-test --lab ${opts.socket} --method crash   (or drain, freeze, sigterm, partition, public-link-down)`,
      );
      say(
        `  floatip doctor; floatip rollback --service ${svc.namespace}/${svc.name} --dry-run; floatip migrate --help   (the real Envoy Gateway controller runs)`,
      );
      say(`  ip netns exec ${cluster.lab.clientNs} curl http://${VIP}/`);
      say("Ctrl-C tears it all down.");
    });
  return lab;
}
