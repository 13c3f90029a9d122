/**
 * Trims raw API objects to the fields the controller reads before they enter its caches. With 10,000
 * Services the difference is large: managedFields alone are often bigger than the rest of the object.
 */
import type { IPAddressPool, ObjectMeta, Service, ServiceSpec } from "../api/types.js";

/** ObjectMeta plus the deletion marker, which api/types leaves out. */
export interface CachedMeta extends ObjectMeta {
  deletionTimestamp?: string;
}

export type CachedService = Service & { metadata: CachedMeta };
export type CachedPool = IPAddressPool & { metadata: CachedMeta };

export interface CachedNamespace {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
}

interface RawMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RawObject {
  metadata?: RawMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

function meta(m: RawMeta | undefined): CachedMeta {
  const out: CachedMeta = { name: m?.name ?? "" };
  if (m?.namespace !== undefined) out.namespace = m.namespace;
  if (m?.uid !== undefined) out.uid = m.uid;
  if (m?.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
  if (m?.creationTimestamp !== undefined) out.creationTimestamp = m.creationTimestamp;
  if (m?.deletionTimestamp !== undefined) out.deletionTimestamp = m.deletionTimestamp;
  if (m?.labels !== undefined) out.labels = m.labels;
  if (m?.annotations !== undefined) out.annotations = m.annotations;
  return out;
}

const SERVICE_SPEC_FIELDS = [
  "type",
  "loadBalancerClass",
  "loadBalancerIP",
  "selector",
  "externalTrafficPolicy",
  "ipFamilies",
  "ipFamilyPolicy",
] as const;

/** Only MetalLB's annotations matter here; others (kubectl's last-applied copy) can be kilobytes. */
const ANNOTATION_PREFIXES = ["metallb.io/", "metallb.universe.tf/"];

/**
 * JSON.parse gives every object its own copy of "LoadBalancer", "IPv4", "TCP"...; sharing one string
 * per distinct value saves a few hundred bytes per Service. Bounded so arbitrary values can't grow it.
 */
const interned = new Map<string, string>();
export function intern<T>(v: T): T {
  if (typeof v !== "string" || v.length > 64) return v;
  const hit = interned.get(v);
  if (hit !== undefined) return hit as T;
  if (interned.size < 4096) interned.set(v, v);
  return v;
}

function metallbAnnotations(a: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!a) return undefined;
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(a)) {
    if (ANNOTATION_PREFIXES.some((p) => k.startsWith(p))) (out ??= {})[intern(k)] = v;
  }
  return out;
}

export function slimService(raw: unknown): CachedService {
  const o = raw as RawObject;
  const spec: Record<string, unknown> = {};
  const s = o.spec ?? {};
  for (const k of SERVICE_SPEC_FIELDS) if (s[k] !== undefined) spec[k] = intern(s[k]);
  if (Array.isArray(s.ipFamilies)) spec.ipFamilies = (s.ipFamilies as string[]).map(intern);
  // Cluster IPs only tell the family when spec.ipFamilies is missing (very old objects).
  if (!Array.isArray(s.ipFamilies) || s.ipFamilies.length === 0) {
    if (s.clusterIP !== undefined) spec.clusterIP = s.clusterIP;
    if (s.clusterIPs !== undefined) spec.clusterIPs = s.clusterIPs;
  }
  if (Array.isArray(s.ports)) {
    spec.ports = (s.ports as { port: number; protocol?: string }[]).map((p) => ({
      port: p.port,
      ...(p.protocol !== undefined ? { protocol: intern(p.protocol) } : {}),
    }));
  }
  const m = meta(o.metadata);
  const annotations = metallbAnnotations(m.annotations);
  if (annotations) m.annotations = annotations;
  else delete m.annotations;
  if (m.namespace !== undefined) m.namespace = intern(m.namespace);
  const svc: CachedService = { metadata: m, spec: spec as ServiceSpec };
  const ingress = (o.status as Service["status"] | undefined)?.loadBalancer?.ingress;
  if (ingress !== undefined) {
    svc.status = {
      loadBalancer: { ingress: ingress.map((i) => (i.ipMode ? { ...i, ipMode: intern(i.ipMode) } : i)) },
    };
  }
  return svc;
}

export function slimPool(raw: unknown): CachedPool {
  const o = raw as RawObject;
  const pool: CachedPool = {
    metadata: meta(o.metadata),
    spec: (o.spec ?? { addresses: [] }) as unknown as IPAddressPool["spec"],
  };
  if (o.status !== undefined) pool.status = o.status as IPAddressPool["status"];
  return pool;
}

export function slimNamespace(raw: unknown): CachedNamespace {
  const m = (raw as RawObject).metadata;
  const out: CachedNamespace = { metadata: { name: m?.name ?? "" } };
  if (m?.resourceVersion !== undefined) out.metadata.resourceVersion = m.resourceVersion;
  if (m?.labels !== undefined) out.metadata.labels = m.labels;
  return out;
}
