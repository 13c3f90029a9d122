// Turns a Service object into an AssignRequest, applying MetalLB's annotation rules.

import { readAnnotation } from "../api/annotations.js";
import { parseIP } from "../api/ip.js";
import { backendKey, servicePorts } from "../api/service.js";
import type { IPFamily, Service } from "../api/types.js";
import type { AssignRequest } from "./types.js";

export type RequestFromServiceResult =
  { ok: true; request: AssignRequest } | { ok: false; reason: "invalid-request"; message: string };

function familiesOf(svc: Service): IPFamily[] {
  if (svc.spec?.ipFamilies && svc.spec.ipFamilies.length > 0) return [...svc.spec.ipFamilies];
  // Older API servers / hand-made objects: infer from the cluster IPs, as MetalLB does.
  const ips = svc.spec?.clusterIPs?.length
    ? svc.spec.clusterIPs
    : svc.spec?.clusterIP
      ? [svc.spec.clusterIP]
      : [];
  const out: IPFamily[] = [];
  for (const ip of ips) {
    const p = parseIP(ip);
    if (p && !out.includes(p.family)) out.push(p.family);
  }
  return out;
}

export function requestFromService(
  svc: Service,
  namespaceLabels?: Readonly<Record<string, string>>,
): RequestFromServiceResult {
  const annotations = svc.metadata?.annotations;
  const lbIPsAnnotation = readAnnotation(annotations, "loadBalancerIPs") ?? "";
  const specIP = svc.spec?.loadBalancerIP ?? "";
  if (lbIPsAnnotation !== "" && specIP !== "") {
    return {
      ok: false,
      reason: "invalid-request",
      message:
        "the Service sets both the metallb.io/loadBalancerIPs annotation and spec.loadBalancerIP; remove spec.loadBalancerIP (deprecated) and keep the annotation",
    };
  }
  const requestedIPs =
    lbIPsAnnotation !== "" ? lbIPsAnnotation.split(",").map((s) => s.trim()) : specIP !== "" ? [specIP] : [];

  const ipFamilies = familiesOf(svc);
  if (ipFamilies.length === 0) {
    return {
      ok: false,
      reason: "invalid-request",
      message: "cannot tell the Service's IP family: spec.ipFamilies and spec.clusterIPs are empty",
    };
  }

  const pool = readAnnotation(annotations, "address-pool") ?? "";
  const sharingKey = readAnnotation(annotations, "allow-shared-ip") ?? "";
  const request: AssignRequest = {
    service: { namespace: svc.metadata.namespace ?? "default", name: svc.metadata.name },
    labels: svc.metadata.labels ?? {},
    ipFamilies,
    ipFamilyPolicy: svc.spec?.ipFamilyPolicy ?? "SingleStack",
    requestedIPs,
    ports: servicePorts(svc),
    backendKey: backendKey(svc),
    ...(namespaceLabels !== undefined ? { namespaceLabels } : {}),
    ...(pool !== "" ? { pool } : {}),
    ...(sharingKey !== "" ? { sharingKey } : {}),
  };
  return { ok: true, request };
}
