import type * as k8s from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ANNOTATION_IP_ALLOCATED_FROM_POOL } from "../../src/api/annotations.js";
import type { IPAddressPool, L2Advertisement, Service } from "../../src/api/types.js";
import {
  HEARTBEAT_VOTER_LABEL,
  ModelBuilder,
  type EventKind,
  type PlanModel,
} from "../../src/speaker/model.js";
import { shareIps } from "../../src/speaker/shared.js";
import { slimNamespace, slimNode, slimService } from "../../src/speaker/slim.js";
import {
  announceInterfaceNames,
  parsePools,
  planAdvertisements,
  planNodes,
  planServices,
  slimSlice,
  summarizeSlice,
} from "../../src/speaker/world.js";

type Obj =
  | { type: "service"; obj: Service }
  | { type: "slice"; obj: k8s.V1EndpointSlice }
  | { type: "pool"; obj: IPAddressPool }
  | { type: "namespace"; obj: k8s.V1Namespace }
  | { type: "node"; obj: k8s.V1Node }
  | { type: "ad"; obj: L2Advertisement };

const NS = ["a", "b"];
const POOLS = ["p1", "p2"];

const service = fc
  .record({
    ns: fc.constantFrom(...NS),
    name: fc.constantFrom("s1", "s2"),
    ips: fc.oneof(
      { weight: 4, arbitrary: fc.constant<string[]>(["203.0.113.1"]) },
      fc.subarray(["203.0.113.1", "203.0.113.20", "198.51.100.1"]),
    ),
    pool: fc.option(fc.constantFrom(...POOLS), { nil: undefined, freq: 6 }),
    local: fc.boolean(),
    team: fc.option(fc.constantFrom("x", "y"), { nil: undefined }),
  })
  .map((s): Obj => ({
    type: "service",
    obj: {
      metadata: {
        namespace: s.ns,
        name: s.name,
        annotations: s.pool ? { [ANNOTATION_IP_ALLOCATED_FROM_POOL]: s.pool } : {},
        labels: s.team ? { team: s.team } : {},
      },
      spec: { type: "LoadBalancer", externalTrafficPolicy: s.local ? "Local" : "Cluster" },
      status: { loadBalancer: { ingress: s.ips.map((ip) => ({ ip })) } },
    } as Service,
  }));

const slice = fc
  .record({
    ns: fc.constantFrom(...NS),
    name: fc.constantFrom("e1", "e2", "e3"),
    service: fc.option(fc.constantFrom("s1", "s2"), { nil: undefined, freq: 5 }),
    endpoints: fc.array(
      fc.record({ ready: fc.option(fc.boolean(), { nil: undefined }), node: fc.constantFrom("n1", "n2") }),
      { minLength: 1, maxLength: 3 },
    ),
  })
  .map((e): Obj => ({
    type: "slice",
    obj: {
      addressType: "IPv4",
      metadata: {
        namespace: e.ns,
        name: e.name,
        labels: e.service ? { "kubernetes.io/service-name": e.service } : {},
      },
      endpoints: e.endpoints.map((ep) => ({
        addresses: ["10.0.0.1"],
        nodeName: ep.node,
        conditions: ep.ready === undefined ? {} : { ready: ep.ready },
      })),
    },
  }));

const pool = fc
  .record({
    name: fc.constantFrom(...POOLS),
    addresses: fc.constantFrom(
      ["203.0.113.0/28"],
      ["203.0.113.0/28"],
      ["198.51.100.0/24", "203.0.113.16/28"],
      ["nonsense"],
    ),
    allocation: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.record({ namespaces: fc.subarray(NS, { minLength: 1 }) }) },
      {
        weight: 3,
        arbitrary: fc.record({
          namespaceSelectors: fc.constantFrom("x", "y").map((team) => [{ matchLabels: { team } }]),
        }),
      },
    ),
  })
  .map((p): Obj => ({
    type: "pool",
    obj: {
      metadata: { namespace: "floatip-system", name: p.name, labels: { pool: p.name } },
      spec: {
        addresses: [...p.addresses],
        serviceAllocation: p.allocation,
      },
    } as IPAddressPool,
  }));

const namespace = fc
  .record({ name: fc.constantFrom(...NS), team: fc.option(fc.constantFrom("x", "y"), { nil: undefined }) })
  .map((n): Obj => ({
    type: "namespace",
    obj: { metadata: { name: n.name, labels: n.team ? { team: n.team } : {} } },
  }));

const node = fc
  .record({ name: fc.constantFrom("n1", "n2"), cordoned: fc.boolean(), zone: fc.constantFrom("z1", "z2") })
  .map((n): Obj => ({
    type: "node",
    obj: { metadata: { name: n.name, labels: { zone: n.zone } }, spec: { unschedulable: n.cordoned } },
  }));

const ad = fc
  .record({
    name: fc.constantFrom("l2a", "l2b"),
    pools: fc.option(fc.subarray(POOLS), { nil: undefined }),
    interfaces: fc.option(fc.subarray(["ens3", "ens4"]), { nil: undefined }),
  })
  .map((a): Obj => ({
    type: "ad",
    obj: {
      metadata: { namespace: "floatip-system", name: a.name },
      spec: {
        ...(a.pools ? { ipAddressPools: a.pools } : {}),
        ...(a.interfaces ? { interfaces: a.interfaces } : {}),
      },
    },
  }));

const event = fc.tuple(
  fc.constantFrom<EventKind>("add", "update", "delete"),
  fc.oneof(
    { weight: 3, arbitrary: service },
    { weight: 4, arbitrary: slice },
    { weight: 2, arbitrary: pool },
    { weight: 2, arbitrary: namespace },
    node,
    ad,
  ),
);

/** The informer's store: object by type and key, as Watched.list() would return them. */
class Store {
  readonly objs = new Map<string, Obj>();
  apply(kind: EventKind, o: Obj): EventKind | undefined {
    const meta = o.obj.metadata!;
    const key = `${o.type}/${meta.namespace ?? ""}/${meta.name}`;
    const had = this.objs.has(key);
    if (kind === "delete") {
      if (!had) return undefined;
      this.objs.delete(key);
      return "delete";
    }
    this.objs.set(key, o);
    return had ? "update" : "add";
  }
  list<T extends Obj["type"]>(type: T): Extract<Obj, { type: T }>["obj"][] {
    return [...this.objs.values()].filter((o) => o.type === type).map((o) => o.obj) as never;
  }
}

function feed(builder: ModelBuilder, kind: EventKind, o: Obj): void {
  if (o.type === "service") builder.service(kind, o.obj);
  else if (o.type === "slice") builder.slice(kind, o.obj);
  else if (o.type === "pool") builder.pool(kind, o.obj);
  else if (o.type === "namespace") builder.namespace(kind, o.obj);
  else if (o.type === "node") builder.node(kind, o.obj);
  else builder.advertisement(kind, o.obj);
}

/** The model the speaker used to rebuild from every cached object on every tick. */
function fromScratch(store: Store, defaults: string[]) {
  const pools = parsePools(store.list("pool"));
  const ads = store.list("ad");
  const { services, refused } = planServices({
    services: store.list("service"),
    slices: store.list("slice"),
    pools,
    namespaceLabels: new Map(
      store.list("namespace").map((n) => [n.metadata!.name!, n.metadata!.labels ?? {}]),
    ),
    lbClass: undefined,
  });
  const shared = shareIps(services);
  return {
    interfaces: announceInterfaceNames(ads, defaults),
    services: shared.services,
    members: shared.members,
    refused,
    nodes: planNodes(store.list("node")),
    advertisements: planAdvertisements(ads, pools),
  };
}

/** Every Service's planner entry before IPs are shared, by key (what the model derives per event). */
function unshared(store: Store) {
  const { services } = planServices({
    services: store.list("service"),
    slices: store.list("slice"),
    pools: parsePools(store.list("pool")),
    namespaceLabels: new Map(
      store.list("namespace").map((n) => [n.metadata!.name!, n.metadata!.labels ?? {}]),
    ),
    lbClass: undefined,
  });
  return services
    .map((s) => ({ ...s, readyEndpointNodes: [...s.readyEndpointNodes].sort() }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** Comparable form: services by key, advertisements by what they select. */
function normal(m: Pick<PlanModel, "interfaces" | "services" | "members" | "nodes" | "advertisements">) {
  return {
    interfaces: m.interfaces,
    members: new Map([...m.members].sort(([a], [b]) => a.localeCompare(b))),
    services: [...m.services].sort((a, b) => a.key.localeCompare(b.key)),
    nodes: new Map([...m.nodes].sort(([a], [b]) => a.localeCompare(b))),
    advertisements: [...m.advertisements]
      .map((a) => ({
        name: a.name,
        interfaces: a.interfaces,
        pools: POOLS.filter((p) => a.selectsPool(p)),
        zones: ["z1", "z2"].filter((zone) => a.selectsNode({ zone })),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

describe("ModelBuilder: the planner's model, one watch event at a time", () => {
  it("equals a from-scratch rebuild after every event of any sequence", () => {
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 20, maxLength: 60 }),
        fc.subarray(["ens3", "eth9"]),
        (events, defaults) => {
          const store = new Store();
          const builder = new ModelBuilder(undefined);
          let before = { list: builder.model(defaults).services, planned: unshared(store) };
          for (const [requested, o] of events) {
            const kind = store.apply(requested, o);
            if (kind) feed(builder, kind, o);
            const scratch = fromScratch(store, defaults);
            const model = builder.model(defaults);
            expect(normal(model)).toEqual(normal(scratch));
            // An event that changes nothing the planner reads hands it the same list (nothing re-planned).
            const planned = unshared(store);
            if (JSON.stringify(planned) === JSON.stringify(before.planned))
              expect(model.services).toBe(before.list);
            before = { list: model.services, planned };
            expect(new Map([...builder.refusals()].sort())).toEqual(
              new Map(scratch.refused.map((r) => [r.service, r.reason] as const).sort()),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps what changes without a watch event out of the model: default interfaces are read per call", () => {
    const builder = new ModelBuilder(undefined);
    builder.advertisement("add", { metadata: { name: "all" }, spec: {} });
    expect(builder.model(["ens3"]).interfaces).toEqual(["ens3"]);
    expect(builder.model(["ens3", "ens4"]).interfaces).toEqual(["ens3", "ens4"]);
  });

  it("a pool that appears after its Service makes the Service plannable; its deletion refuses it again", () => {
    const refused: string[] = [];
    const builder = new ModelBuilder(undefined, (r) => refused.push(r.reason));
    const svc = fc.sample(service, { seed: 1, numRuns: 1 })[0]!.obj as Service;
    svc.metadata.annotations = { [ANNOTATION_IP_ALLOCATED_FROM_POOL]: "p1" };
    svc.status = { loadBalancer: { ingress: [{ ip: "203.0.113.1" }] } };
    builder.service("add", svc);
    expect(builder.model([]).services).toEqual([]);
    const p1: IPAddressPool = { metadata: { name: "p1" }, spec: { addresses: ["203.0.113.0/28"] } };
    builder.pool("add", p1);
    expect(builder.model([]).services.map((s) => s.key)).toEqual([
      `${svc.metadata.namespace}/${svc.metadata.name}`,
    ]);
    builder.pool("delete", p1);
    expect(builder.model([]).services).toEqual([]);
    expect(refused).toEqual(["pool p1 does not exist or is invalid", "pool p1 does not exist or is invalid"]);
  });

  it("a pool update that changes only its status, or a Node update the planner does not read, changes nothing", () => {
    const builder = new ModelBuilder(undefined);
    const p1: IPAddressPool = { metadata: { name: "p1" }, spec: { addresses: ["203.0.113.0/28"] } };
    builder.pool("add", p1);
    builder.advertisement("add", { metadata: { name: "l2" }, spec: {} });
    builder.node("add", { metadata: { name: "n1", labels: { zone: "z1" } } });
    const svc = fc.sample(service, { seed: 1, numRuns: 1 })[0]!.obj as Service;
    svc.metadata.annotations = { [ANNOTATION_IP_ALLOCATED_FROM_POOL]: "p1" };
    svc.status = { loadBalancer: { ingress: [{ ip: "203.0.113.1" }] } };
    builder.service("add", svc);
    const before = builder.model([]);
    // The controller's status counters, a kubelet's heartbeat conditions: new objects, same content.
    builder.pool("update", {
      ...p1,
      metadata: { ...p1.metadata, resourceVersion: "2" },
      status: { assignedIPv4: 1 },
    } as IPAddressPool);
    builder.node("update", {
      metadata: { name: "n1", labels: { zone: "z1" }, resourceVersion: "2" },
      status: { conditions: [{ type: "Ready", status: "True" }] },
    } as k8s.V1Node);
    const after = builder.model([]);
    expect(after.services).toBe(before.services);
    expect(after.advertisements).toBe(before.advertisements);
    expect(after.nodes.get("n1")).toBe(before.nodes.get("n1"));
    // A change the planner reads still arrives.
    builder.node("update", { metadata: { name: "n1", labels: { zone: "z2" } } });
    expect(builder.model([]).nodes.get("n1")?.labels).toEqual({ zone: "z2" });
  });

  it("the watch cache's slimmed EndpointSlice summarizes as the object sent", () => {
    const condition = fc.option(fc.boolean(), { nil: undefined });
    const endpoint = fc.record(
      {
        addresses: fc.array(fc.ipV4(), { maxLength: 2 }),
        nodeName: fc.constantFrom("n1", "n2", "n3"),
        zone: fc.constant("z1"),
        conditions: fc.record(
          { ready: condition, serving: condition, terminating: condition },
          { requiredKeys: [] },
        ),
        targetRef: fc.record({ kind: fc.constant("Pod"), name: fc.string() }),
      },
      { requiredKeys: ["addresses"] },
    );
    const raw = fc.record({
      addressType: fc.constant("IPv4"),
      metadata: fc.record({
        namespace: fc.constantFrom(...NS),
        name: fc.string({ minLength: 1 }),
        resourceVersion: fc.nat().map(String),
        labels: fc.option(
          fc.record({ "kubernetes.io/service-name": fc.constantFrom("s1", "s2"), app: fc.string() }),
          { nil: undefined },
        ),
      }),
      endpoints: fc.option(fc.array(endpoint, { maxLength: 8 }), { nil: undefined }),
      ports: fc.constant([{ port: 80, protocol: "TCP" }]),
    });
    fc.assert(
      fc.property(raw, (slice) => {
        const slim = slimSlice(slice);
        expect(summarizeSlice(slim)).toEqual(summarizeSlice(slice as unknown as k8s.V1EndpointSlice));
        expect(slim.metadata).toMatchObject({
          name: slice.metadata.name,
          namespace: slice.metadata.namespace,
        });
        expect(slim.endpoints!.length).toBeLessThanOrEqual(4);
      }),
    );
  });

  it("a model fed the watch caches' slimmed objects equals one fed the objects as sent", () => {
    const slimmed = (o: Obj): Obj => {
      if (o.type === "service") return { type: o.type, obj: slimService(o.obj) };
      if (o.type === "slice") return { type: o.type, obj: slimSlice(o.obj) };
      if (o.type === "node") return { type: o.type, obj: slimNode(o.obj) };
      if (o.type === "namespace") return { type: o.type, obj: slimNamespace(o.obj) };
      return o;
    };
    fc.assert(
      fc.property(fc.array(event, { minLength: 10, maxLength: 40 }), (events) => {
        const store = new Store();
        const full = new ModelBuilder(undefined);
        const slim = new ModelBuilder(undefined);
        for (const [requested, o] of events) {
          const kind = store.apply(requested, o);
          if (!kind) continue;
          feed(full, kind, o);
          feed(slim, kind, slimmed(o));
          expect(normal(slim.model(["ens3"]))).toEqual(normal(full.model(["ens3"])));
          expect(slim.refusals()).toEqual(full.refusals());
        }
      }),
      { numRuns: 200 },
    );
  });

  it("voter pins: the nodes labelled floatip.io/heartbeat-voter=true, a new set object only on change", () => {
    const builder = new ModelBuilder(undefined);
    const node = (name: string, labels: Record<string, string> = {}): k8s.V1Node => ({
      metadata: { name, labels },
    });
    const pinned = { [HEARTBEAT_VOTER_LABEL]: "true" };
    builder.node("add", node("a", pinned));
    builder.node("add", node("b"));
    builder.node("add", node("c", { [HEARTBEAT_VOTER_LABEL]: "yes" }));
    const first = builder.model([]).voterPins;
    expect(first).toEqual(new Set(["a"]));
    builder.node("update", node("b", { zone: "z1" }));
    expect(builder.model([]).voterPins).toBe(first);
    builder.node("update", node("b", pinned));
    expect(builder.model([]).voterPins).toEqual(new Set(["a", "b"]));
    builder.node("update", node("a"));
    builder.node("delete", node("b", pinned));
    expect(builder.model([]).voterPins).toEqual(new Set());
  });
});
