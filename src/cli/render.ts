import { Command } from "commander";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Bundle } from "../ops/render/bundle.js";
import { dryRunOption, packageVersion } from "./options.js";

interface RenderOptions {
  config?: string;
  out: string;
  stdout?: boolean;
  dryRun?: boolean;
  example?: boolean;
}

export function renderCommand(): Command {
  return new Command("render")
    .description(
      "Render Helm values, pool/L2Advertisement, EnvoyProxy/GatewayClass, a cdev StackTemplate and a kustomize/Flux layout from one config file",
    )
    .option("-c, --config <file>", "the render config (YAML); start from --example")
    .option("-o, --out <dir>", "output directory", "floatip-deploy")
    .option("--stdout", "print every file instead of writing")
    .addOption(dryRunOption("list the files that would be written (new/changed/unchanged), write nothing"))
    .option("--example", "print an annotated example config and exit")
    .action(async (opts: RenderOptions) => {
      // Loaded when run: the speaker and controller start from this CLI too (cli/README.md).
      const { EXAMPLE_CONFIG } = await import("../ops/render/example.js");
      const { parseRenderConfig } = await import("../ops/render/config.js");
      const { renderBundle } = await import("../ops/render/bundle.js");
      if (opts.example) {
        process.stdout.write(EXAMPLE_CONFIG);
        return;
      }
      if (!opts.config) {
        throw new Error(
          "render needs --config <file>; create one with `floatip render --example > floatip.yaml`",
        );
      }
      const text = await readFile(opts.config, "utf8").catch((err: NodeJS.ErrnoException) => {
        throw new Error(
          err.code === "ENOENT"
            ? `config file ${opts.config} not found; create one with \`floatip render --example > ${opts.config}\``
            : `cannot read ${opts.config}: ${err.message}`,
        );
      });
      const cfg = parseRenderConfig(text, opts.config, packageVersion());
      const bundle = renderBundle(cfg, opts.config);
      for (const w of bundle.warnings) process.stderr.write(`warning: ${w}\n`);
      if (opts.stdout) printFiles(bundle);
      else if (opts.dryRun) await listChanges(bundle, opts.out);
      else await writeFiles(bundle, opts.out);
    });
}

function printFiles(bundle: Bundle): void {
  for (const f of bundle.files) process.stdout.write(`# ==> ${f.path} <==\n${f.content}\n`);
}

async function listChanges(bundle: Bundle, out: string): Promise<void> {
  for (const f of bundle.files) {
    const current = await readFile(join(out, f.path), "utf8").catch(() => undefined);
    const state = current === undefined ? "new" : current === f.content ? "unchanged" : "changed";
    process.stdout.write(`${state.padEnd(9)} ${join(out, f.path)}\n`);
  }
}

async function writeFiles(bundle: Bundle, out: string): Promise<void> {
  for (const f of bundle.files) {
    const path = join(out, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content);
  }
  process.stderr.write(`wrote ${bundle.files.length} files to ${resolve(out)} (see its README.md)\n`);
}
