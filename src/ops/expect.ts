/**
 * What counts as a good answer from the floating IP. A probe succeeds only when the status is one
 * we expect (2xx/3xx unless told otherwise) and, when the operator or the lab can say it, the body
 * contains the expected text: an answer from the wrong server is not reachability.
 */
export interface Expectation {
  /** Inclusive status ranges, e.g. [[200, 399]]. */
  readonly status: readonly (readonly [number, number])[];
  /** Text the body must contain; undefined: any body. */
  readonly body?: string;
}

export const DEFAULT_EXPECTATION: Expectation = { status: [[200, 399]] };

/**
 * Parses `--expect-status`: a comma list of codes (200), classes (2xx) and ranges (200-204).
 * Returns an error text for anything else.
 */
export function parseExpectStatus(text: string): Expectation["status"] | string {
  const ranges: [number, number][] = [];
  for (const raw of text.split(",")) {
    const part = raw.trim().toLowerCase();
    let m: RegExpExecArray | null;
    if ((m = /^([1-5])xx$/.exec(part))) ranges.push([Number(m[1]) * 100, Number(m[1]) * 100 + 99]);
    else if ((m = /^(\d{3})$/.exec(part))) ranges.push([Number(m[1]), Number(m[1])]);
    else if ((m = /^(\d{3})-(\d{3})$/.exec(part)) && Number(m[1]) <= Number(m[2]))
      ranges.push([Number(m[1]), Number(m[2])]);
    else
      return `--expect-status ${JSON.stringify(text)}: use codes (200), classes (2xx) or ranges (200-204), comma separated`;
    const last = ranges.at(-1)!;
    if (last[0] < 100 || last[1] > 599)
      return `--expect-status ${JSON.stringify(text)}: HTTP status codes are 100-599`;
  }
  return ranges;
}

/** "2xx/3xx", "200", "200-204": the expectation as the operator would write it. */
export function describeStatus(status: Expectation["status"]): string {
  const one = ([a, b]: readonly [number, number]): string[] => {
    if (a === b) return [String(a)];
    if (a % 100 !== 0 || (b + 1) % 100 !== 0) return [`${a}-${b}`];
    const classes: string[] = [];
    for (let c = a / 100; c <= (b + 1) / 100 - 1; c++) classes.push(`${c}xx`);
    return classes;
  };
  return status.flatMap(one).join("/");
}

/** Why an answer does not meet the expectation, or undefined when it does. */
export function unmet(expect: Expectation, status: number, body: string): string | undefined {
  if (!expect.status.some(([a, b]) => status >= a && status <= b))
    return `HTTP ${status}, expected ${describeStatus(expect.status)}`;
  if (expect.body !== undefined && !body.includes(expect.body))
    return `body ${JSON.stringify(body.slice(0, 60))} lacks ${JSON.stringify(expect.body)}`;
  return undefined;
}
