// Is floatip (or MetalLB) configured at all: CRDs, pools, valid pools.

import { preparePools } from "../../../api/pool.js";
import { isServiceForClass, serviceKeyOf } from "../../../api/service.js";
import { classText, ingressIPs, isLoadBalancer } from "../evidence.js";
import type { Check, Finding } from "../types.js";

export const checkInstallation: Check = (snap) => {
  const ns = snap.config.namespace;
  const out: Finding[] = [];
  if (snap.skipped?.length) {
    out.push({
      check: "not-permitted",
      severity: "info",
      object: { kind: "ClusterRole", name: "(your credentials)" },
      explanation: `Not allowed to list ${snap.skipped.join(", ")}: the checks that need them were skipped.`,
      fix: "Run doctor with credentials that may list them (read-only access is enough).",
    });
  }
  if (snap.pools === undefined || snap.l2Advertisements === undefined) {
    out.push({
      check: "crds-missing",
      severity: "error",
      object: { kind: "CustomResourceDefinition", name: "ipaddresspools.metallb.io" },
      explanation:
        "The metallb.io CRDs (IPAddressPool, L2Advertisement) are not installed: neither floatip nor MetalLB can hand out an IP.",
      fix: "Install floatip (its chart ships the CRDs) or apply deploy/crds: kubectl apply --server-side -f deploy/crds",
    });
    return out;
  }
  const ours = snap.services.filter(
    (s) => isLoadBalancer(s) && isServiceForClass(s, snap.config.lbClass) && ingressIPs(s).length === 0,
  );
  if (snap.pools.length === 0) {
    const example = `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: envoy-gateway-pool, namespace: ${ns}}\nspec: {addresses: [203.0.113.50/32], autoAssign: false}`;
    if (ours.length === 0) {
      out.push({
        check: "no-pools",
        severity: "warning",
        object: { kind: "Namespace", name: ns },
        explanation: `There is no IPAddressPool in namespace ${ns}, so no Service of class ${classText(snap.config.lbClass)} can get an IP.`,
        fix: `Create a pool with your floating IP:\n${example}`,
      });
    }
    for (const svc of ours) {
      out.push({
        check: "no-pools",
        severity: "error",
        object: { kind: "Service", namespace: svc.metadata.namespace, name: svc.metadata.name },
        service: serviceKeyOf(svc),
        explanation: `Pending because there is no IPAddressPool in namespace ${ns} (pools outside it are ignored; --namespace says where floatip looks).`,
        fix: `Create a pool with your floating IP:\n${example}`,
      });
    }
  }
  for (const r of preparePools(snap.pools).rejected) {
    out.push({
      check: "pool-invalid",
      severity: "error",
      object: { kind: "IPAddressPool", namespace: ns, name: r.name },
      explanation: `The pool is ignored: ${r.errors.join("; ")}`,
      fix: "Correct spec.addresses/spec.serviceAllocation as the message says.",
    });
  }
  return out;
};
