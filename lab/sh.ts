import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export class CommandError extends Error {
  constructor(
    readonly command: string[],
    readonly stderr: string,
    readonly code: number | string | undefined,
  ) {
    super(`${command.join(" ")} failed (${code}): ${stderr.trim()}`);
  }
}

/** Runs a command and returns stdout; failures carry the command line and stderr. */
export async function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
  try {
    if (opts.input !== undefined) return await runWithInput(cmd, args, opts.input, opts.timeoutMs);
    const { stdout } = await execFileAsync(cmd, args, { timeout: opts.timeoutMs ?? 30_000 });
    return stdout;
  } catch (err) {
    if (err instanceof CommandError) throw err;
    const e = err as { stderr?: string; code?: number | string };
    throw new CommandError([cmd, ...args], e.stderr ?? String(err), e.code);
  }
}

function runWithInput(cmd: string, args: string[], input: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new CommandError([cmd, ...args], stderr || String(err), err.code ?? undefined));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

/** Runs a command inside a network namespace. */
export function nsRun(
  ns: string,
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
) {
  return run("ip", ["netns", "exec", ns, cmd, ...args], opts);
}

/** Synchronous variant for exit handlers, where async work never completes. Never throws. */
export function runQuietSync(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).toString();
  } catch {
    return "";
  }
}
