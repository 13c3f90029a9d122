/**
 * Shared IPs (`metallb.io/allow-shared-ip`): Services that use the same IP become one planner entry
 * per IP, so every speaker plans that IP once. Otherwise one Service without ready endpoints would
 * withdraw the IP that another announces, every tick (announce, withdraw, gratuitous ARP, status
 * writes, again). Pure.
 */
import type { PlanService } from "./plan.js";

export interface SharedPlanServices {
  /** Unshared Services as they are; one merged entry per shared IP. */
  services: PlanService[];
  /** Merged entry key → the Services using that IP (sorted). Unshared Services are absent. */
  members: Map<string, string[]>;
}

/** The key of a merged entry: the member Services' keys, sorted, joined by "+". */
export const sharedKey = (services: readonly string[]) => [...services].sort().join("+");

export function shareIps(services: readonly PlanService[]): SharedPlanServices {
  const byIp = new Map<string, PlanService[]>();
  for (const svc of services) {
    for (const ip of svc.ips) {
      const list = byIp.get(ip);
      if (list) list.push(svc);
      else byIp.set(ip, [svc]);
    }
  }
  const out: PlanService[] = [];
  const members = new Map<string, string[]>();
  for (const svc of services) {
    const shared = svc.ips.filter((ip) => byIp.get(ip)!.length > 1);
    if (shared.length === 0) {
      out.push(svc);
      continue;
    }
    const own = svc.ips.filter((ip) => byIp.get(ip)!.length === 1);
    if (own.length > 0) out.push({ ...svc, ips: own });
  }
  // IPs with the same users (a dual-stack pair shared by the same Services) make one entry.
  const merged = new Map<string, PlanService>();
  for (const [ip, users] of byIp) {
    if (users.length < 2) continue;
    const entry = merge(ip, users);
    const same = merged.get(entry.key);
    if (same) (same.ips as string[]).push(ip);
    else {
      merged.set(entry.key, entry);
      members.set(entry.key, users.map((u) => u.key).sort());
      out.push(entry);
    }
  }
  for (const entry of merged.values()) (entry.ips as string[]).sort();
  return { services: out, members };
}

/**
 * One entry for an IP several Services use: announceable when any of them has a ready endpoint;
 * Cluster when any ready one is Cluster, else Local on the union of their endpoint nodes. The pool
 * is the first ready member's (by key), so every speaker picks the same.
 */
function merge(ip: string, users: readonly PlanService[]): PlanService {
  const sorted = [...users].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const ready = sorted.filter((s) => s.hasReadyEndpoint);
  const readyEndpointNodes = new Set<string>();
  for (const s of ready)
    if (s.externalTrafficPolicy === "Local") s.readyEndpointNodes.forEach((n) => readyEndpointNodes.add(n));
  return {
    key: sharedKey(sorted.map((s) => s.key)),
    ips: [ip],
    pool: (ready[0] ?? sorted[0]!).pool,
    externalTrafficPolicy:
      ready.length > 0 && ready.every((s) => s.externalTrafficPolicy === "Local") ? "Local" : "Cluster",
    hasReadyEndpoint: ready.length > 0,
    readyEndpointNodes,
  };
}
