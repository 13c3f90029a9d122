import * as k8s from "@kubernetes/client-node";
import { BACKEND_PORT } from "./addresses.js";
import {
  ANNOTATION_IP_ALLOCATED_FROM_POOL,
  DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS,
} from "../src/api/annotations.js";
import { startBackends, type LabEndpoint } from "./backends.js";
import type { LabCluster } from "./cluster.js";

/** The seed's objects with a lab address: pool, L2Advertisement, the Envoy Gateway Service and its endpoints. */
export interface SeedOptions {
  ips: string[];
  poolName?: string;
  interfaces?: string[];
  lbClass?: string;
  externalTrafficPolicy?: "Cluster" | "Local";
  serviceName?: string;
  namespace?: string;
  endpoints: LabEndpoint[];
}

export const ENVOY_NAMESPACE = "envoy-gateway-system";
export const ENVOY_SERVICE = "envoy-envoy-gateway-system-eg-5d3f1c2a";

export function seedPool(name: string, addresses: string[]): object {
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name, namespace: "metallb-system" },
    spec: { addresses, autoAssign: false },
  };
}

export function seedL2Advertisement(name: string, pools: string[], interfaces: string[]): object {
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "L2Advertisement",
    metadata: { name, namespace: "metallb-system" },
    spec: { ipAddressPools: pools, interfaces },
  };
}

export async function applySeed(
  kc: k8s.KubeConfig,
  opts: SeedOptions,
): Promise<{ namespace: string; name: string }> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const poolName = opts.poolName ?? "envoy-gateway-pool";
  const namespace = opts.namespace ?? ENVOY_NAMESPACE;
  const name = opts.serviceName ?? ENVOY_SERVICE;
  const exists = async (fn: () => Promise<unknown>) =>
    fn().then(
      () => true,
      () => false,
    );

  if (
    !(await exists(() =>
      objects.read({
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        metadata: { name: poolName, namespace: "metallb-system" },
      }),
    ))
  ) {
    await objects.create(
      seedPool(
        poolName,
        opts.ips.map((ip) => (ip.includes(":") ? `${ip}/128` : `${ip}/32`)),
      ) as k8s.KubernetesObject,
    );
    await objects.create(
      seedL2Advertisement(`${poolName}-l2`, [poolName], opts.interfaces ?? ["ens3"]) as k8s.KubernetesObject,
    );
  }
  if (!(await exists(() => core.readNamespace({ name: namespace })))) {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  }
  const dual = opts.ips.some((ip) => ip.includes(":")) && opts.ips.some((ip) => !ip.includes(":"));
  const v6only = opts.ips.every((ip) => ip.includes(":"));
  await core
    .createNamespacedService({
      namespace,
      body: {
        metadata: {
          name,
          labels: {
            "app.kubernetes.io/name": "envoy",
            "app.kubernetes.io/component": "proxy",
            "app.kubernetes.io/managed-by": "envoy-gateway",
            "gateway.envoyproxy.io/owning-gateway-name": "eg",
            "gateway.envoyproxy.io/owning-gateway-namespace": "default",
          },
          annotations: { [DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS]: opts.ips.join(",") },
        },
        spec: {
          type: "LoadBalancer",
          loadBalancerClass: opts.lbClass ?? "metallb",
          externalTrafficPolicy: opts.externalTrafficPolicy ?? "Cluster",
          selector: { "app.kubernetes.io/name": "envoy" },
          ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
          ipFamilyPolicy: dual ? "RequireDualStack" : "SingleStack",
          ipFamilies: dual ? ["IPv4", "IPv6"] : v6only ? ["IPv6"] : ["IPv4"],
        },
      },
    })
    .catch(async (err: unknown) => {
      // The lab's service CIDR is IPv4 only: fall back to a single-stack IPv4 ClusterIP for IPv6 VIPs.
      if ((err as { code?: number }).code !== 422) throw err;
      await core.createNamespacedService({
        namespace,
        body: {
          metadata: {
            name,
            annotations: { [DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS]: opts.ips.join(",") },
            labels: { "app.kubernetes.io/name": "envoy" },
          },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: opts.lbClass ?? "metallb",
            externalTrafficPolicy: opts.externalTrafficPolicy ?? "Cluster",
            selector: { "app.kubernetes.io/name": "envoy" },
            ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
          },
        },
      });
    });
  await setEndpoints(kc, namespace, name, opts.endpoints);
  return { namespace, name };
}

/**
 * What the endpoint-slice controller would write for the Envoy pods (there is no kubelet, so no
 * pods): one slice per address family, all endpoints ready. kube-proxy uses the slices of the
 * Service's own families, and matches their port to the Service's port by name (`portName`).
 */
export async function setEndpoints(
  kc: k8s.KubeConfig,
  namespace: string,
  service: string,
  endpoints: LabEndpoint[],
  portName = "http",
): Promise<void> {
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  for (const family of ["IPv4", "IPv6"] as const) {
    const body: k8s.V1EndpointSlice = {
      metadata: {
        name: `${service}-lab${family === "IPv6" ? "6" : ""}`,
        namespace,
        labels: {
          "kubernetes.io/service-name": service,
          "endpointslice.kubernetes.io/managed-by": "lab.floatip.io",
        },
      },
      addressType: family,
      endpoints: endpoints.map((e) => ({
        addresses: [family === "IPv6" ? e.ip6 : e.ip],
        nodeName: e.node,
        conditions: { ready: true, serving: true, terminating: false },
      })),
      ports: [{ name: portName, port: endpoints[0]?.port ?? BACKEND_PORT, protocol: "TCP" }],
    };
    await discovery
      .replaceNamespacedEndpointSlice({ name: body.metadata!.name!, namespace, body })
      .catch(async (err: unknown) => {
        if ((err as { code?: number }).code !== 404) throw err;
        await discovery.createNamespacedEndpointSlice({ namespace, body });
      });
  }
}

/** What the controller writes, for speaker tests that run without it. */
export async function assignStatus(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  ips: string[],
  pool: string,
): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.patchNamespacedService(
    { name, namespace, body: { metadata: { annotations: { [ANNOTATION_IP_ALLOCATED_FROM_POOL]: pool } } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
  await core.patchNamespacedServiceStatus(
    {
      name,
      namespace,
      body: { status: { loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: "VIP" })) } } },
    },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
}

/**
 * The seed's setup around one floating IP: the Envoy stand-in on the workers behind EndpointSlices
 * (kube-proxy turns them into rules for the VIP, externalTrafficPolicy Cluster), and the seed's
 * pool, L2Advertisement and Service. Without a controller running, follow with `assignStatus`.
 */
export async function seedEnvoyService(
  cluster: LabCluster,
  vip: string,
): Promise<{ namespace: string; name: string }> {
  const endpoints = await startBackends(cluster.lab, cluster.lab.workers);
  return applySeed(cluster.kc, { ips: [vip], endpoints });
}
