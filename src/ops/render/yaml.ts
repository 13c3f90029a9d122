// YAML text for rendered files: a comment header saying where it came from, then the documents.
import { stringify } from "yaml";

const OPTIONS = { lineWidth: 0, singleQuote: false } as const;

export function header(lines: readonly string[]): string {
  return lines.map((l) => (l ? `# ${l}` : "#")).join("\n") + "\n";
}

/** One or more documents, separated by `---`. */
export function yamlDocs(docs: readonly unknown[], comment: readonly string[] = []): string {
  const body = docs.map((d) => stringify(d, OPTIONS)).join("---\n");
  return (comment.length > 0 ? header(comment) : "") + body;
}
