/**
 * The issue 13 cluster written through a real API server: an IPv6 pool, N LoadBalancer Services
 * with their IP in status (what the controller writes) and M ClusterIP Services, each Service with
 * one EndpointSlice of E endpoints (what the endpoint-slice controller writes), created with a
 * bounded number of concurrent requests. Only documentation addresses: the LoadBalancer IPs come
 * from the lab's public segment (2001:db8:1::1:0/112), the endpoints from 2001:db8:3::/48 (never
 * routed: no traffic goes to a bulk Service).
 */
import { ANNOTATION_IP_ALLOCATED_FROM_POOL } from "../src/api/annotations.js";
import { sleep } from "../src/common/wait.js";
import type { KubeApi, PatchType } from "../src/kube/api.js";
import { errorCode, errorText, isAlreadyExists } from "../src/kube/errors.js";
import { BACKEND_PORT } from "../lab/addresses.js";
import { seedL2Advertisement, seedPool } from "../lab/seed.js";
import { pool } from "./pool.js";

/** kube-proxy (and Cilium, kube-router, Antrea) leave a Service and its slices with this label alone. */
export const SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";

/** The bulk LoadBalancer IPs' range (the probed VIP is added to the pool as a /128 beside it). */
export const BULK_RANGE = "2001:db8:1::1:0/112";
const NAMESPACES = 50;

export interface ScaleOptions {
  /** LoadBalancer Services besides the probed one. */
  lb: number;
  clusterIp: number;
  endpointsPerSlice: number;
  concurrency: number;
  /** Nodes the endpoints are spread over. */
  nodes: string[];
  /** Leave the bulk Services to kube-proxy (false: label them SERVICE_PROXY_NAME_LABEL). */
  proxied: boolean;
  /**
   * ClusterIP Services without a cluster IP (clusterIP: None): kube-apiserver allocates cluster IPs
   * one at a time (~25 a second on a loaded 2-core machine: 26 min for 20,000); the speaker reads a
   * headless Service and its slice as any other ClusterIP one.
   */
  headless: boolean;
  progress: (line: string) => void;
}

export interface ScaleTimings {
  /** Wall-clock seconds per phase, and requests sent (retries not counted). */
  loadBalancerS: number;
  clusterIpS: number;
  totalS: number;
  requests: number;
  requestsPerS: number;
  retries: number;
}

export const bulkIp = (i: number): string => `2001:db8:1::1:${(i + 1).toString(16)}`;
/** The API server takes IPv6 endpoints in canonical form only (2001:db8:3:1::5, not 2001:db8:3::1:0:5). */
const endpointIp = (n: number) =>
  `2001:db8:3:${(Math.floor(n / 0xffff) + 1).toString(16)}::${((n % 0xffff) + 1).toString(16)}`;

/** Creates the pool and L2Advertisement (`poolName`, with `extraIps` as /128s beside BULK_RANGE). */
export async function createPool(api: KubeApi, poolName: string, extraIps: string[]): Promise<void> {
  const base = "/apis/metallb.io/v1beta1/namespaces/metallb-system";
  await api.request("POST", `${base}/ipaddresspools`, {
    body: seedPool(poolName, [...extraIps.map((ip) => `${ip}/128`), BULK_RANGE]),
  });
  await api.request("POST", `${base}/l2advertisements`, {
    body: seedL2Advertisement(`${poolName}-l2`, [poolName], ["ens3"]),
  });
}

/** Writes every bulk object; returns how long it took. */
export async function createScale(api: KubeApi, poolName: string, o: ScaleOptions): Promise<ScaleTimings> {
  const counter = { requests: 0, retries: 0 };
  const send = (method: string, path: string, body: unknown, patch?: PatchType) =>
    sendRetrying(api, counter, method, path, body, patch);
  const labels = o.proxied ? {} : { [SERVICE_PROXY_NAME_LABEL]: "floatip-bench-unproxied" };
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bulk-${i}`);
  await pool(namespaces, o.concurrency, (ns) =>
    send("POST", "/api/v1/namespaces", { metadata: { name: ns } }),
  );
  const slice = (ns: string, service: string, n: number) =>
    send("POST", `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
      metadata: {
        name: `${service}-bulk`,
        labels: {
          ...labels,
          "kubernetes.io/service-name": service,
          "endpointslice.kubernetes.io/managed-by": "lab.floatip.io",
        },
      },
      addressType: "IPv6",
      endpoints: Array.from({ length: o.endpointsPerSlice }, (_, j) => ({
        addresses: [endpointIp(n * o.endpointsPerSlice + j)],
        nodeName: o.nodes[(n + j) % o.nodes.length],
        conditions: { ready: true, serving: true, terminating: false },
      })),
      ports: [{ name: "http", port: BACKEND_PORT, protocol: "TCP" }],
    });
  const service = (ns: string, name: string, type: "LoadBalancer" | "ClusterIP") =>
    send("POST", `/api/v1/namespaces/${ns}/services`, {
      metadata: {
        name,
        labels,
        annotations: type === "LoadBalancer" ? { [ANNOTATION_IP_ALLOCATED_FROM_POOL]: poolName } : {},
      },
      spec: {
        type,
        ...(type === "LoadBalancer"
          ? {
              loadBalancerClass: "metallb",
              allocateLoadBalancerNodePorts: false,
              externalTrafficPolicy: "Cluster",
            }
          : {}),
        ...(type === "ClusterIP" && o.headless ? { clusterIP: "None" } : {}),
        ipFamilies: ["IPv6"],
        ipFamilyPolicy: "SingleStack",
        ports: [{ name: "http", port: 80, targetPort: BACKEND_PORT, protocol: "TCP" }],
      },
    });
  const started = performance.now();
  const lbs = Array.from({ length: o.lb }, (_, i) => i);
  await pool(lbs, o.concurrency, async (i) => {
    const ns = namespaces[i % NAMESPACES]!;
    const name = `bulk-lb-${i}`;
    await service(ns, name, "LoadBalancer");
    await send(
      "PATCH",
      `/api/v1/namespaces/${ns}/services/${name}/status`,
      { status: { loadBalancer: { ingress: [{ ip: bulkIp(i), ipMode: "VIP" }] } } },
      "merge",
    );
    await slice(ns, name, i);
    if ((i + 1) % 1000 === 0) o.progress(`${i + 1}/${o.lb} LoadBalancer Services`);
  });
  const lbDone = performance.now();
  const cips = Array.from({ length: o.clusterIp }, (_, i) => i);
  await pool(cips, o.concurrency, async (i) => {
    const ns = namespaces[i % NAMESPACES]!;
    const name = `bulk-cip-${i}`;
    await service(ns, name, "ClusterIP");
    await slice(ns, name, o.lb + i);
    if ((i + 1) % 5000 === 0) o.progress(`${i + 1}/${o.clusterIp} ClusterIP Services`);
  });
  const done = performance.now();
  const totalS = (done - started) / 1000;
  return {
    loadBalancerS: round1((lbDone - started) / 1000),
    clusterIpS: round1((done - lbDone) / 1000),
    totalS: round1(totalS),
    requests: counter.requests,
    requestsPerS: Math.round(counter.requests / totalS),
    retries: counter.retries,
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * One write; a busy API server's 429/5xx or a timeout is retried (up to 8 times, backing off), and a
 * create that already happened (its first answer was lost) counts as done.
 */
async function sendRetrying(
  api: KubeApi,
  counter: { requests: number; retries: number },
  method: string,
  path: string,
  body: unknown,
  patch?: PatchType,
): Promise<void> {
  counter.requests++;
  for (let attempt = 1; ; attempt++) {
    try {
      await api.request(method, path, { body, ...(patch ? { patch } : {}), timeoutMs: 60_000 });
      return;
    } catch (err) {
      if (attempt > 1 && isAlreadyExists(err)) return;
      const code = errorCode(err) ?? 0;
      if (attempt >= 8 || !(code === 0 || code === 429 || code >= 500))
        throw new Error(`${method} ${path}: ${errorText(err)}`, { cause: err });
      counter.retries++;
      await sleep(200 * attempt);
    }
  }
}
