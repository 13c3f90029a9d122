// How Envoy Gateway renders a Gateway's proxy Service, from the documented behaviour (see
// /work/shared/notes/facts.md): name, owning labels, envoyService fields copied for type LoadBalancer,
// Gateway spec.addresses as externalIPs, the envoyService patch applied last. Pure. Used by migrate,
// rollback and doctor to predict the Service EG will create (checked against the real controller in
// test/ops/migrate/cluster.test.ts).

import { createHash } from "node:crypto";
import type { ServicePort } from "../../api/types.js";
import {
  ENVOY_PROXY_LABELS,
  OWNING_GATEWAY_NAMESPACE_LABEL,
  OWNING_GATEWAY_NAME_LABEL,
  type EnvoyProxy,
  type Gateway,
} from "./types.js";
import type { KubeService } from "../../kube/objects.js";

/** EG's GetHashedName: "<ns>-<name>" (cut to `length`) + "-" + 8 hex of sha256("<ns>/<name>"). */
export function hashedName(nsName: string, length: number): string {
  const hash = createHash("sha256").update(nsName).digest("hex").slice(0, 8);
  let name = nsName.replaceAll("/", "-");
  if (length > 0 && name.length > length) name = name.slice(0, length).replace(/-+$/, "");
  return `${name}-${hash}`;
}

/** `envoy-<gateway-namespace>-<gateway-name>-<8 hex>`: the proxy Service (and Deployment) name. */
export function proxyServiceName(gatewayNamespace: string, gatewayName: string): string {
  return `envoy-${hashedName(`${gatewayNamespace}/${gatewayName}`, 48)}`;
}

export function proxyLabels(gatewayNamespace: string, gatewayName: string): Record<string, string> {
  return {
    ...ENVOY_PROXY_LABELS,
    [OWNING_GATEWAY_NAME_LABEL]: gatewayName,
    [OWNING_GATEWAY_NAMESPACE_LABEL]: gatewayNamespace,
  };
}

/** EG maps privileged listener ports to port + 10000 inside the pod. */
function containerPort(port: number): number {
  return port < 1024 ? port + 10000 : port;
}

/**
 * Merges `patch` into `target` the way a JSON merge patch does (null deletes, objects recurse, lists
 * are replaced). Enough for what EnvoyProxy patches do in practice (metadata.annotations, scalar spec
 * fields); the strategic list merge of StrategicMerge is not emulated.
 */
export function mergeValue(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergeValue(out[k], v);
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The Service EG applies (server-side) for `gateway` configured by `proxy` (undefined = defaults). */
export function renderProxyService(
  gateway: Gateway,
  proxy: EnvoyProxy | undefined,
  namespace: string,
): KubeService {
  const gwNs = gateway.metadata.namespace ?? "default";
  const gwName = gateway.metadata.name;
  const es = proxy?.spec?.provider?.kubernetes?.envoyService ?? {};
  const labels = proxyLabels(gwNs, gwName);
  const type = es.type ?? "LoadBalancer";
  const ports: ServicePort[] = (gateway.spec.listeners ?? []).map((l) => ({
    name: `${l.protocol.toLowerCase()}-${l.port}`,
    port: l.port,
    protocol: l.protocol === "UDP" ? "UDP" : "TCP",
    targetPort: containerPort(l.port),
  }));
  const externalIPs = (gateway.spec.addresses ?? [])
    .filter((a) => (a.type ?? "IPAddress") === "IPAddress")
    .map((a) => a.value);
  const spec: KubeService["spec"] = { type, selector: { ...labels }, ports };
  if (type === "LoadBalancer") {
    // Copied only for type LoadBalancer; the API server rejects them on other types.
    if (es.loadBalancerClass) spec.loadBalancerClass = es.loadBalancerClass;
    spec.externalTrafficPolicy = es.externalTrafficPolicy ?? "Local";
    if (es.loadBalancerIP) spec.loadBalancerIP = es.loadBalancerIP;
    if (es.loadBalancerSourceRanges) spec.loadBalancerSourceRanges = [...es.loadBalancerSourceRanges];
    if (es.allocateLoadBalancerNodePorts !== undefined)
      spec.allocateLoadBalancerNodePorts = es.allocateLoadBalancerNodePorts;
  }
  if (externalIPs.length > 0) spec.externalIPs = externalIPs;
  let svc: KubeService = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: es.name ?? proxyServiceName(gwNs, gwName),
      namespace,
      labels: { ...(es.labels ?? {}), ...labels },
      ...(es.annotations && Object.keys(es.annotations).length > 0
        ? { annotations: { ...es.annotations } }
        : {}),
    },
    spec,
  };
  if (es.patch?.value) svc = mergeValue(svc, es.patch.value) as KubeService; // applied last
  if (svc.metadata.annotations && Object.keys(svc.metadata.annotations).length === 0)
    delete svc.metadata.annotations;
  return svc;
}
