/**
 * What the speaker's watch caches keep of Services, Nodes and Namespaces: the fields it reads, not
 * the objects as sent. A Service as the API server sends it carries managedFields, ports, selectors
 * and often kubectl's last-applied copy of itself; at 25,000 Services that is most of the heap.
 * EndpointSlices are slimmed by `slimSlice` (world.ts), beside the summary it must agree with.
 */
import type { Service } from "../api/types.js";
import type * as k8s from "../kube/types.js";

type Named = { metadata: { name: string; namespace?: string; resourceVersion?: string } };

/** kubectl apply's copy of the whole object: never read, and as large as the object itself. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

function withoutLastApplied(
  annotations: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!annotations || !(LAST_APPLIED in annotations)) return annotations;
  const { [LAST_APPLIED]: _dropped, ...rest } = annotations;
  return rest;
}

/**
 * A Service as the speaker reads it. Not a LoadBalancer: its key, version and type (a change of
 * type arrives as a new object and is slimmed by its new content). A LoadBalancer (of any class,
 * so a change of `--lb-class` is not needed to read it): what the planner, the refusals and the
 * Events read (world.ts, status.ts).
 */
export function slimService(raw: unknown): Service & Named {
  const svc = raw as Service;
  const meta = svc.metadata ?? {};
  const key = { name: meta.name ?? "", namespace: meta.namespace, resourceVersion: meta.resourceVersion };
  if (svc.spec?.type !== "LoadBalancer") return { metadata: key, spec: { type: svc.spec?.type } };
  const spec = svc.spec;
  return {
    metadata: {
      ...key,
      uid: meta.uid,
      ...(meta.labels ? { labels: meta.labels } : {}),
      ...(meta.annotations ? { annotations: withoutLastApplied(meta.annotations) } : {}),
    },
    spec: {
      type: spec.type,
      ...(spec.loadBalancerClass !== undefined ? { loadBalancerClass: spec.loadBalancerClass } : {}),
      ...(spec.externalTrafficPolicy !== undefined
        ? { externalTrafficPolicy: spec.externalTrafficPolicy }
        : {}),
    },
    ...(svc.status?.loadBalancer ? { status: { loadBalancer: svc.status.loadBalancer } } : {}),
  };
}

/** A Node as the speaker reads it: labels, cordon, NetworkUnavailable, its addresses (world.ts, forward.ts, listen.ts). */
export function slimNode(raw: unknown): k8s.V1Node & Named {
  const node = raw as k8s.V1Node;
  const meta = node.metadata ?? {};
  const unavailable = (node.status?.conditions ?? []).filter((c) => c.type === "NetworkUnavailable");
  return {
    metadata: {
      name: meta.name ?? "",
      resourceVersion: meta.resourceVersion,
      ...(meta.labels ? { labels: meta.labels } : {}),
    },
    ...(node.spec?.unschedulable !== undefined ? { spec: { unschedulable: node.spec.unschedulable } } : {}),
    status: {
      conditions: unavailable,
      ...(node.status?.addresses ? { addresses: node.status.addresses } : {}),
    },
  };
}

/** A Namespace as the speaker reads it: its labels (pool namespace selectors). */
export function slimNamespace(raw: unknown): k8s.V1Namespace & Named {
  const ns = raw as k8s.V1Namespace;
  const meta = ns.metadata ?? {};
  return {
    metadata: {
      name: meta.name ?? "",
      resourceVersion: meta.resourceVersion,
      ...(meta.labels ? { labels: meta.labels } : {}),
    },
  };
}
