// Plain-JSON shapes (the subset floatip reads) of the core objects every runbook command looks at,
// as the API server sends them: timestamps are strings. And object references ("namespace/name").

import type { ObjectMeta, Service, ServiceSpec } from "../api/types.js";

export interface Meta extends ObjectMeta {
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
}

/** core/v1 Service with the fields the ops tools need beyond src/api/types. */
export interface KubeService extends Omit<Service, "spec" | "metadata"> {
  metadata: Meta;
  spec: ServiceSpec & {
    externalIPs?: string[];
    loadBalancerSourceRanges?: string[];
    allocateLoadBalancerNodePorts?: boolean;
  };
}

export interface Lease {
  metadata: Meta;
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
  };
}

export interface KubeNode {
  metadata: Meta;
  spec?: { unschedulable?: boolean };
}

export interface KubeEvent {
  metadata: Meta;
  involvedObject: { kind?: string; namespace?: string; name?: string; uid?: string };
  reason?: string;
  message?: string;
  type?: string;
  source?: { component?: string };
  reportingComponent?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

/** A Deployment or DaemonSet (apps/v1), reduced to what identifies an LB controller or speaker. */
export interface Workload {
  kind?: "Deployment" | "DaemonSet";
  metadata: Meta;
  spec?: { template?: { spec?: { containers?: Container[] } } };
}

export interface ObjectRef {
  namespace: string;
  name: string;
}

export function refString(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** Parses "namespace/name"; a bare name gets `defaultNamespace`. Undefined when malformed. */
export function parseRef(text: string, defaultNamespace?: string): ObjectRef | undefined {
  const parts = text.split("/");
  const valid = (s: string) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s) && s.length <= 253;
  if (parts.length === 2 && valid(parts[0]!) && valid(parts[1]!))
    return { namespace: parts[0]!, name: parts[1]! };
  if (parts.length === 1 && defaultNamespace && valid(parts[0]!))
    return { namespace: defaultNamespace, name: parts[0]! };
  return undefined;
}
