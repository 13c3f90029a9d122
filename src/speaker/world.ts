/**
 * Turns cached Kubernetes objects into the planner's inputs. Pure. This is also where the speaker
 * enforces its security rule: it announces an IP only if the Service is ours (class filter), the IP
 * lies in the pool named on the Service, and that pool may serve the Service.
 */
import type * as k8s from "../kube/types.js";
import {
  ANNOTATION_IP_ALLOCATED_FROM_POOL,
  DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL,
} from "../api/annotations.js";
import type { ParsedIP } from "../api/ip.js";
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
import { capPerFamily, listSome, tooManyIPs, type Capped, type Refusal } from "./limits.js";
import type { PlanAdvertisement, PlanNode, PlanService } from "./plan.js";

export type { Refusal } from "./limits.js";

/** One Service's part of the model: what is planned (maybe capped) and what is refused. */
export interface DerivedService {
  planned?: PlanService;
  refusal?: Refusal;
}

/**
 * A Service's ingress IPs, capped and parsed, by the status array as delivered (watch objects are
 * never changed in place): an EndpointSlice event re-derives its Service without parsing its IPs
 * again (parsing was most of the cost of an event).
 */
const ingressCache = new WeakMap<object, { all: string[]; capped: Capped }>();

function ingressOf(svc: Service): { all: string[]; capped: Capped } {
  const ingress = svc.status?.loadBalancer?.ingress;
  if (!ingress) return { all: [], capped: { kept: [], parsed: [], dropped: [] } };
  let hit = ingressCache.get(ingress);
  if (!hit) {
    const all = ingress.map((i) => i.ip).filter((ip): ip is string => !!ip);
    hit = { all, capped: capPerFamily(all) };
    ingressCache.set(ingress, hit);
  }
  return hit;
}

/** The planner reads endpoint nodes only for externalTrafficPolicy Local (plan.ts, shared.ts). */
const NO_NODES: ReadonlySet<string> = new Set();

export function parsePools(pools: readonly IPAddressPool[]): Map<string, ParsedPool> {
  const out = new Map<string, ParsedPool>();
  for (const obj of pools) {
    const parsed = parsePool(obj);
    if (parsed.ok) out.set(parsed.pool.name, parsed.pool);
  }
  return out;
}

function ipInPool(pool: ParsedPool, parsed: ParsedIP | undefined): boolean {
  if (!parsed) return false;
  return pool.ranges.some(
    (r) => r.family === parsed.family && parsed.value >= r.start && parsed.value <= r.end,
  );
}

/** What one EndpointSlice says: the Service it belongs to and where its ready endpoints are. */
export interface SliceSummary {
  service: string;
  anyReady: boolean;
  readyNodes: string[];
}

type Endpoint = NonNullable<k8s.V1EndpointSlice["endpoints"]>[number];
/** One shared empty list for every slimmed endpoint (never changed). */
const NO_ADDRESSES: string[] = [];

/** Kubernetes: a nil `ready` means ready; a terminating but serving endpoint still serves. */
function endpointReady(ep: Endpoint): boolean {
  return ep.conditions?.ready !== false || ep.conditions?.serving === true;
}

/**
 * What the speaker reads of an EndpointSlice (summarizeSlice), as an EndpointSlice: its key, its
 * Service, and one ready endpoint per node (plus one without a node, if any). The watch cache keeps
 * this instead of the object as sent (addresses, targetRefs, hints, ports, managedFields); the
 * summary is the same.
 */
export function slimSlice(raw: unknown): k8s.V1EndpointSlice & { metadata: { name: string } } {
  const slice = raw as k8s.V1EndpointSlice;
  const meta = slice.metadata ?? {};
  const service = meta.labels?.["kubernetes.io/service-name"];
  const endpoints: Endpoint[] = [];
  const nodes = new Set<string | undefined>();
  for (const ep of slice.endpoints ?? []) {
    if (!endpointReady(ep) || nodes.has(ep.nodeName)) continue;
    nodes.add(ep.nodeName);
    endpoints.push({
      addresses: NO_ADDRESSES,
      ...(ep.nodeName !== undefined ? { nodeName: ep.nodeName } : {}),
    });
  }
  return {
    addressType: slice.addressType,
    metadata: {
      name: meta.name ?? "",
      namespace: meta.namespace,
      resourceVersion: meta.resourceVersion,
      ...(service !== undefined ? { labels: { "kubernetes.io/service-name": service } } : {}),
    },
    endpoints,
  };
}

export function summarizeSlice(slice: k8s.V1EndpointSlice): SliceSummary | undefined {
  const name = slice.metadata?.labels?.["kubernetes.io/service-name"];
  if (!name) return undefined;
  const readyNodes = new Set<string>();
  let anyReady = false;
  for (const ep of slice.endpoints ?? []) {
    if (!endpointReady(ep)) continue;
    anyReady = true;
    if (ep.nodeName) readyNodes.add(ep.nodeName);
  }
  return {
    service: `${slice.metadata?.namespace ?? "default"}/${name}`,
    anyReady,
    readyNodes: [...readyNodes],
  };
}

/** The pool a Service's IPs were allocated from (annotation), if named. */
export function servicePoolName(svc: Service): string | undefined {
  const annotations = svc.metadata.annotations ?? {};
  return (
    annotations[ANNOTATION_IP_ALLOCATED_FROM_POOL] ??
    annotations[DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL]
  );
}

/**
 * One Service's planner input: undefined when it is not ours or has no IP yet; `refusal` when it
 * (or some of its IPs, see limits.ts) must not be announced. `slices` are its EndpointSlices' summaries.
 */
export function planService(
  svc: Service,
  slices: Iterable<SliceSummary>,
  pools: ReadonlyMap<string, ParsedPool>,
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>,
  lbClass: string | undefined,
): DerivedService | undefined {
  if (!isServiceForClass(svc, lbClass)) return undefined;
  const key = serviceKeyOf(svc);
  const { all, capped } = ingressOf(svc);
  if (all.length === 0) return undefined;
  const poolName = servicePoolName(svc);
  const pool = poolName ? pools.get(poolName) : undefined;
  if (!poolName || !pool) {
    return {
      refusal: poolName
        ? { service: key, code: "poolMissing", reason: `pool ${poolName} does not exist or is invalid` }
        : { service: key, code: "noPoolAnnotation", reason: "no ip-allocated-from-pool annotation" },
    };
  }
  const ips = capped.kept;
  const outside = ips.filter((_, i) => !ipInPool(pool, capped.parsed[i]));
  if (outside.length > 0) {
    return {
      refusal: { service: key, code: "ipNotInPool", reason: `${listSome(outside)} not in pool ${poolName}` },
    };
  }
  const namespace = svc.metadata.namespace ?? "default";
  const refusal = poolRefusal(pool, {
    namespace,
    labels: svc.metadata.labels,
    namespaceLabels: namespaceLabels.get(namespace),
  });
  if (refusal) return { refusal: { service: key, code: "poolNotAllowed", reason: refusal } };
  const local = svc.spec.externalTrafficPolicy === "Local";
  let anyReady = false;
  const readyNodes = new Set<string>();
  for (const slice of slices) {
    anyReady ||= slice.anyReady;
    if (local) for (const n of slice.readyNodes) readyNodes.add(n);
  }
  const planned: PlanService = {
    key,
    ips,
    pool: poolName,
    externalTrafficPolicy: local ? "Local" : "Cluster",
    hasReadyEndpoint: anyReady,
    // Cluster: an endpoint moving between nodes changes nothing the planner reads.
    readyEndpointNodes: local ? readyNodes : NO_NODES,
    labels: svc.metadata.labels ?? {},
    // Presence counts, as in MetalLB (even an empty value).
    sharesIP: readAnnotation(svc.metadata.annotations ?? {}, "allow-shared-ip") !== undefined,
  };
  return capped.dropped.length > 0 ? { planned, refusal: tooManyIPs(key, all, capped) } : { planned };
}

/** Every Service's planner input at once (the from-scratch form of what `PlanModel` keeps). */
export function planServices(input: {
  services: readonly Service[];
  slices: readonly k8s.V1EndpointSlice[];
  pools: ReadonlyMap<string, ParsedPool>;
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  lbClass: string | undefined;
}): { services: PlanService[]; refused: Refusal[] } {
  const slicesByService = new Map<string, SliceSummary[]>();
  for (const slice of input.slices) {
    const summary = summarizeSlice(slice);
    if (!summary) continue;
    const list = slicesByService.get(summary.service) ?? [];
    list.push(summary);
    slicesByService.set(summary.service, list);
  }
  const services: PlanService[] = [];
  const refused: Refusal[] = [];
  for (const svc of input.services) {
    const planned = planService(
      svc,
      slicesByService.get(serviceKeyOf(svc)) ?? [],
      input.pools,
      input.namespaceLabels,
      input.lbClass,
    );
    if (planned?.planned) services.push(planned.planned);
    if (planned?.refusal) refused.push(planned.refusal);
  }
  return { services, refused };
}

/** One Node's planner input. */
export function planNode(node: k8s.V1Node): PlanNode {
  return {
    labels: node.metadata?.labels ?? {},
    unschedulable: node.spec?.unschedulable === true,
    networkUnavailable: (node.status?.conditions ?? []).some(
      (c) => c.type === "NetworkUnavailable" && c.status === "True",
    ),
  };
}

export function planNodes(nodes: readonly k8s.V1Node[]): Map<string, PlanNode> {
  const out = new Map<string, PlanNode>();
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (name) out.set(name, planNode(node));
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
