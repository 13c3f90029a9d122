import { describe, expect, it } from "vitest";
import type { ClusterView } from "../../src/election/membership.js";
import { clusterView } from "../support/views.js";
import { planAnnouncements, type PlanNode, type PlanService } from "../../src/speaker/plan.js";
import { reconcile, type Held } from "../../src/speaker/reconcile.js";
import { shareIps } from "../../src/speaker/shared.js";

const VIP = "203.0.113.50";
const V6 = "2001:db8::50";
const NODES = ["master-0", "master-1", "master-2"];

const svc = (key: string, extra: Partial<PlanService> = {}): PlanService => ({
  key,
  ips: [VIP],
  pool: "pool",
  externalTrafficPolicy: "Cluster",
  hasReadyEndpoint: true,
  readyEndpointNodes: new Set(),
  ...extra,
});

function view(): ClusterView {
  return clusterView(NODES);
}

function plan(self: string, services: PlanService[], current: ReadonlyMap<string, Held>, now: number) {
  const nodes = new Map<string, PlanNode>(
    NODES.map((n) => [n, { labels: {}, networkUnavailable: false, unschedulable: false }]),
  );
  return planAnnouncements({
    self,
    now,
    view: view(),
    nodes,
    advertisements: [{ name: "l2", selectsPool: () => true, selectsNode: () => true, interfaces: ["ens3"] }],
    services,
    current,
    options: { excludeCordoned: true, handoverTimeoutMs: 3000 },
  });
}

describe("shareIps", () => {
  it("leaves unshared Services alone", () => {
    const a = svc("ns/a");
    const b = svc("ns/b", { ips: ["203.0.113.51"] });
    expect(shareIps([a, b])).toEqual({ services: [a, b], members: new Map() });
  });

  it("one entry per shared IP, announceable when any user is ready; members counted", () => {
    const { services, members } = shareIps([svc("ns/b", { hasReadyEndpoint: false }), svc("ns/a")]);
    expect(services).toEqual([
      {
        key: "ns/a+ns/b",
        ips: [VIP],
        pool: "pool",
        externalTrafficPolicy: "Cluster",
        hasReadyEndpoint: true,
        readyEndpointNodes: new Set(),
      },
    ]);
    expect(members).toEqual(new Map([["ns/a+ns/b", ["ns/a", "ns/b"]]]));
  });

  it("Local only when every ready user is Local, on the union of their endpoint nodes", () => {
    const local = (key: string, node: string, ready = true) =>
      svc(key, {
        externalTrafficPolicy: "Local",
        readyEndpointNodes: new Set([node]),
        hasReadyEndpoint: ready,
      });
    const [both] = shareIps([local("ns/a", "n1"), local("ns/b", "n2"), local("ns/c", "n3", false)]).services;
    expect(both).toMatchObject({ externalTrafficPolicy: "Local", readyEndpointNodes: new Set(["n1", "n2"]) });
    const [mixed] = shareIps([local("ns/a", "n1"), svc("ns/b")]).services;
    expect(mixed?.externalTrafficPolicy).toBe("Cluster");
  });

  it("splits a dual-stack Service whose IPv4 is shared: its own IPv6 stays its own", () => {
    const { services } = shareIps([svc("ns/a", { ips: [VIP, V6] }), svc("ns/b")]);
    expect(services.map((s) => [s.key, s.ips])).toEqual([
      ["ns/a", [V6]],
      ["ns/a+ns/b", [VIP]],
    ]);
  });
});

describe("two Services sharing an IP, one without ready endpoints", () => {
  it("the owner announces once and then does nothing, tick after tick (no flap)", () => {
    const services = shareIps([svc("ns/a"), svc("ns/b", { hasReadyEndpoint: false })]).services;
    const owner = NODES.find((n) => plan(n, services, new Map(), 0)[0]?.action.kind === "announce")!;
    let held = new Map<string, Held>();
    const effects = [];
    for (let tick = 0; tick < 25; tick++) {
      const r = reconcile(plan(owner, services, held, tick * 40), held, tick * 40);
      held = r.held;
      effects.push(...r.effects.filter((e) => e.kind !== "announce" || e.took));
    }
    expect(effects).toEqual([
      { kind: "announce", ip: VIP, service: "ns/a+ns/b", interfaces: ["ens3"], took: "owner" },
      { kind: "status", service: "ns/a+ns/b", announced: { ips: [VIP], pool: "pool", interfaces: ["ens3"] } },
    ]);
  });

  it("even unmerged (two plans for one IP), reconcile lets the announcing plan win", () => {
    const services = [svc("ns/a"), svc("ns/b", { hasReadyEndpoint: false })];
    const owner = NODES.find((n) => plan(n, services, new Map(), 0)[0]?.action.kind === "announce")!;
    let held = new Map<string, Held>();
    for (let tick = 0; tick < 5; tick++) {
      const r = reconcile(plan(owner, services, held, tick * 40), held, tick * 40);
      if (tick > 0) expect(r.effects.filter((e) => e.kind === "withdraw" || e.kind === "status")).toEqual([]);
      held = r.held;
    }
    expect(held.get(VIP)?.service).toBe("ns/a");
  });

  it("a second Service starting to share the IP changes the status, not the announcement", () => {
    const held = new Map<string, Held>([[VIP, { service: "ns/a", pool: "pool" }]]);
    const shared = shareIps([svc("ns/a"), svc("ns/b")]).services;
    const owner = NODES.find((n) => plan(n, shared, new Map(), 0)[0]?.action.kind === "announce")!;
    const r = reconcile(plan(owner, shared, held, 0), held, 0);
    expect(r.effects.filter((e) => e.kind !== "announce")).toEqual([
      { kind: "status", service: "ns/a" },
      { kind: "status", service: "ns/a+ns/b", announced: { ips: [VIP], pool: "pool", interfaces: ["ens3"] } },
    ]);
    expect(r.effects.find((e) => e.kind === "announce")).not.toHaveProperty("took");
  });
});
