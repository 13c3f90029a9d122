// Collects every problem in a render config at once, each naming the field and the fix, so a user
// fixes the file in one pass instead of one error per run.

export interface Problem {
  /** Dotted path into the config, e.g. `floatingIPs[1]` or `envoyGateway.externalTrafficPolicy`. */
  field: string;
  message: string;
  fix: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly Problem[],
  ) {
    const n = problems.length;
    const lines = problems.map((p) => `  ${p.field}: ${p.message}\n    fix: ${p.fix}`);
    super(`${source}: ${n} problem${n === 1 ? "" : "s"}\n${lines.join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(word, c);
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.c : undefined;
}
