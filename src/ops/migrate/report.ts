// The success report of `floatip migrate`. Pure.

import type { MigrationContext, MigrationPlan } from "./plan.js";
import type { AnnouncedBy, Downtime } from "./types.js";
import { refString } from "../../kube/objects.js";

export function formatSuccess(
  ctx: MigrationContext,
  plan: MigrationPlan,
  d: Downtime,
  by: AnnouncedBy | undefined,
): string[] {
  const lines: string[] = [];
  const out = (l: string) => lines.push(l);

  out(
    `Migrated Service ${refString(ctx.serviceRef)} to ${plan.ip} (class ${plan.lbClass}, pool ${plan.pool}).`,
  );
  if (by) out(`  announced by node ${by.node} on ${by.interfaces.join(", ") || "?"}`);
  const basis =
    d.basis === "probe"
      ? `measured by a 10 ms probe loop: ${d.probe!.failed} of ${d.probe!.probes} requests failed in ${d.probe!.outages} outage(s), the longest ${d.probe!.unavailableMs} ms, first to last failure ${d.probe!.spanMs} ms`
      : d.basis === "http"
        ? "from the delete until the URL answered"
        : "from the delete until a node announced the IP (an estimate: pass --url or --probe-url to measure)";
  out(`  downtime: ${d.ms} ms (${basis})`);
  const parts = [
    d.recreatedMs !== undefined ? `Service recreated +${d.recreatedMs} ms` : undefined,
    d.ipAssignedMs !== undefined ? `IP assigned +${d.ipAssignedMs} ms` : undefined,
    d.announcedMs !== undefined ? `announced +${d.announcedMs} ms` : undefined,
    d.answeringMs !== undefined ? `HTTP answers +${d.answeringMs} ms` : undefined,
  ].filter(Boolean);
  if (parts.length > 0) out(`  after the delete: ${parts.join(", ")}`);
  out("Next:");
  out(
    `  - If ${plan.ip} was configured on a node by hand for the old externalIPs setup, remove it there now (ip addr del ${plan.ip}/${plan.ip.includes(":") ? 128 : 32} dev <interface>): otherwise that node keeps answering ARP for it next to floatip.`,
  );
  out(`  - Check: floatip doctor --lb-class ${plan.lbClass}`);
  return lines;
}
