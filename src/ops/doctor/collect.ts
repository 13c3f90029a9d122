// Reads everything the doctor checks from the API server. A CRD that is not installed becomes an
// undefined list; anything else that fails is an error (exit code 2).

import type { IPAddressPool, L2Advertisement, ServiceL2Status } from "../../api/types.js";
import { paths, UsageError, type OpsClient } from "../envoy/kube.js";
import type {
  EnvoyProxy,
  Gateway,
  GatewayClass,
  KubeEvent,
  KubeNode,
  KubeService,
  Lease,
  Meta,
  Workload,
} from "../envoy/types.js";
import type { DoctorConfig, Snapshot } from "./types.js";

export async function collectSnapshot(client: OpsClient, config: DoctorConfig): Promise<Snapshot> {
  const ns = config.namespace;
  if (!(await client.get(paths.namespace(ns)))) {
    throw new UsageError(
      `namespace ${ns} does not exist: pass --namespace with the namespace floatip (or MetalLB) is installed in (usually metallb-system)`,
    );
  }
  const must = async <T>(p: Promise<T[] | undefined>): Promise<T[]> => (await p) ?? [];
  const [services, pools, l2Advertisements, l2Statuses, leases, nodes, namespaces, events] =
    await Promise.all([
      must(client.list<KubeService>(paths.services())),
      client.list<IPAddressPool>(paths.pools(ns)),
      client.list<L2Advertisement>(paths.l2advertisements(ns)),
      client.list<ServiceL2Status>(paths.l2statuses(ns)),
      must(client.list<Lease>(paths.leases(ns))),
      must(client.list<KubeNode>(paths.nodes())),
      must(client.list<{ metadata: Meta }>("/api/v1/namespaces")),
      must(client.list<KubeEvent>(paths.events(), { fieldSelector: "involvedObject.kind=Service" })),
    ]);
  const [deployments, daemonsets, envoyProxies, gatewayClasses, gateways] = await Promise.all([
    must(client.list<Workload>(paths.deployments())),
    must(client.list<Workload>(paths.daemonsets())),
    client.list<EnvoyProxy>(paths.envoyProxies()),
    client.list<GatewayClass>(paths.gatewayClasses()),
    client.list<Gateway>(paths.gateways()),
  ]);
  return {
    config,
    now: Date.now(),
    services,
    ...(pools ? { pools } : {}),
    ...(l2Advertisements ? { l2Advertisements } : {}),
    ...(l2Statuses ? { l2Statuses } : {}),
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
  };
}
