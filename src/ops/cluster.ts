/** Read-only questions the runbook commands ask a cluster. */
import * as k8s from "@kubernetes/client-node";
import { METALLB_GROUP, METALLB_VERSION } from "../api/types.js";
import { EG_NAMESPACE, parseRef } from "./envoy/types.js";

export interface ClusterClients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  coordination: k8s.CoordinationV1Api;
  apps: k8s.AppsV1Api;
}

export function clients(kc: k8s.KubeConfig): ClusterClients {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
  };
}

/**
 * The Service to check: the one named, or the Envoy Gateway proxy Service(s) of our class (labels
 * app.kubernetes.io/managed-by=envoy-gateway), or any LoadBalancer Service of our class.
 */
export async function findTargetServices(
  c: ClusterClients,
  ref: string | undefined,
  lbClass: string | undefined,
): Promise<k8s.V1Service[]> {
  if (ref) {
    const parsed = parseRef(ref, EG_NAMESPACE);
    if (!parsed)
      throw new Error(`invalid reference ${JSON.stringify(ref)}: use <namespace>/<name> or <name>`);
    const { namespace, name } = parsed;
    try {
      return [await c.core.readNamespacedService({ name, namespace })];
    } catch (err) {
      if ((err as { code?: number }).code === 404)
        throw new Error(`Service ${namespace}/${name} not found: check the name with 'kubectl get svc -A'`, {
          cause: err,
        });
      throw err;
    }
  }
  const all = (await c.core.listServiceForAllNamespaces()).items.filter(
    (s) => s.spec?.type === "LoadBalancer",
  );
  const envoy = all.filter((s) => s.metadata?.labels?.["app.kubernetes.io/managed-by"] === "envoy-gateway");
  const ours = (list: k8s.V1Service[]) =>
    list.filter((s) => (s.spec?.loadBalancerClass ?? "") === (lbClass ?? ""));
  if (ours(envoy).length > 0) return ours(envoy);
  if (envoy.length > 0) return envoy;
  return ours(all);
}

export interface L2StatusObject {
  metadata: { name: string; creationTimestamp?: string };
  status?: {
    node?: string;
    serviceName?: string;
    serviceNamespace?: string;
    interfaces?: { name: string }[];
  };
}

/** ServiceL2Status objects for a Service (one per announcing speaker; more than one is a problem). */
export async function l2Statuses(
  c: ClusterClients,
  namespace: string,
  svc: { namespace: string; name: string },
): Promise<L2StatusObject[]> {
  const list = (await c.custom.listNamespacedCustomObject({
    group: METALLB_GROUP,
    version: METALLB_VERSION,
    namespace,
    plural: "servicel2statuses",
    labelSelector: `metallb.io/service-name=${svc.name},metallb.io/service-namespace=${svc.namespace}`,
  })) as { items: L2StatusObject[] };
  return list.items;
}

/** The newest `nodeAssigned` Event on the Service, if any. */
export async function lastNodeAssigned(
  c: ClusterClients,
  svc: { namespace: string; name: string },
): Promise<k8s.CoreV1Event | undefined> {
  const events = await c.core.listNamespacedEvent({
    namespace: svc.namespace,
    fieldSelector: `involvedObject.kind=Service,involvedObject.name=${svc.name},reason=nodeAssigned`,
  });
  const time = (e: k8s.CoreV1Event) =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
  return [...events.items].sort((a, b) => time(a) - time(b)).at(-1);
}

/** The node announcing a Service right now, from its ServiceL2Status (what `floatip verify` shows). */
export async function announcingNode(
  c: ClusterClients,
  namespace: string,
  svc: { namespace: string; name: string },
): Promise<string | undefined> {
  const statuses = await l2Statuses(c, namespace, svc);
  const nodes = statuses.map((s) => s.status?.node).filter((n): n is string => !!n);
  return nodes.length === 1 ? nodes[0] : undefined;
}

export function serviceIps(svc: k8s.V1Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
}

export function httpUrl(ip: string, port: number): string {
  return ip.includes(":") ? `http://[${ip}]:${port}/` : `http://${ip}:${port}/`;
}
