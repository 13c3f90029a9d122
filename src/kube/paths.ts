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
