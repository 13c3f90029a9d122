#!/usr/bin/env node
/**
 * `floatip-lab`: the one-machine network lab's own entry point. It lives in lab/, not in src/cli,
 * so the product (the `floatip` CLI, the image) neither compiles nor ships lab/ and testenv/; the
 * runbook commands reach a running lab only through its control socket (src/ops/lab-control.ts).
 */
import { Command, Option } from "commander";
import { connectionsOption, packageVersion } from "../src/cli/options.js";
import { exitCodeFor, usageErrorsExit2 } from "../src/cli/run.js";
import { errorText } from "../src/kube/errors.js";
import { FAULT_KINDS, type FaultKind } from "./faults.js";

const FROM_SOURCE_FLAG = "--from-source";
const FROM_SOURCE_HELP =
  "run the floatip controller and speakers from the source tree (development) instead of floatip's image, which is built from deploy/Containerfile when missing";

function labProgram(): Command {
  const lab = new Command("floatip-lab")
    .description("The one-machine network lab (needs root): nodes as network namespaces")
    .version(packageVersion());
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
    .addOption(connectionsOption())
    .option(FROM_SOURCE_FLAG, FROM_SOURCE_HELP, false)
    .action(
      async (opts: {
        fault: FaultKind[];
        out: string;
        keep: boolean;
        connections: number;
        fromSource: boolean;
      }) => {
        const { runDemo } = await import("./demo.js");
        await runDemo({
          faults: opts.fault,
          out: opts.out,
          keep: opts.keep,
          connections: opts.connections,
          fromSource: opts.fromSource,
        });
      },
    );
  lab
    .command("up")
    .description(
      "Start the seed's setup in the lab and keep it running; other commands reach it with --lab <socket>",
    )
    .option(
      "--socket <path>",
      "control socket for floatip verify/failover-test/migrate --lab",
      "/run/floatip-lab.sock",
    )
    .option(FROM_SOURCE_FLAG, FROM_SOURCE_HELP, false)
    .action(async (opts: { socket: string; fromSource: boolean }) => {
      const { LabCluster } = await import("./cluster.js");
      const { seedClusterOptions, setupSeed } = await import("./demo.js");
      const { serveLabControl } = await import("./control.js");
      const { VIP } = await import("./addresses.js");
      const say = (l: string) => console.log(l);
      const cluster = await LabCluster.create(seedClusterOptions(opts.fromSource, (l) => say(`   ${l}`)));
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

const program = labProgram();
usageErrorsExit2(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`floatip-lab: ${errorText(err)}`);
  process.exitCode = exitCodeFor(err);
});
