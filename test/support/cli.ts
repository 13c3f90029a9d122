import { execFile, spawn, type ChildProcess } from "node:child_process";
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

export interface RunningCli {
  readonly child: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves when the output matches (an event, not a sleep); rejects after timeoutMs. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  readonly done: Promise<CliResult>;
}

/** Starts `floatip` like runCli, for tests that act while it runs (send SIGINT at a phase). */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot(), "src/cli/main.ts"), ...args], {
    cwd: repoRoot(),
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const watchers = new Set<() => void>();
  const onData = () => watchers.forEach((w) => w());
  child.stdout.on("data", (d: Buffer) => ((stdout += d.toString()), onData()));
  child.stderr.on("data", (d: Buffer) => ((stderr += d.toString()), onData()));
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })),
  );
  return {
    child,
    output: () => stdout + stderr,
    done,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(stdout + stderr)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`no output matching ${pattern} within ${timeoutMs} ms; output:\n${stdout}${stderr}`),
          );
        }, timeoutMs);
        const exited = () => {
          cleanup();
          reject(new Error(`floatip exited before printing ${pattern}; output:\n${stdout}${stderr}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          watchers.delete(check);
          child.off("close", exited);
        };
        watchers.add(check);
        child.once("close", exited);
        check();
      });
    },
  };
}
