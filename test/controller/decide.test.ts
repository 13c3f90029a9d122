import { describe, expect, it } from "vitest";
import { parsePool, type ParsedPool } from "../../src/api/pool.js";
import type { IPAddressPoolSpec } from "../../src/api/types.js";
import { Allocator } from "../../src/allocator/allocator.js";
import {
  decide,
  planWrites,
  restoreAll,
  restoreCandidates,
  type DecideContext,
} from "../../src/controller/decide.js";
import { slimService, type CachedService } from "../../src/controller/slim.js";

function pool(name: string, spec: IPAddressPoolSpec, creationTimestamp?: string): ParsedPool {
  const r = parsePool({ metadata: { name, ...(creationTimestamp ? { creationTimestamp } : {}) }, spec });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.pool;
}

/** lbClass null = flag unset. */
function ctx(pools: ParsedPool[], lbClass: string | null = "metallb"): DecideContext {
  const allocator = new Allocator();
  allocator.setPools(pools);
  return { lbClass: lbClass ?? undefined, allocator, namespaceLabels: () => ({}) };
}

const seedPool = (): ParsedPool =>
  pool("envoy-gateway-pool", { addresses: ["203.0.113.50/32"], autoAssign: false });

/** An Envoy-Gateway-shaped Service as the API server returns it. */
function envoy(
  extra: { annotations?: Record<string, string>; status?: string[]; ipMode?: boolean } = {},
): CachedService {
  return slimService({
    metadata: {
      name: "envoy-envoy-gateway-system-eg-5d3f1c2a",
      namespace: "envoy-gateway-system",
      uid: "0b5c5f7e-0000-4000-8000-000000000001",
      resourceVersion: "100",
      creationTimestamp: "2026-01-01T00:00:00Z",
      labels: {
        "app.kubernetes.io/name": "envoy",
        "app.kubernetes.io/component": "proxy",
        "app.kubernetes.io/managed-by": "envoy-gateway",
      },
      annotations: { "metallb.universe.tf/loadBalancerIPs": "203.0.113.50", ...(extra.annotations ?? {}) },
    },
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: "metallb",
      externalTrafficPolicy: "Cluster",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      ports: [{ port: 80, protocol: "TCP" }],
    },
    status: {
      loadBalancer: {
        ingress: (extra.status ?? []).map((ip) => (extra.ipMode === false ? { ip } : { ip, ipMode: "VIP" })),
      },
    },
  });
}

function svc(
  name: string,
  spec: Record<string, unknown>,
  meta: { annotations?: Record<string, string>; creationTimestamp?: string; namespace?: string } = {},
  status: string[] = [],
): CachedService {
  return slimService({
    metadata: {
      name,
      namespace: meta.namespace ?? "default",
      resourceVersion: "7",
      creationTimestamp: meta.creationTimestamp ?? "2026-01-01T00:00:00Z",
      annotations: meta.annotations,
    },
    spec: { ipFamilies: ["IPv4"], ports: [{ port: 443 }], ...spec },
    status: { loadBalancer: { ingress: status.map((ip) => ({ ip, ipMode: "VIP" })) } },
  });
}

describe("decide: class filter (MetalLB --lb-class)", () => {
  it("never touches a Service without the configured class", () => {
    const c = ctx([pool("general", { addresses: ["198.51.100.0/28"] })]);
    const classless = svc("web", { type: "LoadBalancer" });
    const d = decide(classless, c);
    expect(d).toEqual({ kind: "skip", released: [] });
    expect(planWrites(classless, d)).toEqual({ events: [] });
    expect(c.allocator.assignments()).toEqual([]);
  });

  it("without a configured class handles only class-less Services", () => {
    const c = ctx([pool("general", { addresses: ["198.51.100.0/28"] })], null);
    expect(decide(svc("web", { type: "LoadBalancer" }), c)).toMatchObject({ kind: "assigned" });
    expect(decide(svc("eip", { type: "LoadBalancer", loadBalancerClass: "kube-dc" }), c).kind).toBe("skip");
  });

  it("a LoadBalancer of another class is never written, even if it still carries our annotation", () => {
    const c = ctx([seedPool()]);
    const other = svc(
      "moved",
      { type: "LoadBalancer", loadBalancerClass: "kube-dc" },
      { annotations: { "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool" } },
      ["203.0.113.50"],
    );
    const d = decide(other, c);
    expect(d.kind).toBe("skip");
    expect(planWrites(other, d)).toEqual({ events: [] });
  });
});

describe("decide + planWrites: the seed Service", () => {
  it("gets the requested IP: status with ipMode VIP, pool annotation, IPAllocated event", () => {
    const c = ctx([seedPool()]);
    const s = envoy();
    const d = decide(s, c);
    expect(d).toEqual({ kind: "assigned", ips: ["203.0.113.50"], pool: "envoy-gateway-pool", released: [] });
    expect(planWrites(s, d)).toEqual({
      ingress: [{ ip: "203.0.113.50", ipMode: "VIP" }],
      annotations: { "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool" },
      events: [{ type: "Normal", reason: "IPAllocated", message: 'Assigned IP ["203.0.113.50"]' }],
    });
  });

  it("plans nothing when status and annotation already match (restart)", () => {
    const c = ctx([seedPool()]);
    const s = envoy({
      status: ["203.0.113.50"],
      annotations: { "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool" },
    });
    expect(planWrites(s, decide(s, c))).toEqual({ events: [] });
  });

  it("adds ipMode VIP to an older status without announcing a new allocation", () => {
    const c = ctx([seedPool()]);
    const s = envoy({
      status: ["203.0.113.50"],
      ipMode: false,
      annotations: { "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool" },
    });
    const plan = planWrites(s, decide(s, c));
    expect(plan.ingress).toEqual([{ ip: "203.0.113.50", ipMode: "VIP" }]);
    expect(plan.events).toEqual([]);
  });

  it("replaces MetalLB's deprecated pool annotation with the current key", () => {
    const c = ctx([seedPool()]);
    const s = envoy({
      status: ["203.0.113.50"],
      annotations: { "metallb.universe.tf/ip-allocated-from-pool": "envoy-gateway-pool" },
    });
    expect(planWrites(s, decide(s, c)).annotations).toEqual({
      "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool",
      "metallb.universe.tf/ip-allocated-from-pool": null,
    });
  });

  it("an IP outside every pool fails with the allocator's advice and clears what it showed", () => {
    const c = ctx([seedPool()]);
    const s = svc(
      "outside",
      { type: "LoadBalancer", loadBalancerClass: "metallb" },
      { annotations: { "metallb.io/loadBalancerIPs": "198.51.100.7" } },
    );
    const d = decide(s, c);
    expect(d).toMatchObject({ kind: "failed", reason: "requested-ip-not-in-pool" });
    const plan = planWrites(s, d);
    expect(plan.ingress).toBeUndefined(); // nothing to clear
    expect(plan.events).toHaveLength(1);
    expect(plan.events[0]).toMatchObject({ type: "Warning", reason: "AllocationFailed" });
    expect(plan.events[0]!.message).toContain("198.51.100.7 is not in any pool this Service may use");
  });

  it("a failure after holding an IP clears status and annotation and says why", () => {
    const c = ctx([seedPool()]);
    const held = envoy({
      status: ["203.0.113.50"],
      annotations: { "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool" },
    });
    expect(decide(held, c).kind).toBe("assigned");
    const changed = envoy({
      status: ["203.0.113.50"],
      annotations: {
        "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool",
        "metallb.io/loadBalancerIPs": "203.0.113.99",
      },
    });
    const d = decide(changed, c);
    expect(d).toMatchObject({ kind: "failed", released: ["203.0.113.50"] });
    const plan = planWrites(changed, d);
    expect(plan.ingress).toEqual([]);
    expect(plan.annotations).toEqual({ "metallb.io/ip-allocated-from-pool": null });
    expect(plan.events.map((e) => e.reason)).toEqual(["ClearAssignment", "AllocationFailed"]);
    expect(plan.events[0]!.message).toMatch(
      /^Cleared IP \["203\.0\.113\.50"\]: requested IP 203\.0\.113\.99/,
    );
  });

  it("uses the pool-edit reason when one is given", () => {
    const c = ctx([pool("other", { addresses: ["198.51.100.0/30"], autoAssign: false })]);
    const s = envoy({ status: ["203.0.113.50"], annotations: { "metallb.io/ip-allocated-from-pool": "x" } });
    const plan = planWrites(s, decide(s, c), "IP 203.0.113.50 is no longer inside any IPAddressPool");
    expect(plan.events[0]).toEqual({
      type: "Warning",
      reason: "ClearAssignment",
      message: 'Cleared IP ["203.0.113.50"]: IP 203.0.113.50 is no longer inside any IPAddressPool',
    });
  });

  it("1,000 requested IPs fail with one short message; a status listing 1,000 IPs is replaced by one", () => {
    // The speaker announces at most one IP per family too (src/speaker/limits.ts): both refuse the rest.
    const many = Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
    const c = ctx([seedPool()]);
    const asked = envoy({ annotations: { "metallb.universe.tf/loadBalancerIPs": many.join(",") } });
    const failed = planWrites(asked, decide(asked, c));
    expect(failed.events).toHaveLength(1);
    expect(failed.events[0]!.message).toBe(
      "more than one IPv4 address requested (10.0.0.1,10.0.1.1,10.0.2.1 and 997 more); request at most one address per family",
    );
    const listed = envoy({ status: ["203.0.113.50", ...many] });
    expect(restoreAll([listed], c).refused[0]!.message).toBe(
      "cannot restore 203.0.113.50,10.0.0.1,10.0.1.1 and 998 more: more than one IPv4 address",
    );
    const plan = planWrites(listed, decide(listed, c));
    expect(plan.ingress).toEqual([{ ip: "203.0.113.50", ipMode: "VIP" }]);
    expect(plan.events[0]!.message).toMatch(
      /^Cleared IP \["10\.0\.0\.1","10\.0\.1\.1","10\.0\.2\.1" and 997 more\]: /,
    );
    expect(Math.max(...plan.events.map((e) => e.message.length))).toBeLessThan(300);
  });

  it("contradictory fields change nothing and are reported", () => {
    const c = ctx([seedPool()]);
    const s = svc(
      "both",
      { type: "LoadBalancer", loadBalancerClass: "metallb", loadBalancerIP: "203.0.113.50" },
      { annotations: { "metallb.io/loadBalancerIPs": "203.0.113.50" } },
      ["203.0.113.50"],
    );
    const d = decide(s, c);
    expect(d.kind).toBe("invalid");
    const plan = planWrites(s, d);
    expect(plan.ingress).toBeUndefined();
    expect(plan.annotations).toBeUndefined();
    expect(plan.events[0]?.message).toContain("remove spec.loadBalancerIP");
  });

  it("honours spec.loadBalancerIP and the address-pool annotation", () => {
    const c = ctx([seedPool(), pool("general", { addresses: ["198.51.100.0/30"] })]);
    expect(
      decide(
        svc("legacy", { type: "LoadBalancer", loadBalancerClass: "metallb", loadBalancerIP: "203.0.113.50" }),
        c,
      ),
    ).toMatchObject({ kind: "assigned", ips: ["203.0.113.50"] });
    expect(
      decide(
        svc(
          "bypool",
          { type: "LoadBalancer", loadBalancerClass: "metallb" },
          { annotations: { "metallb.io/address-pool": "general" } },
        ),
        c,
      ),
    ).toMatchObject({ kind: "assigned", pool: "general", ips: ["198.51.100.0"] });
  });

  it("autoAssign: false pools only serve explicit requests", () => {
    const c = ctx([seedPool()]);
    const d = decide(svc("auto", { type: "LoadBalancer", loadBalancerClass: "metallb" }), c);
    expect(d).toMatchObject({ kind: "failed", reason: "no-pool" });
    if (d.kind === "failed") expect(d.message).toContain("autoAssign");
  });

  it("dual-stack Services get one address per family, primary first", () => {
    const c = ctx([pool("dual", { addresses: ["198.51.100.0/30", "2001:db8::/126"] })]);
    const d = decide(
      svc("dual", {
        type: "LoadBalancer",
        loadBalancerClass: "metallb",
        ipFamilies: ["IPv6", "IPv4"],
        ipFamilyPolicy: "RequireDualStack",
      }),
      c,
    );
    expect(d).toEqual({ kind: "assigned", ips: ["2001:db8::", "198.51.100.0"], pool: "dual", released: [] });
  });

  it("namespace selectors use the namespace's labels; an unknown namespace matches nothing", () => {
    const allocator = new Allocator();
    allocator.setPools([
      pool("team", {
        addresses: ["192.0.2.64/30"],
        serviceAllocation: { namespaceSelectors: [{ matchLabels: { team: "edge" } }] },
      }),
    ]);
    const labels: Record<string, Record<string, string>> = { edge: { team: "edge" }, other: {} };
    const c: DecideContext = { lbClass: "metallb", allocator, namespaceLabels: (ns) => labels[ns] };
    const inNs = (ns: string): CachedService =>
      svc(
        "lb",
        { type: "LoadBalancer", loadBalancerClass: "metallb" },
        { namespace: ns, annotations: { "metallb.io/address-pool": "team" } },
      );
    expect(decide(inNs("edge"), c)).toMatchObject({ kind: "assigned", ips: ["192.0.2.64"] });
    expect(decide(inNs("other"), c)).toMatchObject({ kind: "failed", reason: "namespace-not-allowed" });
    expect(decide(inNs("unknown"), c)).toMatchObject({ kind: "failed", reason: "namespace-not-allowed" });
  });

  it("allow-shared-ip lets two Services with distinct ports share an address", () => {
    const c = ctx([pool("general", { addresses: ["198.51.100.0/30"] })]);
    const shared = { "metallb.io/allow-shared-ip": "k", "metallb.io/loadBalancerIPs": "198.51.100.1" };
    const a = svc(
      "a",
      { type: "LoadBalancer", loadBalancerClass: "metallb", ports: [{ port: 80 }] },
      { annotations: shared },
    );
    const b = svc(
      "b",
      { type: "LoadBalancer", loadBalancerClass: "metallb", ports: [{ port: 443 }] },
      { annotations: shared },
    );
    expect(decide(a, c)).toMatchObject({ kind: "assigned", ips: ["198.51.100.1"] });
    expect(decide(b, c)).toMatchObject({ kind: "assigned", ips: ["198.51.100.1"] });
  });
});

describe("decide: leaving LoadBalancer", () => {
  it("a Service that became ClusterIP is released and our annotation removed", () => {
    const c = ctx([seedPool()]);
    expect(decide(envoy(), c).kind).toBe("assigned");
    const nowClusterIP = svc(
      "envoy-envoy-gateway-system-eg-5d3f1c2a",
      { type: "ClusterIP" },
      {
        namespace: "envoy-gateway-system",
        annotations: { "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool" },
      },
    );
    const d = decide(nowClusterIP, c);
    expect(d).toEqual({ kind: "cleanup", released: ["203.0.113.50"] });
    expect(c.allocator.assignments()).toEqual([]);
    expect(planWrites(nowClusterIP, d)).toEqual({
      annotations: { "metallb.io/ip-allocated-from-pool": null },
      events: [
        {
          type: "Normal",
          reason: "ClearAssignment",
          message: 'Cleared IP ["203.0.113.50"]: the Service is no longer of type LoadBalancer',
        },
      ],
    });
  });

  it("after a restart, a ClusterIP Service still carrying our annotation is cleaned too", () => {
    const c = ctx([seedPool()]);
    const s = svc("x", { type: "ClusterIP" }, { annotations: { "metallb.io/ip-allocated-from-pool": "p" } });
    expect(decide(s, c).kind).toBe("cleanup");
    expect(decide(svc("plain", { type: "ClusterIP" }), c).kind).toBe("skip");
  });

  it("a Service being deleted keeps what it has", () => {
    const c = ctx([seedPool()]);
    const s = envoy({ status: ["203.0.113.50"] });
    s.metadata.deletionTimestamp = "2026-01-02T00:00:00Z";
    const d = decide(s, c);
    expect(d).toEqual({ kind: "deleting" });
    expect(planWrites(s, d)).toEqual({ events: [] });
  });
});

describe("restore after a restart", () => {
  it("restores oldest first, so the established Service keeps a contested IP", () => {
    const c = ctx([pool("general", { addresses: ["198.51.100.0/30"] })]);
    const older = svc(
      "older",
      { type: "LoadBalancer", loadBalancerClass: "metallb" },
      { creationTimestamp: "2026-01-01T00:00:00Z" },
      ["198.51.100.1"],
    );
    const newer = svc(
      "newer",
      { type: "LoadBalancer", loadBalancerClass: "metallb" },
      { creationTimestamp: "2026-02-01T00:00:00Z" },
      ["198.51.100.1"],
    );
    const notOurs = svc("eip", { type: "LoadBalancer" }, {}, ["198.51.100.2"]);
    const order = restoreCandidates([newer, notOurs, older], "metallb");
    expect(order.map((s) => s.metadata.name)).toEqual(["older", "newer"]);
    const outcome = restoreAll(order, c);
    expect(outcome.restored).toBe(1);
    expect(outcome.refused).toEqual([
      { service: "default/newer", ips: ["198.51.100.1"], message: expect.stringContaining("already used") },
    ]);
    expect(c.allocator.lookup("default/older")?.ips).toEqual(["198.51.100.1"]);
    // The loser's reconcile then moves it to a free address and says so.
    const d = decide(newer, c);
    expect(d).toMatchObject({ kind: "assigned", ips: ["198.51.100.0"] });
    expect(planWrites(newer, d).events.map((e) => e.reason)).toEqual(["ClearAssignment", "IPAllocated"]);
  });

  it("a restored Service needs no write at all", () => {
    const c = ctx([seedPool()]);
    const s = envoy({
      status: ["203.0.113.50"],
      annotations: { "metallb.io/ip-allocated-from-pool": "envoy-gateway-pool" },
    });
    expect(restoreAll(restoreCandidates([s], "metallb"), c)).toEqual({ restored: 1, refused: [] });
    expect(planWrites(s, decide(s, c))).toEqual({ events: [] });
  });
});

describe("slimService", () => {
  it("keeps only what decisions read (MetalLB annotations, not kubectl's copy)", () => {
    const s = slimService({
      metadata: {
        name: "a",
        namespace: "n",
        managedFields: [{ manager: "kubectl" }],
        annotations: {
          "kubectl.kubernetes.io/last-applied-configuration": "{...}",
          "metallb.io/address-pool": "p",
          "metallb.universe.tf/allow-shared-ip": "k",
        },
      },
      spec: { type: "LoadBalancer", clusterIP: "192.0.2.10", ipFamilies: ["IPv4"], sessionAffinity: "None" },
    });
    expect(s).toEqual({
      metadata: {
        name: "a",
        namespace: "n",
        annotations: { "metallb.io/address-pool": "p", "metallb.universe.tf/allow-shared-ip": "k" },
      },
      spec: { type: "LoadBalancer", ipFamilies: ["IPv4"] },
    });
  });

  it("keeps cluster IPs when they are the only hint of the family", () => {
    const s = slimService({
      metadata: { name: "old" },
      spec: { type: "LoadBalancer", clusterIP: "2001:db8::1" },
    });
    expect(s.spec.clusterIP).toBe("2001:db8::1");
  });
});
