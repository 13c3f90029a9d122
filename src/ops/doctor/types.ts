// What `floatip doctor` looks at and what it says. Every check is a pure function from a Snapshot to
// Findings; collect.ts is the only part that talks to the API server.

import type { ConfigurationState, IPAddressPool, L2Advertisement, ServiceL2Status } from "../../api/types.js";
import type { EnvoyProxy, Gateway, GatewayClass } from "../envoy/types.js";
import type { KubeEvent, KubeNode, KubeService, Lease, Workload } from "../../kube/objects.js";

export type Severity = "error" | "warning" | "info";

export interface ObjectId {
  kind: string;
  namespace?: string;
  name: string;
}

export interface Finding {
  /** Stable id of the check that produced it (for --json consumers and tests). */
  check: string;
  severity: Severity;
  object: ObjectId;
  /** "namespace/name" of the LoadBalancer Service the finding is about, for grouping. */
  service?: string;
  explanation: string;
  fix: string;
}

export interface DoctorConfig {
  /** Namespace of pools, L2Advertisements, ServiceL2Status and speaker Leases. */
  namespace: string;
  /** The class floatip should serve (MetalLB --lb-class); undefined = Services without a class. */
  lbClass: string | undefined;
}

/** Everything the checks read. A CRD list left undefined means the CRD is not installed. */
export interface Snapshot {
  config: DoctorConfig;
  /** ms since the epoch, for Lease freshness. */
  now: number;
  services: KubeService[];
  pools?: IPAddressPool[];
  l2Advertisements?: L2Advertisement[];
  l2Statuses?: ServiceL2Status[];
  /** MetalLB v0.16 ConfigurationStates in the floatip namespace (undefined: CRD not installed). */
  configurationStates?: ConfigurationState[];
  /** Leases in the floatip namespace (speaker Leases `floatip-speaker-<node>`, the controller's). */
  leases: Lease[];
  nodes: KubeNode[];
  /** Namespace labels (pool namespaceSelectors); a namespace missing here counts as unknown. */
  namespaceLabels: Record<string, Record<string, string>>;
  /** Events about Services. */
  events: KubeEvent[];
  /** Deployments and DaemonSets (any namespace), to find LB controllers and speakers. */
  workloads: Workload[];
  envoyProxies?: EnvoyProxy[];
  gatewayClasses?: GatewayClass[];
  gateways?: Gateway[];
  /** EndpointSlices (any namespace), to tell "no ready endpoint" from a guess; undefined: not read. */
  endpointSlices?: EndpointSlice[];
  /** Resources the credentials may not list (403): the checks that need them were skipped. */
  skipped?: string[];
}

export type Check = (snap: Snapshot) => Finding[];

export type OwnerKind = "floatip" | "other" | "nobody";

export interface Owner {
  kind: OwnerKind;
  /** Column text: "floatip", "other controller (class x)", "other controller (no class)", "nobody". */
  text: string;
}

export interface ServiceRow {
  service: string;
  class?: string;
  owner: Owner;
  ips: string[];
  findings: Finding[];
}

export interface DoctorReport {
  config: DoctorConfig;
  services: ServiceRow[];
  /** Findings about objects other than Services (pools, EnvoyProxies, controllers). */
  other: Finding[];
  counts: Record<Severity, number>;
  /** 0 healthy (info only), 1 warnings or errors found. */
  exitCode: 0 | 1;
}

/** The fields of a discovery.k8s.io/v1 EndpointSlice the doctor reads. */
export interface EndpointSlice {
  metadata: { namespace?: string; labels?: Record<string, string> };
  endpoints?: { conditions?: { ready?: boolean }; nodeName?: string }[];
}
