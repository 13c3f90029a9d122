/**
 * Applies a WritePlan to one Service. Every write carries the resourceVersion its decision was based
 * on (a merge patch with metadata.resourceVersion is a precondition), so a decision made on a stale
 * view fails with 409 instead of overwriting a newer change.
 */
import type { EventRecorder, InvolvedObject } from "../kube/events.js";
import type { WritePlan } from "./decide.js";
import { isConflict } from "../kube/errors.js";
import { type KubeApi } from "../kube/api.js";
import type { ControllerMetrics } from "./metrics.js";
import type { Reflector } from "../kube/reflector.js";
import type { CachedService } from "./slim.js";

/** Thrown by a guard when a write is about to happen after leadership was lost. */
export class NotLeader extends Error {
  constructor() {
    super("not leader");
  }
}

export interface WriterDeps {
  api: KubeApi;
  services: Reflector<CachedService>;
  metrics: ControllerMetrics;
  recorder: EventRecorder;
}

interface RawService {
  metadata?: { resourceVersion?: string; annotations?: Record<string, string> };
}

function annotationsApplied(saved: RawService, patch: Record<string, string | null>): boolean {
  const a = saved.metadata?.annotations ?? {};
  return Object.entries(patch).every(([k, v]) => (v === null ? !(k in a) : a[k] === v));
}

export async function countWrite<T>(
  metrics: ControllerMetrics,
  target: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    const r = await fn();
    metrics.apiWrites.inc({ target, result: "ok" });
    return r;
  } catch (err) {
    metrics.apiWrites.inc({ target, result: isConflict(err) ? "conflict" : "error" });
    throw err;
  }
}

export function serviceRef(svc: CachedService, rv: string | undefined): InvolvedObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    namespace: svc.metadata.namespace ?? "default",
    name: svc.metadata.name,
    ...(svc.metadata.uid ? { uid: svc.metadata.uid } : {}),
    ...(rv ? { resourceVersion: rv } : {}),
  };
}

/**
 * Writes status and annotation (usually in one request), then queues the plan's Events. `guard` runs
 * before each write and throws NotLeader once this process may no longer write. Returns the Service's
 * resourceVersion afterwards.
 */
export async function applyPlan(
  deps: WriterDeps,
  svc: CachedService,
  plan: WritePlan,
  guard: () => void,
): Promise<string | undefined> {
  const { api, services, metrics } = deps;
  const path = `/api/v1/namespaces/${svc.metadata.namespace ?? "default"}/services/${svc.metadata.name}`;
  let rv = svc.metadata.resourceVersion;
  let annotations = plan.annotations;
  if (plan.ingress) {
    guard();
    // The Service status strategy resets only spec, so the annotation rides along with the status:
    // one write instead of two. Should a server drop it, the check below writes it separately.
    const body = {
      metadata: { resourceVersion: rv, ...(annotations ? { annotations } : {}) },
      status: { loadBalancer: { ingress: plan.ingress.length > 0 ? plan.ingress : null } },
    };
    const saved = await countWrite(metrics, "service-status", () =>
      api.request<RawService>("PATCH", `${path}/status`, { patch: "merge", body }),
    );
    services.observe(saved);
    rv = saved.metadata?.resourceVersion;
    if (annotations && annotationsApplied(saved, annotations)) annotations = undefined;
  }
  if (annotations) {
    guard();
    const body = { metadata: { resourceVersion: rv, annotations } };
    const saved = await countWrite(metrics, "service-annotation", () =>
      api.request<RawService>("PATCH", path, { patch: "merge", body }),
    );
    services.observe(saved);
    rv = saved.metadata?.resourceVersion;
  }
  for (const ev of plan.events) deps.recorder.record(serviceRef(svc, rv), ev.type, ev.reason, ev.message);
  return rv;
}
