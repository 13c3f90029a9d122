import type { CheckReport } from "./check.js";

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

const mark = (ok: boolean) => (ok ? "PASS" : "FAIL");

export function renderCheckReport(report: CheckReport): string {
  const out: string[] = [];
  out.push(
    table(
      ["SERVER", "UUID", "NODE", "STATUS", "PUBLIC NIC", "IP_V4_CONF", "IP", "MANUAL", "RESULT"],
      report.servers.map((s) => [
        s.name,
        s.uuid,
        s.node ? `${s.node}${s.matchedBy ? ` (by ${s.matchedBy})` : ""}` : "-",
        s.status ?? "-",
        s.mac ?? "-",
        s.error ? "-" : String(s.conf),
        s.ip ?? "-",
        s.manual ? "yes" : "no",
        mark(s.ok),
      ]),
    ),
  );
  if (report.floatingIps.length) {
    out.push("");
    out.push(
      table(
        ["FLOATING IP", "OWNED (SUBSCRIBED)", "ATTACHED TO", "RESULT"],
        report.floatingIps.map((f) => [
          f.ip,
          f.subscribed ? "yes" : f.known ? "no (no subscription)" : "no (unknown to the account)",
          f.attachedTo
            ? `${f.attachedTo.name ?? "?"} (${f.attachedTo.uuid})${f.attachedTo.controlPlane ? "" : " not control-plane"}`
            : "-",
          mark(f.ok),
        ]),
      ),
    );
  }
  if (report.warnings.length) {
    out.push("", "Warnings:");
    for (const w of report.warnings) out.push(`  - ${w}`);
  }
  out.push("");
  if (report.problems.length === 0) out.push("All checks passed.");
  else {
    out.push(`${report.problems.length} problem(s):`);
    for (const p of report.problems) out.push(`  - ${p.subject}: ${p.message}`, `    fix: ${p.fix}`);
  }
  return out.join("\n");
}
