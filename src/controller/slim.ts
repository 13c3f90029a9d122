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
  "clusterIP",
  "clusterIPs",
  "ipFamilies",
  "ipFamilyPolicy",
] as const;

export function slimService(raw: unknown): CachedService {
  const o = raw as RawObject;
  const spec: Record<string, unknown> = {};
  const s = o.spec ?? {};
  for (const k of SERVICE_SPEC_FIELDS) if (s[k] !== undefined) spec[k] = s[k];
  if (Array.isArray(s.ports)) {
    spec.ports = (s.ports as { port: number; protocol?: string }[]).map((p) => ({
      port: p.port,
      ...(p.protocol !== undefined ? { protocol: p.protocol } : {}),
    }));
  }
  const svc: CachedService = { metadata: meta(o.metadata), spec: spec as ServiceSpec };
  const lb = (o.status as Service["status"] | undefined)?.loadBalancer;
  if (lb?.ingress !== undefined) svc.status = { loadBalancer: { ingress: lb.ingress } };
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
