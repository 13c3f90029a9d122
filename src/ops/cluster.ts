/** Read-only questions the runbook commands ask a cluster. */
import { METALLB_GROUP, METALLB_VERSION } from "../api/types.js";
import type { KubeApi } from "../kube/api.js";
import { isNotFound } from "../kube/errors.js";
import type * as k8s from "../kube/types.js";
import { EG_NAMESPACE } from "./envoy/types.js";
import { parseRef } from "../kube/objects.js";

/** The items of a list call. */
export async function listItems<T>(
  api: KubeApi,
  path: string,
  query?: Record<string, string | number | undefined>,
): Promise<T[]> {
  return (await api.get<{ items?: T[] }>(path, query)).items ?? [];
}

/**
 * The Service to check: the one named, or the Envoy Gateway proxy Service(s) of our class (labels
 * app.kubernetes.io/managed-by=envoy-gateway), or any LoadBalancer Service of our class.
 */
export async function findTargetServices(
  api: KubeApi,
  ref: string | undefined,
  lbClass: string | undefined,
): Promise<k8s.V1Service[]> {
  if (ref) {
    const parsed = parseRef(ref, EG_NAMESPACE);
    if (!parsed)
      throw new Error(`invalid reference ${JSON.stringify(ref)}: use <namespace>/<name> or <name>`);
    const { namespace, name } = parsed;
    try {
      return [await api.get<k8s.V1Service>(`/api/v1/namespaces/${namespace}/services/${name}`)];
    } catch (err) {
      if (isNotFound(err))
        throw new Error(`Service ${namespace}/${name} not found: check the name with 'kubectl get svc -A'`, {
          cause: err,
        });
      throw err;
    }
  }
  const all = (await listItems<k8s.V1Service>(api, "/api/v1/services")).filter(
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
  api: KubeApi,
  namespace: string,
  svc: { namespace: string; name: string },
): Promise<L2StatusObject[]> {
  return listItems<L2StatusObject>(
    api,
    `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${namespace}/servicel2statuses`,
    { labelSelector: `metallb.io/service-name=${svc.name},metallb.io/service-namespace=${svc.namespace}` },
  );
}

/** The newest `nodeAssigned` Event on the Service, if any. */
export async function lastNodeAssigned(
  api: KubeApi,
  svc: { namespace: string; name: string },
): Promise<k8s.CoreV1Event | undefined> {
  const events = await listItems<k8s.CoreV1Event>(api, `/api/v1/namespaces/${svc.namespace}/events`, {
    fieldSelector: `involvedObject.kind=Service,involvedObject.name=${svc.name},reason=nodeAssigned`,
  });
  const time = (e: k8s.CoreV1Event) =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
  return [...events].sort((a, b) => time(a) - time(b)).at(-1);
}

/** The node announcing a Service right now, from its ServiceL2Status (what `floatip verify` shows). */
export async function announcingNode(
  api: KubeApi,
  namespace: string,
  svc: { namespace: string; name: string },
): Promise<string | undefined> {
  const statuses = await l2Statuses(api, namespace, svc);
  const nodes = statuses.map((s) => s.status?.node).filter((n): n is string => !!n);
  return nodes.length === 1 ? nodes[0] : undefined;
}

export function serviceIps(svc: k8s.V1Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
}

export function httpUrl(ip: string, port: number): string {
  return ip.includes(":") ? `http://[${ip}]:${port}/` : `http://${ip}:${port}/`;
}
