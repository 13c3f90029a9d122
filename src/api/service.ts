// Helpers that interpret the Service fields MetalLB looks at. Pure functions, no I/O.

import type { Service, ServiceProtocol } from "./types.js";

/** "namespace/name", the key used everywhere for a Service. */
export function serviceKeyOf(svc: { metadata: { namespace?: string; name: string } }): string {
  return `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`;
}

/**
 * The --lb-class filter. Without a configured class we only handle LoadBalancer Services that name no
 * class (another implementation owns the classed ones); with one, only Services naming exactly it.
 */
export function isServiceForClass(svc: Service, lbClass: string | undefined): boolean {
  if (svc.spec?.type !== "LoadBalancer") return false;
  const svcClass = svc.spec.loadBalancerClass;
  if (lbClass === undefined || lbClass === "") return svcClass === undefined || svcClass === "";
  return svcClass === lbClass;
}

export interface PortProtocol {
  port: number;
  protocol: ServiceProtocol;
}

/** (port, protocol) pairs; protocol defaults to TCP as the API server does. */
export function servicePorts(svc: Service): PortProtocol[] {
  return (svc.spec?.ports ?? []).map((p) => ({ port: p.port, protocol: p.protocol ?? "TCP" }));
}

/**
 * Services sharing an IP must agree on backends when traffic stays node-local: with
 * externalTrafficPolicy=Local the IP is announced only from nodes with endpoints, so both Services must
 * select the same pods. With Cluster any node can forward, so the key is empty and anything goes.
 * The format (sorted "k=v,k=v") matches labels.Set.String() so keys agree with MetalLB's.
 */
export function backendKey(svc: Service): string {
  if (svc.spec?.externalTrafficPolicy !== "Local") return "";
  return Object.entries(svc.spec.selector ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}
