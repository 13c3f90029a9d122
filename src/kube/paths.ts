// API paths of the built-in and MetalLB-compatible objects floatip reads and writes. Envoy Gateway's
// and the Gateway API's live with the code that knows them (src/ops/envoy/paths.ts).

import { METALLB_GROUP, METALLB_VERSION } from "../api/types.js";
import type { ObjectRef } from "./objects.js";

const mlb = `/apis/${METALLB_GROUP}/${METALLB_VERSION}`;

export const paths = {
  namespace: (name: string) => `/api/v1/namespaces/${name}`,
  services: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/services` : "/api/v1/services"),
  service: (r: ObjectRef) => `/api/v1/namespaces/${r.namespace}/services/${r.name}`,
  nodes: () => "/api/v1/nodes",
  events: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/events` : "/api/v1/events"),
  secrets: (ns: string) => `/api/v1/namespaces/${ns}/secrets`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  lease: (r: ObjectRef) => `/apis/coordination.k8s.io/v1/namespaces/${r.namespace}/leases/${r.name}`,
  deployments: (ns?: string) =>
    ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : "/apis/apps/v1/deployments",
  daemonsets: (ns?: string) =>
    ns ? `/apis/apps/v1/namespaces/${ns}/daemonsets` : "/apis/apps/v1/daemonsets",
  pools: (ns: string) => `${mlb}/namespaces/${ns}/ipaddresspools`,
  l2advertisements: (ns: string) => `${mlb}/namespaces/${ns}/l2advertisements`,
  l2statuses: (ns: string) => `${mlb}/namespaces/${ns}/servicel2statuses`,
};

/**
 * A request's verb and resource as the API server's metrics name them (`list`/`get`, `create`,
 * `update`, `patch`, `delete`; `services`, `servicel2statuses/status`), for the clients' request
 * counters. Group and namespace are left out: the counters stay few whatever the cluster.
 */
export function requestKind(method: string, path: string): { verb: string; resource: string } {
  const segs = path.split("?")[0]!.split("/").filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = segs[0] === "api" ? segs.slice(2) : segs[0] === "apis" ? segs.slice(3) : segs;
  if (rest[0] === "namespaces" && rest.length > 2) rest = rest.slice(2);
  const [resource = "other", name, sub] = rest;
  const m = method.toUpperCase();
  const verb =
    m === "GET"
      ? name === undefined
        ? "list"
        : "get"
      : ({ POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" }[m] ?? m.toLowerCase());
  return { verb, resource: sub ? `${resource}/${sub}` : resource };
}
