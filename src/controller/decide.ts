/**
 * What the controller wants for one Service, without any I/O: `decide` runs the Service through the
 * (in-memory) Allocator, `planWrites` turns the result into the status/annotation patches and Events
 * needed to get from what the Service shows now to what it should show. Nothing here reads a clock
 * or the network, so every rule is unit-testable.
 */
import {
  ANNOTATION_IP_ALLOCATED_FROM_POOL,
  annotationKey,
  DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL,
  deprecatedAnnotationKey,
  type AnnotationName,
} from "../api/annotations.js";
import { isServiceForClass, serviceKeyOf } from "../api/service.js";
import type { LoadBalancerIngress } from "../api/types.js";
import type { Allocator } from "../allocator/allocator.js";
import { requestFromService } from "../allocator/request.js";
import type { FailureReason } from "../allocator/types.js";
import { listSome } from "../common/text.js";
import type { CachedService } from "./slim.js";

export interface DecideContext {
  /** The --lb-class value; undefined = Services without a class. */
  lbClass: string | undefined;
  allocator: Allocator;
  /** Labels of a namespace, undefined when unknown (namespaceSelectors then match nothing). */
  namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined;
}

export type Decision =
  /** Not ours (another class, or not a LoadBalancer we ever served): never written to. */
  | { kind: "skip"; released: string[] }
  /** Stopped being a LoadBalancer after we served it: remove what we wrote. */
  | { kind: "cleanup"; released: string[] }
  /** Being deleted (other finalizers pending): keep what it has, change nothing. */
  | { kind: "deleting" }
  /** The Service's own fields contradict each other: nothing changes until they are fixed. */
  | { kind: "invalid"; message: string }
  /** `released`: addresses it held before and gave up by moving (others may be waiting for them). */
  | { kind: "assigned"; ips: string[]; pool: string; released: string[] }
  /** `message` is safe for the Service's namespace; `detail` is for the log only. */
  | { kind: "failed"; reason: FailureReason; message: string; detail?: string; released: string[] };

export function ingressIPs(svc: CachedService): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
}

export function allocatedPoolAnnotation(svc: CachedService): string | undefined {
  const a = svc.metadata.annotations ?? {};
  return a[ANNOTATION_IP_ALLOCATED_FROM_POOL] ?? a[DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL];
}

/** Runs one Service through the allocator (mutating its in-memory state) and says what it should get. */
export function decide(svc: CachedService, ctx: DecideContext): Decision {
  const key = serviceKeyOf(svc);
  if (!isServiceForClass(svc, ctx.lbClass)) {
    const released = ctx.allocator.release(key);
    // A Service that is no longer a LoadBalancer keeps no external IP; if it carries our marks (we
    // served it, possibly before a restart), take them off. A LoadBalancer of another class belongs
    // to another controller and is never written to, whatever it carries.
    const ours = released.length > 0 || allocatedPoolAnnotation(svc) !== undefined;
    if (svc.spec?.type !== "LoadBalancer" && ours) return { kind: "cleanup", released };
    return { kind: "skip", released };
  }
  if (svc.metadata.deletionTimestamp) return { kind: "deleting" };
  const namespace = svc.metadata.namespace ?? "default";
  const built = requestFromService(svc, ctx.namespaceLabels(namespace));
  if (!built.ok) return { kind: "invalid", message: built.message };
  const r = ctx.allocator.assign(built.request);
  if (r.ok) return { kind: "assigned", ips: r.ips, pool: r.pool, released: r.released ?? [] };
  if (r.reason === "invalid-request") return { kind: "invalid", message: r.message };
  return {
    kind: "failed",
    reason: r.reason,
    message: r.message,
    released: r.released,
    ...(r.detail !== undefined ? { detail: r.detail } : {}),
  };
}

/** Services whose status holds IPs we should re-register after a restart, in a stable order. */
export function restoreCandidates(
  services: Iterable<CachedService>,
  lbClass: string | undefined,
): CachedService[] {
  const out: CachedService[] = [];
  for (const svc of services) {
    if (isServiceForClass(svc, lbClass) && ingressIPs(svc).length > 0) out.push(svc);
  }
  // Oldest first: when two Services claim one IP (e.g. after a split brain), the established one keeps it.
  return out.sort(compareServicesByAge);
}

export function compareServicesByAge(a: CachedService, b: CachedService): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  // RFC 3339 in UTC ("Z") as the API server writes it: string order is time order.
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = serviceKeyOf(a);
  const kb = serviceKeyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export interface RestoreOutcome {
  restored: number;
  /** Services whose recorded IPs could not be kept; their reconcile will clear or replace them. */
  refused: { service: string; ips: string[]; message: string }[];
}

/** Re-registers recorded assignments so that a restart changes no IP. */
export function restoreAll(services: readonly CachedService[], ctx: DecideContext): RestoreOutcome {
  const outcome: RestoreOutcome = { restored: 0, refused: [] };
  for (const svc of services) {
    const ips = ingressIPs(svc);
    const built = requestFromService(svc, ctx.namespaceLabels(svc.metadata.namespace ?? "default"));
    const r = built.ok
      ? ctx.allocator.restore(built.request, ips)
      : { ok: false as const, message: built.message };
    if (r.ok) outcome.restored++;
    else outcome.refused.push({ service: serviceKeyOf(svc), ips, message: r.message });
  }
  return outcome;
}

export type EventType = "Normal" | "Warning";

export interface EventSpec {
  type: EventType;
  reason: "IPAllocated" | "AllocationFailed" | "ClearAssignment" | "deprecatedAnnotation";
  message: string;
}

export interface WritePlan {
  /** New status.loadBalancer.ingress (empty = clear); undefined = leave the status alone. */
  ingress?: LoadBalancerIngress[];
  /** Merge patch for metadata.annotations (null deletes a key); undefined = nothing to change. */
  annotations?: Record<string, string | null>;
  events: EventSpec[];
}

const quoteList = (ips: readonly string[]): string =>
  `[${listSome(
    ips.map((ip) => JSON.stringify(ip)),
    ",",
  )}]`;

function sameIngress(current: readonly LoadBalancerIngress[], ips: readonly string[]): boolean {
  return (
    current.length === ips.length &&
    current.every(
      (e, i) =>
        e.ip === ips[i] &&
        e.ipMode === "VIP" &&
        !e.hostname &&
        !((e as { ports?: unknown[] }).ports?.length ?? 0),
    )
  );
}

function annotationPatch(svc: CachedService, pool: string | null): Record<string, string | null> | undefined {
  const a = svc.metadata.annotations ?? {};
  const patch: Record<string, string | null> = {};
  if (pool === null) {
    if (ANNOTATION_IP_ALLOCATED_FROM_POOL in a) patch[ANNOTATION_IP_ALLOCATED_FROM_POOL] = null;
  } else if (a[ANNOTATION_IP_ALLOCATED_FROM_POOL] !== pool) {
    patch[ANNOTATION_IP_ALLOCATED_FROM_POOL] = pool;
  }
  // The old key would otherwise keep naming a pool after ours changed; one place of truth.
  if (DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL in a)
    patch[DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL] = null;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * The writes and Events that take `svc` from what it shows to what `decision` wants. `clearReason`
 * explains a removal decided elsewhere (a pool edit that took the IP away).
 */
export function planWrites(svc: CachedService, decision: Decision, clearReason?: string): WritePlan {
  const current = svc.status?.loadBalancer?.ingress ?? [];
  const currentIPs = ingressIPs(svc);
  const plan: WritePlan = { events: [] };
  let want: string[] | undefined;
  let pool: string | null | undefined;
  let why: string | undefined;

  switch (decision.kind) {
    case "skip":
    case "deleting":
      return plan;
    case "invalid":
      plan.events.push({ type: "Warning", reason: "AllocationFailed", message: decision.message });
      return plan;
    case "cleanup":
      want = [];
      pool = null;
      why = "the Service is no longer of type LoadBalancer";
      break;
    case "assigned":
      want = decision.ips;
      pool = decision.pool;
      why = "the Service now gets other addresses";
      break;
    case "failed":
      want = [];
      pool = null;
      why = decision.message;
      plan.events.push({ type: "Warning", reason: "AllocationFailed", message: decision.message });
      break;
  }

  if (!sameIngress(current, want)) plan.ingress = want.map((ip) => ({ ip, ipMode: "VIP" }));
  plan.annotations = annotationPatch(svc, pool);
  // Leaving LoadBalancer: the API server has already emptied the status, but the release is ours.
  const released = decision.kind === "cleanup" ? decision.released : [];
  const removed = [...new Set([...currentIPs, ...released])].filter((ip) => !want.includes(ip));
  if (removed.length > 0) {
    plan.events.unshift({
      type: decision.kind === "cleanup" ? "Normal" : "Warning",
      reason: "ClearAssignment",
      message: `Cleared IP ${quoteList(removed)}: ${clearReason ?? why}`,
    });
  }
  const moved = want.length !== currentIPs.length || want.some((ip, i) => currentIPs[i] !== ip);
  if (want.length > 0 && moved) {
    plan.events.push({ type: "Normal", reason: "IPAllocated", message: `Assigned IP ${quoteList(want)}` });
  }
  return plan;
}

/** Request annotations still read under their metallb.universe.tf/ key (MetalLB warns about these). */
const DEPRECATABLE: readonly AnnotationName[] = ["loadBalancerIPs", "address-pool", "allow-shared-ip"];

/**
 * `deprecatedAnnotation` Warnings for the metallb.universe.tf/ request keys a Service uses, each saying
 * which metallb.io/ key replaces it. `warned` is what was already reported for this Service (the
 * returned `signature`): the same keys are reported once, not on every reconcile. (The controller
 * removes a deprecated ip-allocated-from-pool itself, so it needs no warning.)
 */
/** The signature deprecationWarnings() would have returned for Services warned with `messages`. */
export function deprecationSignature(messages: readonly string[]): string {
  return DEPRECATABLE.filter((n) =>
    messages.some((m) => m.includes(`annotation ${deprecatedAnnotationKey(n)};`)),
  ).join(",");
}

export function deprecationWarnings(
  svc: CachedService,
  warned: string | undefined,
): { events: EventSpec[]; signature: string } {
  const a = svc.metadata.annotations ?? {};
  const used = DEPRECATABLE.filter((n) => Object.hasOwn(a, deprecatedAnnotationKey(n)));
  const signature = used.join(",");
  if (signature === (warned ?? "")) return { events: [], signature };
  const events = used.map((n): EventSpec => ({
    type: "Warning",
    reason: "deprecatedAnnotation",
    message:
      `Service uses deprecated annotation ${deprecatedAnnotationKey(n)}; rename it to ${annotationKey(n)}` +
      (Object.hasOwn(a, annotationKey(n)) ? " (that key is already set and wins)" : " (same value)"),
  }));
  return { events, signature };
}
