// Can a tenant take the platform's IP? A pool holding the IP of a platform Service (Envoy Gateway's
// proxy) that every namespace may use lets any Service asking for that IP or pool take it the moment
// the platform Service is deleted or recreated (floatip migrate, an EnvoyProxy change).

import { isRestrictedPool, preparePools, type ParsedPool } from "../../../api/pool.js";
import { serviceKeyOf } from "../../../api/service.js";
import { EG_NAMESPACE } from "../../envoy/types.js";
import { allocatedPool, ingressIPs } from "../evidence.js";
import type { Check, Finding } from "../types.js";
import type { KubeService } from "../../../kube/objects.js";

/** Services the platform owns: Envoy Gateway's proxies, or anything in its namespace. */
function isPlatformService(svc: KubeService): boolean {
  return (
    svc.metadata.namespace === EG_NAMESPACE ||
    svc.metadata.labels?.["app.kubernetes.io/managed-by"] === "envoy-gateway"
  );
}

function namespaceTerms(pool: ParsedPool): boolean {
  return pool.allocation.namespaces.size > 0 || pool.allocation.namespaceSelectors.length > 0;
}

export const checkPlatformPoolPinned: Check = (snap) => {
  if (!snap.pools) return [];
  const pools = new Map(preparePools(snap.pools).pools.map((p) => [p.name, p]));
  const out: Finding[] = [];
  const reported = new Set<string>();
  for (const svc of snap.services) {
    const name = allocatedPool(svc);
    const pool = name ? pools.get(name) : undefined;
    if (!pool || !isPlatformService(svc) || ingressIPs(svc).length === 0 || reported.has(pool.name)) continue;
    if (namespaceTerms(pool)) continue;
    reported.add(pool.name);
    const ns = svc.metadata.namespace ?? "default";
    const patch = JSON.stringify({ spec: { serviceAllocation: { namespaces: [ns] } } });
    out.push({
      check: "platform-pool-open",
      severity: "warning",
      object: { kind: "IPAddressPool", namespace: snap.config.namespace, name: pool.name },
      service: serviceKeyOf(svc),
      explanation:
        `Pool ${pool.name} holds ${ingressIPs(svc).join(", ")} of the platform Service ${serviceKeyOf(svc)}, ` +
        `but ${isRestrictedPool(pool) ? "no namespace term restricts it" : "any namespace may use it"}: ` +
        "a Service elsewhere that asks for this IP or pool takes it whenever the platform Service is deleted or recreated.",
      fix: `Pin it: kubectl -n ${snap.config.namespace} patch ipaddresspool ${pool.name} --type=merge -p '${patch}'`,
    });
  }
  return out;
};
