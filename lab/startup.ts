import type { LabProcess } from "./lab.js";

/**
 * Waits for `ready`, unless the process exits first: then rejects with what it printed last, so a
 * component that cannot start says which one and why (the caller tears the lab down).
 */
export async function readyOrExit<T>(proc: LabProcess, what: string, ready: Promise<T>): Promise<T> {
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split("\n").filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 20));
  };
  proc.child.stdout?.on("data", keep);
  proc.child.stderr?.on("data", keep);
  // 'close' comes after the last output has been read, unlike 'exit'.
  const closed = new Promise<never>((_, reject) =>
    proc.child.once("close", (code, signal) =>
      reject(new Error(`${what} exited (${code ?? signal}) during start-up:\n${lines.join("\n")}`)),
    ),
  );
  closed.catch(() => undefined);
  try {
    return await Promise.race([ready, closed]);
  } finally {
    proc.child.stdout?.off("data", keep);
    proc.child.stderr?.off("data", keep);
  }
}
