import { Command, Option } from "commander";
import { FAULT_KINDS, type FaultKind } from "../../lab/faults.js";

export function labCommand(): Command {
  const lab = new Command("lab").description("The one-machine network lab (needs root): nodes as network namespaces");
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
  return lab;
}
