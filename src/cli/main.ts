#!/usr/bin/env node
import { buildProgram } from "./program.js";
import { errorText } from "../kube/errors.js";
import { exitCodeFor, usageErrorsExit2 } from "./run.js";

const program = buildProgram();
usageErrorsExit2(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`floatip: ${errorText(err)}`);
  process.exitCode = exitCodeFor(err);
});
