/**
 * The planner's Kubernetes model, kept up to date one watch event at a time. Pure (no I/O, no
 * clock): each event re-derives only the objects it can change — a Service, the Services that read
 * a changed EndpointSlice, pool or namespace — so a tick costs nothing when nothing changed.
 *
 * Only what follows from watched objects is kept here. Everything that changes without an event —
 * interface carrier, Lease freshness, member liveness, handover timers — is read by the tick and
 * never cached, or the model would go stale (see README: "event-driven inputs").
 */
import type * as k8s from "../kube/types.js";
import { parsePool, type ParsedPool } from "../api/pool.js";
import { serviceKeyOf } from "../api/service.js";
import type { IPAddressPool, L2Advertisement, Service } from "../api/types.js";
import type { PlanAdvertisement, PlanNode, PlanService } from "./plan.js";
import { shareIps, type SharedPlanServices } from "./shared.js";
import {
  announceInterfaceNames,
  planAdvertisements,
  planNode,
  planService,
  servicePoolName,
  summarizeSlice,
  type Refusal,
  type SliceSummary,
} from "./world.js";
import { samePlanNode, samePlanService } from "./same.js";

export type EventKind = "add" | "update" | "delete";

/** What the planner reads from Kubernetes. */
export interface PlanModel {
  /** Interfaces whose carrier the speaker reports (advertised ones, or the node's defaults). */
  interfaces: readonly string[];
  /** One entry per Service, except one per shared IP (see shared.ts). */
  services: readonly PlanService[];
  /** Shared-IP entry key → the Services using the IP. */
  members: ReadonlyMap<string, readonly string[]>;
  nodes: ReadonlyMap<string, PlanNode>;
  advertisements: readonly PlanAdvertisement[];
  /** Nodes labelled HEARTBEAT_VOTER_LABEL=true (sparse fan-out); a new object only when it changes. */
  voterPins?: ReadonlySet<string>;
}

/** Node label that pins a node into the sparse fan-out's voter set (election/fanout.ts votersOf). */
export const HEARTBEAT_VOTER_LABEL = "floatip.io/heartbeat-voter";

const objectKey = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key) ?? new Set<V>();
  set.add(value);
  index.set(key, set);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

export class ModelBuilder {
  private readonly serviceObjs = new Map<string, Service>();
  private readonly sliceSummaries = new Map<string, SliceSummary>();
  private readonly slicesOf = new Map<string, Set<string>>();
  private readonly pools = new Map<string, ParsedPool>();
  private readonly poolNameOf = new Map<string, string>();
  private readonly namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
  private readonly nodes = new Map<string, PlanNode>();
  private voterPins: ReadonlySet<string> = new Set();
  private readonly ads = new Map<string, L2Advertisement>();
  /** Derived, per Service key. */
  private readonly planned = new Map<string, PlanService>();
  private readonly refused = new Map<string, string>();
  /** Which Services a pool / namespace change can affect. */
  private readonly servicesByPool = new Map<string, Set<string>>();
  private readonly servicesByNamespace = new Map<string, Set<string>>();
  private servicesList: SharedPlanServices | undefined;
  /** servicesList.services is our own copy, not yet handed out by model(): change it in place. */
  private listIsOwnCopy = false;
  /** Position of each entry in servicesList.services (for the in-place update below). */
  private listIndex = new Map<string, number>();
  /** Service keys per announced IP: tells whether a change touches a shared IP. */
  private readonly usersOfIp = new Map<string, Set<string>>();
  private adsList: PlanAdvertisement[] | undefined;
  /** Each pool object's name, labels and spec as read: a status-only update changes nothing here. */
  private readonly poolSpecs = new Map<string, string>();
  private interfaces: { defaults: string; names: string[] } | undefined;

  constructor(
    private readonly lbClass: string | undefined,
    /** A Service newly refused (or refused for a new reason). */
    private readonly onRefused: (refusal: Refusal) => void = () => {},
  ) {}

  service(kind: EventKind, svc: Service): void {
    const key = serviceKeyOf(svc);
    const old = this.serviceObjs.get(key);
    if (old) {
      removeFrom(this.servicesByPool, servicePoolName(old) ?? "", key);
      removeFrom(this.servicesByNamespace, old.metadata.namespace ?? "default", key);
    }
    if (kind === "delete") this.serviceObjs.delete(key);
    else {
      this.serviceObjs.set(key, svc);
      addTo(this.servicesByPool, servicePoolName(svc) ?? "", key);
      addTo(this.servicesByNamespace, svc.metadata.namespace ?? "default", key);
    }
    this.derive(key);
  }

  slice(kind: EventKind, slice: k8s.V1EndpointSlice): void {
    const key = objectKey(slice);
    const old = this.sliceSummaries.get(key);
    const summary = kind === "delete" ? undefined : summarizeSlice(slice);
    if (old) removeFrom(this.slicesOf, old.service, key);
    if (summary) {
      this.sliceSummaries.set(key, summary);
      addTo(this.slicesOf, summary.service, key);
    } else this.sliceSummaries.delete(key);
    if (old) this.derive(old.service);
    if (summary && summary.service !== old?.service) this.derive(summary.service);
  }

  pool(kind: EventKind, obj: IPAddressPool): void {
    const key = objectKey(obj);
    // The controller writes pool status counters as IPs are assigned: re-deriving (and so
    // re-planning) every Service of the pool for those would cost a full plan per write.
    const spec = kind === "delete" ? undefined : JSON.stringify([obj.metadata?.labels ?? {}, obj.spec]);
    if (spec !== undefined && this.poolSpecs.get(key) === spec) return;
    if (spec === undefined) this.poolSpecs.delete(key);
    else this.poolSpecs.set(key, spec);
    const oldName = this.poolNameOf.get(key);
    if (oldName !== undefined) this.pools.delete(oldName);
    this.poolNameOf.delete(key);
    const parsed = kind === "delete" ? undefined : parsePool(obj);
    if (parsed?.ok) {
      this.pools.set(parsed.pool.name, parsed.pool);
      this.poolNameOf.set(key, parsed.pool.name);
    }
    this.adsList = undefined;
    const names = new Set([oldName, parsed?.ok ? parsed.pool.name : undefined, obj.metadata?.name]);
    for (const name of names) if (name !== undefined) this.deriveAll(this.servicesByPool.get(name));
  }

  namespace(kind: EventKind, ns: k8s.V1Namespace): void {
    const name = ns.metadata?.name ?? "";
    if (kind === "delete") this.namespaceLabels.delete(name);
    else this.namespaceLabels.set(name, ns.metadata?.labels ?? {});
    this.deriveAll(this.servicesByNamespace.get(name));
  }

  node(kind: EventKind, node: k8s.V1Node): void {
    const name = node.metadata?.name;
    if (!name) return;
    if (kind === "delete") this.nodes.delete(name);
    else {
      // Kubelets update their Node's status every few seconds; the planner reads little of it, and
      // a new object re-plans every Service (plan-memo.ts compares Nodes by object).
      const next = planNode(node);
      const old = this.nodes.get(name);
      if (!old || !samePlanNode(old, next)) this.nodes.set(name, next);
    }
    const pinned = kind !== "delete" && node.metadata?.labels?.[HEARTBEAT_VOTER_LABEL] === "true";
    if (pinned !== this.voterPins.has(name)) {
      const next = new Set(this.voterPins);
      if (pinned) next.add(name);
      else next.delete(name);
      this.voterPins = next;
    }
  }

  advertisement(kind: EventKind, ad: L2Advertisement): void {
    const key = objectKey(ad);
    if (kind === "delete") this.ads.delete(key);
    else this.ads.set(key, ad);
    this.adsList = undefined;
    this.interfaces = undefined;
  }

  /** The current model; rebuilt lazily and only in the parts an event touched. */
  model(defaultInterfaces: readonly string[]): PlanModel {
    const defaults = defaultInterfaces.join(",");
    if (this.interfaces?.defaults !== defaults) {
      this.interfaces = {
        defaults,
        names: announceInterfaceNames([...this.ads.values()], defaultInterfaces),
      };
    }
    if (!this.servicesList) {
      this.servicesList = shareIps([...this.planned.values()]);
      this.listIndex = new Map(this.servicesList.services.map((svc, i) => [svc.key, i]));
    }
    // Handed out now: the next change copies it first (once per model(), however many events).
    this.listIsOwnCopy = false;
    this.adsList ??= planAdvertisements([...this.ads.values()], this.pools);
    return {
      interfaces: this.interfaces.names,
      services: this.servicesList.services,
      members: this.servicesList.members,
      nodes: this.nodes,
      advertisements: this.adsList,
      voterPins: this.voterPins,
    };
  }

  /**
   * Keeps the planner's list current. An EndpointSlice churning on an unshared Service replaces
   * one element of a copy (the planner sees one changed entry); anything touching a shared IP, or
   * a Service coming or going, rebuilds the list (shared.ts) on the next model(). The copy is made
   * once per model() call: a burst of events between two ticks changes that one copy in place.
   */
  private relist(key: string, old: PlanService | undefined, next: PlanService | undefined): void {
    for (const ip of old?.ips ?? []) removeFrom(this.usersOfIp, ip, key);
    for (const ip of next?.ips ?? []) addTo(this.usersOfIp, ip, key);
    const at = this.listIndex.get(key);
    const list = this.servicesList;
    const unshared = (svc: PlanService | undefined) =>
      (svc?.ips ?? []).every((ip) => (this.usersOfIp.get(ip)?.size ?? 0) <= 1);
    if (
      list &&
      old &&
      next &&
      at !== undefined &&
      list.services[at] === old &&
      unshared(old) &&
      unshared(next)
    ) {
      if (!this.listIsOwnCopy) {
        this.servicesList = { services: [...list.services], members: list.members };
        this.listIsOwnCopy = true;
      }
      this.servicesList!.services[at] = next;
      return;
    }
    this.servicesList = undefined;
  }

  /** Services refused right now, and why. */
  refusals(): ReadonlyMap<string, string> {
    return this.refused;
  }

  private deriveAll(keys: ReadonlySet<string> | undefined): void {
    for (const key of [...(keys ?? [])]) this.derive(key);
  }

  private derive(key: string): void {
    const svc = this.serviceObjs.get(key);
    const slices = [...(this.slicesOf.get(key) ?? [])].map((k) => this.sliceSummaries.get(k)!);
    const result = svc ? planService(svc, slices, this.pools, this.namespaceLabels, this.lbClass) : undefined;
    const old = this.planned.get(key);
    const next = result?.planned;
    if (next) {
      // Most churn changes nothing the planner reads (an endpoint's address, a Cluster Service's
      // endpoint moving, a pool's status): the old entry stays and nothing is re-planned.
      if (!old || !samePlanService(old, next)) {
        this.planned.set(key, next);
        this.relist(key, old, next);
      }
    } else if (old) {
      this.planned.delete(key);
      this.relist(key, old, undefined);
    }
    const refusal = result?.refusal;
    if (refusal) {
      if (this.refused.get(key) !== refusal.reason) this.onRefused(refusal);
      this.refused.set(key, refusal.reason);
    } else this.refused.delete(key);
  }
}
