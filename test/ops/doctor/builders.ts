// Small constructors for doctor snapshots in unit tests.

import type { IPAddressPool, L2Advertisement, ServiceL2Status } from "../../../src/api/types.js";
import type { Snapshot } from "../../../src/ops/doctor/types.js";
import type { KubeEvent, KubeNode, KubeService, Lease, Workload } from "../../../src/kube/objects.js";

export const NOW = Date.parse("2026-03-01T12:00:00Z");

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    config: { namespace: "metallb-system", lbClass: "metallb" },
    now: NOW,
    services: [],
    pools: [],
    l2Advertisements: [],
    l2Statuses: [],
    leases: [],
    nodes: [],
    namespaceLabels: {},
    events: [],
    workloads: [],
    ...over,
  };
}

export interface SvcOpts {
  ns?: string;
  cls?: string;
  ips?: string[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  etp?: "Local" | "Cluster";
  type?: "LoadBalancer" | "ClusterIP";
  uid?: string;
}

export function svc(name: string, o: SvcOpts = {}): KubeService {
  return {
    metadata: {
      name,
      namespace: o.ns ?? "default",
      uid: o.uid ?? `uid-${name}`,
      creationTimestamp: "2026-03-01T10:00:00Z",
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
    },
    spec: {
      type: o.type ?? "LoadBalancer",
      ...(o.cls ? { loadBalancerClass: o.cls } : {}),
      externalTrafficPolicy: o.etp ?? "Cluster",
      ipFamilies: ["IPv4"],
      ports: [{ port: 80, protocol: "TCP" }],
    },
    ...(o.ips ? { status: { loadBalancer: { ingress: o.ips.map((ip) => ({ ip })) } } } : {}),
  };
}

/** A Service of class metallb holding `ip` from `pool`, as the floatip controller leaves it. */
export function served(name: string, ip: string, pool = "envoy-gateway-pool", o: SvcOpts = {}): KubeService {
  return svc(name, {
    cls: "metallb",
    ips: [ip],
    ...o,
    annotations: { "metallb.io/ip-allocated-from-pool": pool, ...(o.annotations ?? {}) },
  });
}

export function pool(name: string, addresses: string[], autoAssign = true): IPAddressPool {
  return {
    metadata: { name, namespace: "metallb-system", creationTimestamp: "2026-03-01T09:00:00Z" },
    spec: { addresses, autoAssign },
  };
}

export function l2adv(
  name: string,
  pools?: string[],
  interfaces?: string[],
  nodeSelectors?: L2Advertisement["spec"]["nodeSelectors"],
): L2Advertisement {
  return {
    metadata: { name, namespace: "metallb-system" },
    spec: {
      ...(pools ? { ipAddressPools: pools } : {}),
      ...(interfaces ? { interfaces } : {}),
      ...(nodeSelectors ? { nodeSelectors } : {}),
    },
  };
}

export function node(name: string, labels: Record<string, string> = {}): KubeNode {
  return { metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } } };
}

export function lease(name: string, ageMs = 1000, holder = name): Lease {
  return {
    metadata: { name, namespace: "metallb-system" },
    spec: { holderIdentity: holder, leaseDurationSeconds: 6, renewTime: new Date(NOW - ageMs).toISOString() },
  };
}

export function l2status(service: KubeService, nodeName: string, interfaces: string[]): ServiceL2Status {
  return {
    metadata: { name: `l2-${nodeName}`, namespace: "metallb-system" },
    status: {
      node: nodeName,
      serviceName: service.metadata.name,
      serviceNamespace: service.metadata.namespace,
      interfaces: interfaces.map((n) => ({ name: n })),
    },
  };
}

export function event(
  service: KubeService,
  reason: string,
  message: string,
  component = "floatip-controller",
  uid = service.metadata.uid,
): KubeEvent {
  return {
    metadata: { name: `${service.metadata.name}.1`, namespace: service.metadata.namespace },
    involvedObject: {
      kind: "Service",
      namespace: service.metadata.namespace,
      name: service.metadata.name,
      uid,
    },
    reason,
    message,
    type: "Warning",
    source: { component },
    lastTimestamp: "2026-03-01T11:59:00Z",
  };
}

export function workload(
  kind: "Deployment" | "DaemonSet",
  name: string,
  image: string,
  args: string[],
  ns = "metallb-system",
): Workload {
  return {
    kind,
    metadata: { name, namespace: ns },
    spec: { template: { spec: { containers: [{ name: "main", image, args }] } } },
  };
}
