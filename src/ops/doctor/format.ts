// Human output of `floatip doctor`: one block per LoadBalancer Service, then other objects.

import type { DoctorReport, Finding } from "./types.js";

const LABEL = { error: "ERROR", warning: "WARN ", info: "info " } as const;

const WIDTH = 110;

/** Indents and word-wraps prose; lines of YAML/commands (leading spaces) are kept as they are. */
function indent(text: string, prefix: string): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (/^\s/.test(line) || prefix.length + line.length <= WIDTH) {
      out.push(prefix + line);
      continue;
    }
    let cur = "";
    for (const word of line.split(" ")) {
      if (cur && prefix.length + cur.length + 1 + word.length > WIDTH) {
        out.push(prefix + cur);
        cur = word;
      } else cur = cur ? `${cur} ${word}` : word;
    }
    if (cur) out.push(prefix + cur);
  }
  return out.join("\n");
}

function findingLines(f: Finding, withObject: boolean): string[] {
  const obj = `${f.object.kind} ${f.object.namespace ? `${f.object.namespace}/` : ""}${f.object.name}`;
  return [
    `  ${LABEL[f.severity]} [${f.check}]${withObject ? ` ${obj}` : ""}`,
    indent(f.explanation, "         "),
    indent(`fix: ${f.fix}`, "         "),
  ];
}

function pad(s: string, n: number): string {
  return s.length >= n ? `${s} ` : s + " ".repeat(n - s.length);
}

export function formatReport(r: DoctorReport): string {
  const lines: string[] = [];
  const cls = r.config.lbClass === undefined ? "(none: Services without a class)" : r.config.lbClass;
  lines.push(`floatip doctor: namespace ${r.config.namespace}, class ${cls}`, "");
  if (r.services.length === 0) lines.push("No LoadBalancer Services.");
  else {
    const w1 = Math.max(7, ...r.services.map((s) => s.service.length)) + 2;
    const w2 = Math.max(5, ...r.services.map((s) => (s.class ?? "<none>").length)) + 2;
    const w3 = Math.max(5, ...r.services.map((s) => s.owner.text.length)) + 2;
    lines.push(`${pad("SERVICE", w1)}${pad("CLASS", w2)}${pad("OWNER", w3)}EXTERNAL-IP`);
    for (const s of r.services) {
      lines.push(
        `${pad(s.service, w1)}${pad(s.class ?? "<none>", w2)}${pad(s.owner.text, w3)}${s.ips.join(",") || "<pending>"}`,
      );
      for (const f of s.findings) lines.push(...findingLines(f, f.object.kind !== "Service"));
    }
  }
  if (r.other.length > 0) {
    lines.push("", "Other objects:");
    for (const f of r.other) lines.push(...findingLines(f, true));
  }
  const { error, warning, info } = r.counts;
  lines.push(
    "",
    error + warning === 0
      ? `Healthy: no problems found${info ? ` (${info} note${info === 1 ? "" : "s"})` : ""}.`
      : `${error} error(s), ${warning} warning(s), ${info} note(s).`,
  );
  return lines.join("\n") + "\n";
}
