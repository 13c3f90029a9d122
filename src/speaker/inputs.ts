/**
 * The speaker's Kubernetes inputs: list+watch caches of Services, EndpointSlices, Nodes, Namespaces,
 * IPAddressPools, L2Advertisements and speaker Leases, turned into the model the planner reads.
 */
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  METALLB_GROUP,
  METALLB_VERSION,
  type IPAddressPool,
  type L2Advertisement,
  type Service,
} from "../api/types.js";
import { apiErrorMessage } from "../kube/client.js";
import { Watched } from "../kube/watched.js";
import { LEASE_LABEL } from "./lease.js";
import type { PlanAdvertisement, PlanNode, PlanService } from "./plan.js";
import {
  announceInterfaceNames,
  parsePools,
  planAdvertisements,
  planNodes,
  planServices,
  type Refusal,
} from "./world.js";

/** What the planner reads from Kubernetes. */
export interface PlanModel {
  /** Interfaces whose carrier the speaker reports (advertised ones, or the node's defaults). */
  interfaces: string[];
  services: PlanService[];
  refused: Refusal[];
  nodes: Map<string, PlanNode>;
  advertisements: PlanAdvertisement[];
}

export interface InputsConfig {
  namespace: string;
  lbClass?: string;
}

export class SpeakerInputs {
  private readonly services: Watched<k8s.V1Service>;
  private readonly slices: Watched<k8s.V1EndpointSlice>;
  private readonly nodes: Watched<k8s.V1Node>;
  private readonly namespaces: Watched<k8s.V1Namespace>;
  private readonly pools: Watched<k8s.KubernetesObject>;
  private readonly ads: Watched<k8s.KubernetesObject>;
  private readonly leases: Watched<k8s.V1Lease>;
  private readonly all: Watched<k8s.KubernetesObject>[];

  constructor(
    kc: k8s.KubeConfig,
    private readonly config: InputsConfig,
    /** Called for every Lease event (membership and peer addresses follow Leases). */
    onLease: (kind: "add" | "update" | "delete", lease: k8s.V1Lease) => void,
    log: Logger,
  ) {
    const onChange = () => {};
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    const ns = config.namespace;
    this.services = new Watched(kc, {
      name: "services",
      path: "/api/v1/services",
      list: () => core.listServiceForAllNamespaces(),
      onChange,
      log,
    });
    this.slices = new Watched(kc, {
      name: "endpointslices",
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      list: () => discovery.listEndpointSliceForAllNamespaces(),
      onChange,
      log,
    });
    this.nodes = new Watched(kc, {
      name: "nodes",
      path: "/api/v1/nodes",
      list: () => core.listNode(),
      onChange,
      log,
    });
    this.namespaces = new Watched(kc, {
      name: "namespaces",
      path: "/api/v1/namespaces",
      list: () => core.listNamespace(),
      onChange,
      log,
    });
    const crd = (plural: string) =>
      new Watched<k8s.KubernetesObject>(kc, {
        name: plural,
        path: `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}/${plural}`,
        list: () =>
          custom.listNamespacedCustomObject({
            group: METALLB_GROUP,
            version: METALLB_VERSION,
            namespace: ns,
            plural,
          }) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
        onChange,
        log,
      });
    this.pools = crd("ipaddresspools");
    this.ads = crd("l2advertisements");
    this.leases = new Watched(kc, {
      name: "leases",
      path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      list: () => coordination.listNamespacedLease({ namespace: ns, labelSelector: LEASE_LABEL }),
      labelSelector: LEASE_LABEL,
      onChange: onLease,
      log,
    });
    this.all = [
      this.services,
      this.slices,
      this.nodes,
      this.namespaces,
      this.pools,
      this.ads,
      this.leases,
    ] as Watched<k8s.KubernetesObject>[];
  }

  /** Lists and starts watching everything; rejects when the API server cannot be read. */
  async start(): Promise<void> {
    await Promise.all(
      this.all.map((w) =>
        w.start().catch((err: unknown) => {
          throw new Error(`cannot read from the API server: ${apiErrorMessage(err)}`);
        }),
      ),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((w) => w.stop().catch(() => undefined)));
  }

  node(name: string): k8s.V1Node | undefined {
    return this.nodes.get(name);
  }

  /** The cached pools and L2Advertisements as read (for the ConfigurationState). */
  configObjects(): { pools: IPAddressPool[]; ads: L2Advertisement[] } {
    return { pools: this.pools.list() as IPAddressPool[], ads: this.ads.list() as L2Advertisement[] };
  }

  /** The planner's model of the cached objects. */
  model(defaultInterfaces: readonly string[]): PlanModel {
    const ads = this.ads.list() as L2Advertisement[];
    const pools = parsePools(this.pools.list() as IPAddressPool[]);
    const namespaceLabels = new Map(
      this.namespaces.list().map((n) => [n.metadata?.name ?? "", n.metadata?.labels ?? {}]),
    );
    const { services, refused } = planServices({
      services: this.services.list() as unknown as Service[],
      slices: this.slices.list(),
      pools,
      namespaceLabels,
      lbClass: this.config.lbClass,
    });
    return {
      interfaces: announceInterfaceNames(ads, defaultInterfaces),
      services,
      refused,
      nodes: planNodes(this.nodes.list()),
      advertisements: planAdvertisements(ads, pools),
    };
  }
}
