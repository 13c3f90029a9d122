/**
 * The speaker's Kubernetes inputs: list+watch caches of Services, EndpointSlices, Nodes, Namespaces,
 * IPAddressPools, L2Advertisements and speaker Leases. Every watch event updates the planner's
 * model for that one object (model.ts); nothing is re-read or re-parsed per tick.
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
import { ModelBuilder, type EventKind, type PlanModel } from "./model.js";
import type { Refusal } from "./world.js";

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
  private readonly builder: ModelBuilder;

  constructor(
    kc: k8s.KubeConfig,
    private readonly config: InputsConfig,
    /** Called for every Lease event (membership and peer addresses follow Leases). */
    onLease: (kind: EventKind, lease: k8s.V1Lease) => void,
    /** A Service that must not be announced, once per reason. */
    onRefused: (refusal: Refusal) => void,
    log: Logger,
  ) {
    const builder = (this.builder = new ModelBuilder(config.lbClass, onRefused));
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    const ns = config.namespace;
    this.services = new Watched(kc, {
      name: "services",
      path: "/api/v1/services",
      list: () => core.listServiceForAllNamespaces(),
      onChange: (kind, svc) => builder.service(kind, svc as unknown as Service),
      log,
    });
    this.slices = new Watched(kc, {
      name: "endpointslices",
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      list: () => discovery.listEndpointSliceForAllNamespaces(),
      onChange: (kind, slice) => builder.slice(kind, slice),
      log,
    });
    this.nodes = new Watched(kc, {
      name: "nodes",
      path: "/api/v1/nodes",
      list: () => core.listNode(),
      onChange: (kind, node) => builder.node(kind, node),
      log,
    });
    this.namespaces = new Watched(kc, {
      name: "namespaces",
      path: "/api/v1/namespaces",
      list: () => core.listNamespace(),
      onChange: (kind, ns) => builder.namespace(kind, ns),
      log,
    });
    const crd = (plural: string, onChange: (kind: EventKind, obj: k8s.KubernetesObject) => void) =>
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
    this.pools = crd("ipaddresspools", (kind, obj) => builder.pool(kind, obj as unknown as IPAddressPool));
    this.ads = crd("l2advertisements", (kind, obj) =>
      builder.advertisement(kind, obj as unknown as L2Advertisement),
    );
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

  /** The planner's model; costs nothing unless a watch event changed it. */
  model(defaultInterfaces: readonly string[]): PlanModel {
    return this.builder.model(defaultInterfaces);
  }
}
