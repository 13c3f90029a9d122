/**
 * The speaker's Kubernetes inputs: list+watch caches of Services, EndpointSlices, Nodes, Namespaces,
 * IPAddressPools, L2Advertisements and speaker Leases. Every watch event updates the planner's
 * model for that one object (model.ts); nothing is re-read or re-parsed per tick. The caches keep
 * only what the speaker reads of each object (slim.ts).
 */
import type { Logger } from "pino";
import {
  METALLB_GROUP,
  METALLB_VERSION,
  type IPAddressPool,
  type L2Advertisement,
  type Service,
} from "../api/types.js";
import type { KubeApi } from "../kube/api.js";
import { Reflector, type CachedObject } from "../kube/reflector.js";
import type * as k8s from "../kube/types.js";
import { LEASE_LABEL } from "./lease.js";
import { ModelBuilder, type EventKind, type PlanModel } from "./model.js";
import { slimNamespace, slimNode, slimService } from "./slim.js";
import { slimSlice, type Refusal } from "./world.js";

export interface InputsConfig {
  namespace: string;
  lbClass?: string;
}

/** Objects as the API server sends them (plain JSON); the reflector only needs their names. */
type Raw<T> = T & CachedObject;
const asIs = <T>(raw: unknown): Raw<T> => raw as Raw<T>;

export class SpeakerInputs {
  private readonly services: Reflector<Raw<Service>>;
  private readonly nodes: Reflector<Raw<k8s.V1Node>>;
  private readonly pools: Reflector<Raw<IPAddressPool>>;
  private readonly ads: Reflector<Raw<L2Advertisement>>;
  private readonly all: Reflector<CachedObject>[];
  private readonly builder: ModelBuilder;

  constructor(
    api: KubeApi,
    private readonly config: InputsConfig,
    /** Called for every Lease event (membership and peer addresses follow Leases). */
    onLease: (kind: EventKind, lease: k8s.V1Lease) => void,
    /** A Service that must not be announced, once per reason. */
    onRefused: (refusal: Refusal) => void,
    log: Logger,
    /** After any event but a Lease's: the model may have changed (the speaker steps soon). */
    onEvent: () => void = () => {},
  ) {
    const builder = (this.builder = new ModelBuilder(config.lbClass, onRefused));
    const ns = config.namespace;
    const watch = <T>(
      name: string,
      path: string,
      onChange: (kind: EventKind, obj: Raw<T>) => void,
      opts: { slim?: (raw: unknown) => Raw<T>; query?: Record<string, string>; notify?: boolean } = {},
    ): Reflector<Raw<T>> =>
      new Reflector<Raw<T>>({
        name,
        api,
        path,
        query: opts.query,
        slim: opts.slim ?? asIs<T>,
        onChange: (k, o) => {
          onChange(k, o);
          if (opts.notify !== false) onEvent();
        },
        log,
      });
    const metallb = `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}`;
    this.services = watch<Service>("services", "/api/v1/services", (k, o) => builder.service(k, o), {
      slim: slimService,
    });
    const slices = watch<k8s.V1EndpointSlice>(
      "endpointslices",
      "/apis/discovery.k8s.io/v1/endpointslices",
      (k, o) => builder.slice(k, o),
      { slim: slimSlice },
    );
    this.nodes = watch<k8s.V1Node>("nodes", "/api/v1/nodes", (k, o) => builder.node(k, o), {
      slim: slimNode,
    });
    const namespaces = watch<k8s.V1Namespace>(
      "namespaces",
      "/api/v1/namespaces",
      (k, o) => builder.namespace(k, o),
      {
        slim: slimNamespace,
      },
    );
    this.pools = watch<IPAddressPool>("ipaddresspools", `${metallb}/ipaddresspools`, (k, o) =>
      builder.pool(k, o),
    );
    this.ads = watch<L2Advertisement>("l2advertisements", `${metallb}/l2advertisements`, (k, o) =>
      builder.advertisement(k, o),
    );
    // onLease decides whether to step: a renewal every 2 s per node is no reason to.
    const leases = watch<k8s.V1Lease>(
      "leases",
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      onLease,
      {
        query: { labelSelector: LEASE_LABEL },
        notify: false,
      },
    );
    this.all = [
      this.services,
      slices,
      this.nodes,
      namespaces,
      this.pools,
      this.ads,
      leases,
    ] as Reflector<CachedObject>[];
  }

  /**
   * Lists everything and starts watching; resolves once every list succeeded (an API server that
   * is down at start is waited for, with backoff and a warning per attempt).
   */
  async start(): Promise<void> {
    await Promise.all(this.all.map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((r) => r.stop().catch(() => undefined)));
  }

  node(name: string): k8s.V1Node | undefined {
    return this.nodes.get(name);
  }

  /** The cached Service "namespace/name" (its uid names it in Events). */
  service(key: string): Service | undefined {
    return this.services.get(key);
  }

  /** The cached pools and L2Advertisements as read (for the ConfigurationState). */
  configObjects(): { pools: IPAddressPool[]; ads: L2Advertisement[] } {
    return { pools: this.pools.list(), ads: this.ads.list() };
  }

  /** Services refused right now, and why (world.ts, limits.ts). */
  refusals(): ReadonlyMap<string, string> {
    return this.builder.refusals();
  }

  /** The planner's model; costs nothing unless a watch event changed it. */
  model(defaultInterfaces: readonly string[]): PlanModel {
    return this.builder.model(defaultInterfaces);
  }
}
