// Why a Service of our class is <pending>: the same rules the controller applies, with the cause spelled
// out (no pool, autoAssign: false without a requested IP, a requested IP outside every pool, ...).

import { Allocator } from "../../../allocator/allocator.js";
import { requestFromService } from "../../../allocator/request.js";
import { parseIP } from "../../../api/ip.js";
import { compareByAge, poolRefusal, preparePools, type ParsedPool } from "../../../api/pool.js";
import { isServiceForClass, serviceKeyOf } from "../../../api/service.js";
import {
  CONTROLLER_LEASE,
  classText,
  controllerEvents,
  ingressIPs,
  isLoadBalancer,
  leaseFresh,
} from "../evidence.js";
import type { Check, Finding, Snapshot } from "../types.js";
import type { KubeService } from "../../../kube/objects.js";

function inPool(pool: ParsedPool, ip: string): boolean {
  const p = parseIP(ip);
  return !!p && pool.ranges.some((r) => r.family === p.family && p.value >= r.start && p.value <= r.end);
}

/** An allocator holding what the Services of our class already have, as the controller would after a restart. */
function simulatedAllocator(snap: Snapshot, pools: ParsedPool[]): Allocator {
  const alloc = new Allocator();
  alloc.setPools([...pools].sort(compareByAge));
  const holders = snap.services
    .filter((s) => isServiceForClass(s, snap.config.lbClass) && ingressIPs(s).length > 0)
    .sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
  for (const s of holders) {
    const r = requestFromService(s, snap.namespaceLabels[s.metadata.namespace ?? "default"]);
    if (r.ok) alloc.restore(r.request, ingressIPs(s));
  }
  return alloc;
}

export const checkAllocation: Check = (snap) => {
  if (!snap.pools || snap.pools.length === 0) return []; // checkInstallation explains
  const pools = preparePools(snap.pools).pools;
  const pending = snap.services.filter(
    (s) => isLoadBalancer(s) && isServiceForClass(s, snap.config.lbClass) && ingressIPs(s).length === 0,
  );
  if (pending.length === 0) return [];
  const alloc = simulatedAllocator(snap, pools);
  return pending.map((svc) => explainPending(snap, svc, pools, alloc));
};

function explainPending(snap: Snapshot, svc: KubeService, pools: ParsedPool[], alloc: Allocator): Finding {
  const ns = svc.metadata.namespace ?? "default";
  const base = {
    severity: "error" as const,
    object: { kind: "Service", namespace: ns, name: svc.metadata.name },
    service: serviceKeyOf(svc),
  };
  const built = requestFromService(svc, snap.namespaceLabels[ns]);
  if (!built.ok) {
    return {
      ...base,
      check: "invalid-request",
      explanation: `Pending: ${built.message}.`,
      fix: "Fix the Service as the message says.",
    };
  }
  const req = built.request;
  const requested = req.requestedIPs ?? [];
  for (const ip of requested) {
    if (!pools.some((p) => inPool(p, ip))) {
      return {
        ...base,
        check: "requested-ip-not-in-pool",
        explanation: `Pending: it requests ${ip} (metallb.io/loadBalancerIPs or spec.loadBalancerIP), which lies in no IPAddressPool in ${snap.config.namespace} (pools: ${pools.map((p) => p.name).join(", ")}).`,
        fix: `Add ${ip}/${ip.includes(":") ? 128 : 32} to a pool's spec.addresses, or request an address from a pool.`,
      };
    }
  }
  if (req.pool && !pools.some((p) => p.name === req.pool)) {
    return {
      ...base,
      check: "unknown-pool",
      explanation: `Pending: metallb.io/address-pool names pool ${JSON.stringify(req.pool)}, which does not exist (or is invalid) in ${snap.config.namespace}.`,
      fix: `Create the pool or correct the annotation (pools: ${pools.map((p) => p.name).join(", ") || "none"}).`,
    };
  }
  if (requested.length === 0) {
    const identity = { namespace: ns, labels: req.labels, namespaceLabels: snap.namespaceLabels[ns] };
    const usable = pools.filter((p) => (!req.pool || p.name === req.pool) && !poolRefusal(p, identity));
    if (usable.length > 0 && usable.every((p) => !p.autoAssign)) {
      return {
        ...base,
        check: "autoassign-disabled",
        explanation: `Pending: it asks for no particular IP, and every pool it may use (${usable.map((p) => p.name).join(", ")}) has autoAssign: false, so addresses are only given to Services that request one.`,
        fix: `Request the IP: annotate metallb.io/loadBalancerIPs: "<ip>" (for Envoy Gateway, in the EnvoyProxy's envoyService patch), or set autoAssign: true on the pool.`,
      };
    }
  }
  const r = alloc.assign(req);
  if (!r.ok) {
    return {
      ...base,
      check: `allocation-${r.reason}`,
      explanation: `Pending: ${r.message}.`,
      fix: fixFor(r.reason),
    };
  }
  // floatip would assign an IP, so nobody is running the allocation for this class.
  const lease = snap.leases.find((l) => l.metadata.name === CONTROLLER_LEASE);
  const latest = controllerEvents(snap, svc)[0];
  const leaseText = !lease
    ? `there is no floatip controller Lease (${CONTROLLER_LEASE}) in ${snap.config.namespace}`
    : leaseFresh(lease, snap.now)
      ? `a controller holds the Lease (${lease.spec?.holderIdentity}) yet does not act on it, so it runs with another --lb-class`
      : `the controller Lease (${lease.spec?.holderIdentity ?? "no holder"}) is not being renewed`;
  return {
    ...base,
    check: "no-controller",
    explanation: `Pending although floatip would assign ${r.ips.join(", ")} from pool ${r.pool}: no controller is allocating for class ${classText(snap.config.lbClass)} (${leaseText}${latest ? `; last controller Event: ${latest.reason}: ${latest.message}` : ""}).`,
    fix: `Check that the controller runs (kubectl get pods -n ${snap.config.namespace}) with --lb-class=${snap.config.lbClass ?? "(unset)"}, and read its logs.`,
  };
}

function fixFor(reason: string): string {
  switch (reason) {
    case "pool-exhausted":
      return "Add addresses to the pool, or free one (delete an unused LoadBalancer Service).";
    case "ip-in-use":
      return "Request another IP, or let both Services share it with the same metallb.io/allow-shared-ip key (ports must not overlap).";
    case "namespace-not-allowed":
      return "Allow the namespace in the pool's spec.serviceAllocation, or use another pool.";
    default:
      return "Fix the Service or the pools as the message says.";
  }
}
