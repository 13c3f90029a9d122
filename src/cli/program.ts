import { Command } from "commander";
import { createRequire } from "node:module";
import { cloudsigmaCommand } from "./cloudsigma.js";
import { controllerCommand } from "./controller.js";
import { doctorCommand } from "./doctor.js";
import { migrateCommand } from "./migrate.js";
import { rollbackCommand } from "./rollback.js";
import { failoverTestCommand } from "./failover-test.js";
import { labCommand } from "./lab.js";
import { renderCommand } from "./render.js";
import { verifyCommand } from "./verify.js";
import { speakerCommand } from "./speaker.js";
import { EXIT_HELP } from "./run.js";

const require = createRequire(import.meta.url);

function packageVersion(): string {
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      return (require(path) as { version: string }).version;
    } catch {
      // try the next layout (src/ via tsx, dist/src/ after tsc)
    }
  }
  return "unknown";
}

/** The single `floatip` entry point; each subcommand lives in its own module. */
export function buildProgram(): Command {
  const program = new Command("floatip")
    .description("Floating IP with automatic Layer 2 failover for Kubernetes LoadBalancer Services")
    .version(packageVersion())
    .addHelpText("after", EXIT_HELP);
  program.addCommand(speakerCommand());
  program.addCommand(labCommand());
  program.addCommand(verifyCommand());
  program.addCommand(failoverTestCommand());
  program.addCommand(controllerCommand());
  program.addCommand(doctorCommand());
  program.addCommand(migrateCommand());
  program.addCommand(rollbackCommand());
  program.addCommand(renderCommand());
  program.addCommand(cloudsigmaCommand());
  return program;
}
