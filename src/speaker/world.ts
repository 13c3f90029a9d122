/**
 * Turns cached Kubernetes objects into the planner's inputs. Pure. This is also where the speaker
 * enforces its security rule: it announces an IP only if the Service is ours (class filter), the IP
 * lies in the pool named on the Service, and that pool may serve the Service.
 */
import type * as k8s from "@kubernetes/client-node";
import {
  ANNOTATION_IP_ALLOCATED_FROM_POOL,
  DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL,
} from "../api/annotations.js";
import { parseIP } from "../api/ip.js";
import {
  l2AdvertisementPreferredWeight,
  l2AdvertisementSelectsNode,
  l2AdvertisementSelectsPool,
  l2AdvertisementSelectsService,
} from "../api/l2advertisement.js";
import { readAnnotation } from "../api/annotations.js";
import { parsePool, poolRefusal, type ParsedPool } from "../api/pool.js";
import { isServiceForClass, serviceKeyOf } from "../api/service.js";
import type { IPAddressPool, L2Advertisement, Service } from "../api/types.js";
import type { PlanAdvertisement, PlanNode, PlanService } from "./plan.js";

export interface Refusal {
  service: string;
  reason: string;
}

export function parsePools(pools: readonly IPAddressPool[]): Map<string, ParsedPool> {
  const out = new Map<string, ParsedPool>();
  for (const obj of pools) {
    const parsed = parsePool(obj);
    if (parsed.ok) out.set(parsed.pool.name, parsed.pool);
  }
  return out;
}

function ipInPool(pool: ParsedPool, ip: string): boolean {
  const parsed = parseIP(ip);
  if (!parsed) return false;
  return pool.ranges.some(
    (r) => r.family === parsed.family && parsed.value >= r.start && parsed.value <= r.end,
  );
}

function readyEndpoints(slices: readonly k8s.V1EndpointSlice[]): { any: boolean; nodes: Set<string> } {
  const nodes = new Set<string>();
  let any = false;
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      // Kubernetes: a nil `ready` means ready; a terminating but serving endpoint still serves.
      const ready = ep.conditions?.ready !== false || ep.conditions?.serving === true;
      if (!ready) continue;
      any = true;
      if (ep.nodeName) nodes.add(ep.nodeName);
    }
  }
  return { any, nodes };
}

export function planServices(input: {
  services: readonly Service[];
  slices: readonly k8s.V1EndpointSlice[];
  pools: ReadonlyMap<string, ParsedPool>;
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  lbClass: string | undefined;
}): { services: PlanService[]; refused: Refusal[] } {
  const slicesByService = new Map<string, k8s.V1EndpointSlice[]>();
  for (const slice of input.slices) {
    const name = slice.metadata?.labels?.["kubernetes.io/service-name"];
    if (!name) continue;
    const key = `${slice.metadata?.namespace ?? "default"}/${name}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }
  const services: PlanService[] = [];
  const refused: Refusal[] = [];
  for (const svc of input.services) {
    if (!isServiceForClass(svc, input.lbClass)) continue;
    const key = serviceKeyOf(svc);
    const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
    if (ips.length === 0) continue;
    const annotations = svc.metadata.annotations ?? {};
    const poolName =
      annotations[ANNOTATION_IP_ALLOCATED_FROM_POOL] ??
      annotations[DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL];
    const pool = poolName ? input.pools.get(poolName) : undefined;
    if (!poolName || !pool) {
      refused.push({
        service: key,
        reason: poolName
          ? `pool ${poolName} does not exist or is invalid`
          : "no ip-allocated-from-pool annotation",
      });
      continue;
    }
    const outside = ips.filter((ip) => !ipInPool(pool, ip));
    if (outside.length > 0) {
      refused.push({ service: key, reason: `${outside.join(", ")} not in pool ${poolName}` });
      continue;
    }
    const namespace = svc.metadata.namespace ?? "default";
    const refusal = poolRefusal(pool, {
      namespace,
      labels: svc.metadata.labels,
      namespaceLabels: input.namespaceLabels.get(namespace),
    });
    if (refusal) {
      refused.push({ service: key, reason: refusal });
      continue;
    }
    const endpoints = readyEndpoints(slicesByService.get(key) ?? []);
    services.push({
      key,
      ips,
      pool: poolName,
      externalTrafficPolicy: svc.spec.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
      hasReadyEndpoint: endpoints.any,
      readyEndpointNodes: endpoints.nodes,
      labels: svc.metadata.labels ?? {},
      // Presence counts, as in MetalLB (even an empty value).
      sharesIP: readAnnotation(annotations, "allow-shared-ip") !== undefined,
    });
  }
  return { services, refused };
}

export function planNodes(nodes: readonly k8s.V1Node[]): Map<string, PlanNode> {
  const out = new Map<string, PlanNode>();
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name) continue;
    out.set(name, {
      labels: node.metadata?.labels ?? {},
      unschedulable: node.spec?.unschedulable === true,
      networkUnavailable: (node.status?.conditions ?? []).some(
        (c) => c.type === "NetworkUnavailable" && c.status === "True",
      ),
    });
  }
  return out;
}

export function planAdvertisements(
  ads: readonly L2Advertisement[],
  pools: ReadonlyMap<string, ParsedPool>,
): PlanAdvertisement[] {
  return ads.map((ad) => ({
    name: ad.metadata.name,
    selectsPool: (pool: string) => {
      const parsed = pools.get(pool);
      return l2AdvertisementSelectsPool(ad, { name: pool, labels: parsed?.labels });
    },
    selectsNode: (labels: Readonly<Record<string, string>>) => l2AdvertisementSelectsNode(ad, labels),
    interfaces: ad.spec?.interfaces ?? [],
    hasServiceSelectors: (ad.spec?.serviceSelectors ?? []).length > 0,
    selectsService: (labels: Readonly<Record<string, string>>) => l2AdvertisementSelectsService(ad, labels),
    preferredWeight: (labels: Readonly<Record<string, string>>) => l2AdvertisementPreferredWeight(ad, labels),
  }));
}

/** Interface names the speaker watches for carrier: the advertised ones, or the node's defaults. */
export function announceInterfaceNames(
  ads: readonly L2Advertisement[],
  defaults: readonly string[],
): string[] {
  const names = new Set<string>();
  let anyDefault = false;
  for (const ad of ads) {
    const list = ad.spec?.interfaces ?? [];
    if (list.length === 0) anyDefault = true;
    for (const n of list) names.add(n);
  }
  if (anyDefault) for (const n of defaults) names.add(n);
  return [...names].sort();
}
