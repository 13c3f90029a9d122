// Typed access to an untrusted YAML mapping that records a Problem instead of throwing, so that one
// run reports every mistake in the file.
import { closest, type Problem } from "./problems.js";

type Mapping = Record<string, unknown>;

const isMapping = (v: unknown): v is Mapping => typeof v === "object" && v !== null && !Array.isArray(v);

export class Reader {
  constructor(
    private readonly obj: Mapping,
    private readonly path: string,
    private readonly problems: Problem[],
  ) {}

  /** The top-level reader; a non-mapping document is itself a problem. */
  static root(doc: unknown, problems: Problem[]): Reader {
    if (!isMapping(doc)) {
      problems.push({
        field: "(document)",
        message: doc === null || doc === undefined ? "the file is empty" : "the file is not a YAML mapping",
        fix: "start from `floatip render --example`",
      });
      return new Reader({}, "", problems);
    }
    return new Reader(doc, "", problems);
  }

  field(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  problem(field: string, message: string, fix: string): void {
    this.problems.push({ field, message, fix });
  }

  has(key: string): boolean {
    return Object.hasOwn(this.obj, key) && this.obj[key] !== null && this.obj[key] !== undefined;
  }

  /** Reports keys this level does not know, suggesting the nearest known one. */
  rejectUnknown(known: readonly string[]): void {
    for (const key of Object.keys(this.obj)) {
      if (known.includes(key)) continue;
      const guess = closest(key, known);
      this.problem(
        this.field(key),
        "unknown field",
        guess ? `did you mean \`${guess}\`?` : `remove it; known fields here: ${known.join(", ")}`,
      );
    }
  }

  string(key: string, fallback: string, fix: string): string {
    if (!this.has(key)) return fallback;
    const v = this.obj[key];
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    this.problem(this.field(key), `expected a string, got ${describe(v)}`, fix);
    return fallback;
  }

  /** A list of strings; a single string is accepted as a one-element list. */
  strings(key: string, fix: string): string[] | undefined {
    if (!this.has(key)) return undefined;
    const v = this.obj[key];
    if (typeof v === "string") return [v];
    if (!Array.isArray(v)) {
      this.problem(this.field(key), `expected a list, got ${describe(v)}`, fix);
      return [];
    }
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item === "string") out.push(item);
      else this.problem(`${this.field(key)}[${i}]`, `expected a string, got ${describe(item)}`, fix);
    });
    return out;
  }

  /** A nested mapping (empty when absent or of the wrong type, the latter reported). */
  child(key: string): Reader {
    const v = this.has(key) ? this.obj[key] : {};
    if (!isMapping(v)) {
      this.problem(
        this.field(key),
        `expected a mapping, got ${describe(v)}`,
        "see `floatip render --example`",
      );
      return new Reader({}, this.field(key), this.problems);
    }
    return new Reader(v, this.field(key), this.problems);
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  return typeof v === "object" ? "a mapping" : `${typeof v} ${JSON.stringify(v)}`;
}
