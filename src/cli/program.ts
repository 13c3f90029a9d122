import { Command } from "commander";
import { cloudsigmaCommand } from "./cloudsigma.js";
import { controllerCommand } from "./controller.js";
import { doctorCommand } from "./doctor.js";
import { migrateCommand } from "./migrate.js";
import { rollbackCommand } from "./rollback.js";
import { failoverTestCommand } from "./failover-test.js";
import { renderCommand } from "./render.js";
import { verifyCommand } from "./verify.js";
import { speakerCommand } from "./speaker.js";
import { packageVersion } from "./options.js";
import { EXIT_HELP } from "./run.js";

/**
 * The single `floatip` entry point; each subcommand lives in its own module. The lab is not one of
 * them: it has its own entry point, `floatip-lab` (lab/cli.ts), which the product does not ship.
 */
export function buildProgram(): Command {
  const program = new Command("floatip")
    .description("Floating IP with automatic Layer 2 failover for Kubernetes LoadBalancer Services")
    .version(packageVersion())
    .addHelpText("after", EXIT_HELP);
  program.addCommand(speakerCommand());
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
