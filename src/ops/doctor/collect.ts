// Reads everything the doctor checks from the API server. A CRD that is not installed becomes an
// undefined list; anything else that fails is an error (exit code 2).

import {
  METALLB_API_VERSION,
  type ConfigurationState,
  type IPAddressPool,
  type L2Advertisement,
  type ServiceL2Status,
} from "../../api/types.js";
import { errorCode } from "../../kube/errors.js";
import { UsageError } from "../outcome.js";
import type { EnvoyProxy, Gateway, GatewayClass } from "../envoy/types.js";
import type { DoctorConfig, EndpointSlice, Snapshot } from "./types.js";
import { paths } from "../../kube/paths.js";
import { egPaths } from "../envoy/paths.js";
import type { KubeClient } from "../../kube/client.js";
import type { KubeEvent, KubeNode, KubeService, Lease, Meta, Workload } from "../../kube/objects.js";
import { wallNow } from "../../common/clock.js";

export async function collectSnapshot(client: KubeClient, config: DoctorConfig): Promise<Snapshot> {
  const ns = config.namespace;
  if (!(await client.get(paths.namespace(ns)))) {
    throw new UsageError(
      `namespace ${ns} does not exist: pass --namespace with the namespace floatip (or MetalLB) is installed in (usually metallb-system)`,
    );
  }
  const must = async <T>(p: Promise<T[] | undefined>): Promise<T[]> => (await p) ?? [];
  // Lists only some checks need: without permission, those checks are skipped and the report says so.
  const skipped: string[] = [];
  const optional = async <T>(what: string, p: Promise<T[] | undefined>): Promise<T[] | undefined> => {
    try {
      return await p;
    } catch (err) {
      if (errorCode(err) !== 403) throw err;
      skipped.push(what);
      return undefined;
    }
  };
  const [services, pools, l2Advertisements, l2Statuses, leases, nodes, namespaces] = await Promise.all([
    must(client.list<KubeService>(paths.services())),
    client.list<IPAddressPool>(paths.pools(ns)),
    client.list<L2Advertisement>(paths.l2advertisements(ns)),
    client.list<ServiceL2Status>(paths.l2statuses(ns)),
    must(client.list<Lease>(paths.leases(ns))),
    must(optional("nodes", client.list<KubeNode>(paths.nodes()))),
    must(optional("namespaces", client.list<{ metadata: Meta }>("/api/v1/namespaces"))),
  ]);
  // MetalLB v0.16's status-only CRD; older installs lack it (404 = undefined).
  const configurationStates = await optional(
    "configurationstates",
    client.list<ConfigurationState>(`/apis/${METALLB_API_VERSION}/namespaces/${ns}/configurationstates`),
  );
  const [events, deployments, daemonsets, envoyProxies, gatewayClasses, gateways] = await Promise.all([
    must(
      optional(
        "events",
        client.list<KubeEvent>(paths.events(), { fieldSelector: "involvedObject.kind=Service" }),
      ),
    ),
    must(optional("deployments", client.list<Workload>(paths.deployments()))),
    must(optional("daemonsets", client.list<Workload>(paths.daemonsets()))),
    optional("envoyproxies", client.list<EnvoyProxy>(egPaths.envoyProxies())),
    optional("gatewayclasses", client.list<GatewayClass>(egPaths.gatewayClasses())),
    optional("gateways", client.list<Gateway>(egPaths.gateways())),
  ]);
  const endpointSlices = await optional(
    "endpointslices",
    client.list<EndpointSlice>("/apis/discovery.k8s.io/v1/endpointslices"),
  );
  return {
    config,
    now: wallNow(),
    services,
    ...(pools ? { pools } : {}),
    ...(l2Advertisements ? { l2Advertisements } : {}),
    ...(l2Statuses ? { l2Statuses } : {}),
    ...(configurationStates ? { configurationStates } : {}),
    leases,
    nodes,
    namespaceLabels: Object.fromEntries(namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}])),
    events,
    workloads: [
      ...deployments.map((d) => ({ ...d, kind: "Deployment" as const })),
      ...daemonsets.map((d) => ({ ...d, kind: "DaemonSet" as const })),
    ],
    ...(envoyProxies ? { envoyProxies } : {}),
    ...(gatewayClasses ? { gatewayClasses } : {}),
    ...(gateways ? { gateways } : {}),
    ...(endpointSlices ? { endpointSlices } : {}),
    ...(skipped.length > 0 ? { skipped } : {}),
  };
}
