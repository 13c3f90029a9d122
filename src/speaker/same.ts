/**
 * Whether two planner inputs say the same. Pure. The model keeps the old object when a watch event
 * changes nothing the planner reads, because plan-memo.ts re-plans whatever is a new object: most
 * EndpointSlice and Node updates (addresses, resource versions, heartbeat conditions) change
 * nothing it reads, and re-planning for them made churn cost a plan per event.
 */
import type { PlanNode, PlanService } from "./plan.js";

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

export function samePlanService(a: PlanService, b: PlanService): boolean {
  return (
    a.key === b.key &&
    a.pool === b.pool &&
    a.externalTrafficPolicy === b.externalTrafficPolicy &&
    a.hasReadyEndpoint === b.hasReadyEndpoint &&
    a.sharesIP === b.sharesIP &&
    a.ips.length === b.ips.length &&
    a.ips.every((ip, i) => b.ips[i] === ip) &&
    sameSet(a.readyEndpointNodes, b.readyEndpointNodes) &&
    sameRecord(a.labels ?? {}, b.labels ?? {})
  );
}

export function samePlanNode(a: PlanNode, b: PlanNode): boolean {
  return (
    a.unschedulable === b.unschedulable &&
    a.networkUnavailable === b.networkUnavailable &&
    sameRecord(a.labels, b.labels)
  );
}
