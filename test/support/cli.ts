import { execFile } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../testenv/binaries.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `floatip` entry point from source (tsx) with stdin closed, as a non-interactive user would. */
export function runCli(
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", join(repoRoot(), "src/cli/main.ts"), ...args],
      { cwd: repoRoot(), timeout: options.timeoutMs ?? 60_000, env: options.env ?? process.env },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}
