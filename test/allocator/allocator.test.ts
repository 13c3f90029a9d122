import { describe, it, expect } from "vitest";
import { Allocator } from "../../src/allocator/allocator.js";
import { dual, pool, req } from "./helpers.js";

function fresh(...pools: Parameters<Allocator["setPools"]>[0]): Allocator {
  const a = new Allocator();
  const r = a.setPools(pools);
  expect(r.ignoredPools).toEqual([]);
  return a;
}

const seedPool = () => pool("envoy-gateway-pool", { addresses: ["203.0.113.5/32"], autoAssign: false });

describe("seed pool (single /32, autoAssign false)", () => {
  it("gives its address to an explicit request", () => {
    const a = fresh(seedPool());
    const r = a.assign(req("envoy-gateway-system", "envoy", { requestedIPs: ["203.0.113.5"] }));
    expect(r).toEqual({ ok: true, ips: ["203.0.113.5"], pool: "envoy-gateway-pool", changed: true });
  });

  it("gives its address when named by the address-pool annotation", () => {
    const a = fresh(seedPool());
    const r = a.assign(req("envoy-gateway-system", "envoy", { pool: "envoy-gateway-pool" }));
    expect(r).toMatchObject({ ok: true, ips: ["203.0.113.5"] });
  });

  it("does not give it to an automatic request", () => {
    const a = fresh(seedPool());
    const r = a.assign(req("default", "web"));
    expect(r).toMatchObject({ ok: false, reason: "no-pool" });
    if (!r.ok) expect(r.message).toContain("autoAssign");
    expect(a.assignments()).toEqual([]);
  });

  it("auto requests go to an autoAssign pool instead", () => {
    const a = fresh(seedPool(), pool("general", { addresses: ["198.51.100.10-198.51.100.11"] }));
    expect(a.assign(req("default", "web"))).toMatchObject({
      ok: true,
      ips: ["198.51.100.10"],
      pool: "general",
    });
  });

  it("a second Service cannot take the held address", () => {
    const a = fresh(seedPool());
    expect(a.assign(req("envoy-gateway-system", "envoy", { requestedIPs: ["203.0.113.5"] })).ok).toBe(true);
    const r = a.assign(req("other", "thief", { requestedIPs: ["203.0.113.5"] }));
    expect(r).toMatchObject({ ok: false, reason: "ip-in-use" });
    if (!r.ok) {
      expect(r.message).toContain("another namespace");
      expect(r.message).not.toContain("envoy");
    }
  });
});

describe("idempotency and changes", () => {
  it("returns the same IPs on repeat calls", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/29"] }));
    const first = a.assign(req("ns", "a"));
    const again = a.assign(req("ns", "a"));
    expect(first).toMatchObject({ ok: true, ips: ["198.51.100.0"], changed: true });
    expect(again).toEqual({ ok: true, ips: ["198.51.100.0"], pool: "p", changed: false });
  });

  it("moves when the requested IP changes and reports the released one", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/29"] }));
    a.assign(req("ns", "a"));
    const r = a.assign(req("ns", "a", { requestedIPs: ["198.51.100.5"] }));
    expect(r).toMatchObject({ ok: true, ips: ["198.51.100.5"], changed: true });
    expect(a.poolStats("p")?.assignedIPv4).toBe(1);
  });

  it("moves when the address-pool annotation changes", () => {
    const a = fresh(
      pool("p", { addresses: ["198.51.100.0/29"] }),
      pool("q", { addresses: ["192.0.2.0/29"] }),
    );
    a.assign(req("ns", "a"));
    expect(a.assign(req("ns", "a", { pool: "q" }))).toMatchObject({
      ok: true,
      pool: "q",
      ips: ["192.0.2.0"],
    });
  });

  it("failure after a change releases the old assignment and says so", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/29"] }));
    a.assign(req("ns", "a"));
    const r = a.assign(req("ns", "a", { requestedIPs: ["192.0.2.1"] }));
    expect(r).toMatchObject({ ok: false, reason: "requested-ip-not-in-pool", released: ["198.51.100.0"] });
    expect(a.lookup("ns/a")).toBeUndefined();
  });

  it("an invalid request changes nothing", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/29"] }));
    a.assign(req("ns", "a"));
    const r = a.assign(req("ns", "a", { requestedIPs: ["not-an-ip"] }));
    expect(r).toMatchObject({ ok: false, reason: "invalid-request", released: [] });
    expect(a.lookup({ namespace: "ns", name: "a" })?.ips).toEqual(["198.51.100.0"]);
  });

  it("release frees the address for the next Service (first free wins)", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/29"] }));
    a.assign(req("ns", "a"));
    a.assign(req("ns", "b"));
    expect(a.release("ns/a")).toEqual(["198.51.100.0"]);
    expect(a.release("ns/a")).toEqual([]);
    expect(a.assign(req("ns", "c"))).toMatchObject({ ips: ["198.51.100.0"] });
  });
});

describe("pool selection for automatic assignment", () => {
  it("orders by priority: set before unset, lower first, ties by name", () => {
    const a = fresh(
      pool("a-unset", { addresses: ["192.0.2.0/32"] }),
      pool("b-prio2", {
        addresses: ["192.0.2.1/32"],
        serviceAllocation: { priority: 2, namespaces: ["ns"] },
      }),
      pool("c-prio1", {
        addresses: ["192.0.2.2/32"],
        serviceAllocation: { priority: 1, namespaces: ["ns"] },
      }),
      pool("d-prio1", {
        addresses: ["192.0.2.3/32"],
        serviceAllocation: { priority: 1, namespaces: ["ns"] },
      }),
      pool("e-unset-pinned", { addresses: ["192.0.2.4/32"], serviceAllocation: { namespaces: ["ns"] } }),
    );
    const order = ["s1", "s2", "s3", "s4", "s5"].map((n) => {
      const r = a.assign(req("ns", n));
      return r.ok ? r.pool : r.reason;
    });
    expect(order).toEqual(["c-prio1", "d-prio1", "b-prio2", "e-unset-pinned", "a-unset"]);
    expect(a.assign(req("ns", "s6"))).toMatchObject({ ok: false, reason: "pool-exhausted" });
  });

  it("prefers a pool pinned to the namespace over a general one (MetalLB)", () => {
    const a = fresh(
      pool("aaa-general", { addresses: ["192.0.2.0/30"] }),
      pool("team", { addresses: ["198.51.100.0/30"], serviceAllocation: { namespaces: ["team"] } }),
    );
    expect(a.assign(req("team", "x"))).toMatchObject({ pool: "team" });
    expect(a.assign(req("other", "y"))).toMatchObject({ pool: "aaa-general" });
  });

  it("priority also orders unrestricted pools", () => {
    const a = fresh(
      pool("a", { addresses: ["192.0.2.0/30"] }),
      pool("b", { addresses: ["198.51.100.0/30"], serviceAllocation: { priority: 5 } }),
    );
    expect(a.assign(req("ns", "x"))).toMatchObject({ pool: "b" });
  });

  it("falls through to the next pool when the first is full", () => {
    const a = fresh(
      pool("a", { addresses: ["192.0.2.0/32"], serviceAllocation: { priority: 1 } }),
      pool("b", { addresses: ["198.51.100.0/32"], serviceAllocation: { priority: 2 } }),
    );
    expect(a.assign(req("ns", "x"))).toMatchObject({ pool: "a" });
    expect(a.assign(req("ns", "y"))).toMatchObject({ pool: "b" });
    const r = a.assign(req("ns", "z"));
    expect(r).toMatchObject({ ok: false, reason: "pool-exhausted" });
    if (!r.ok) expect(r.message).toMatch(/"a", "b"/);
  });

  it("reports no-pool when no pool exists at all", () => {
    expect(new Allocator().assign(req("ns", "x"))).toMatchObject({ ok: false, reason: "no-pool" });
  });
});

describe("serviceAllocation restrictions", () => {
  const restricted = () =>
    fresh(
      pool("ns-only", { addresses: ["192.0.2.0/30"], serviceAllocation: { namespaces: ["allowed"] } }),
      pool("by-ns-label", {
        addresses: ["192.0.2.8/30"],
        serviceAllocation: { namespaceSelectors: [{ matchLabels: { tier: "gold" } }] },
      }),
      pool("by-svc-label", {
        addresses: ["192.0.2.16/30"],
        serviceAllocation: {
          serviceSelectors: [{ matchExpressions: [{ key: "app", operator: "In", values: ["db"] }] }],
        },
      }),
      pool("both", {
        addresses: ["192.0.2.24/30"],
        serviceAllocation: { namespaces: ["allowed"], serviceSelectors: [{ matchLabels: { app: "web" } }] },
      }),
    );

  it("namespaces: other namespaces get nothing automatically", () => {
    const a = restricted();
    expect(a.assign(req("allowed", "x"))).toMatchObject({ pool: "ns-only" });
    expect(a.assign(req("other", "y"))).toMatchObject({ ok: false, reason: "no-pool" });
  });

  it("namespaces: explicit IP or pool from a forbidden pool is refused", () => {
    const a = restricted();
    expect(a.assign(req("other", "y", { requestedIPs: ["192.0.2.1"] }))).toMatchObject({
      ok: false,
      reason: "namespace-not-allowed",
    });
    const r = a.assign(req("other", "y", { pool: "ns-only" }));
    expect(r).toMatchObject({ ok: false, reason: "namespace-not-allowed" });
    // The tenant is not told why; the operator's detail is.
    if (!r.ok) expect(r.detail).toContain('namespace "other"');
  });

  it("namespace refusal is checked before in-use, so holders are not probed", () => {
    const a = restricted();
    a.assign(req("allowed", "x", { requestedIPs: ["192.0.2.1"] }));
    expect(a.assign(req("other", "y", { requestedIPs: ["192.0.2.1"] }))).toMatchObject({
      reason: "namespace-not-allowed",
    });
  });

  it("namespaceSelectors match namespace labels; unknown labels match nothing", () => {
    const a = restricted();
    expect(a.assign(req("gold-ns", "x", { namespaceLabels: { tier: "gold" } }))).toMatchObject({
      pool: "by-ns-label",
    });
    expect(a.assign(req("gold-ns", "y", { requestedIPs: ["192.0.2.9"] }))).toMatchObject({
      reason: "namespace-not-allowed",
    });
    expect(
      a.assign(req("silver", "z", { namespaceLabels: { tier: "silver" }, pool: "by-ns-label" })),
    ).toMatchObject({
      reason: "namespace-not-allowed",
    });
  });

  it("serviceSelectors match Service labels", () => {
    const a = restricted();
    expect(a.assign(req("any", "db", { labels: { app: "db" } }))).toMatchObject({ pool: "by-svc-label" });
    const r = a.assign(req("any", "web", { labels: { app: "web" }, pool: "by-svc-label" }));
    expect(r).toMatchObject({ reason: "namespace-not-allowed" });
    if (!r.ok) expect(r.detail).toContain("serviceSelectors");
  });

  it("namespace and service terms must both match", () => {
    const a = restricted();
    expect(a.assign(req("allowed", "w", { labels: { app: "web" }, pool: "both" }))).toMatchObject({
      ok: true,
    });
    expect(a.assign(req("allowed", "v", { labels: { app: "db" }, pool: "both" }))).toMatchObject({
      reason: "namespace-not-allowed",
    });
    expect(a.assign(req("other", "u", { labels: { app: "web" }, pool: "both" }))).toMatchObject({
      reason: "namespace-not-allowed",
    });
  });

  it("namespaces OR namespaceSelectors", () => {
    const a = fresh(
      pool("p", {
        addresses: ["192.0.2.0/30"],
        serviceAllocation: { namespaces: ["a"], namespaceSelectors: [{ matchLabels: { team: "b" } }] },
      }),
    );
    expect(a.assign(req("a", "x", { namespaceLabels: {} }))).toMatchObject({ ok: true });
    expect(a.assign(req("b", "x", { namespaceLabels: { team: "b" } }))).toMatchObject({ ok: true });
    expect(a.assign(req("c", "x", { namespaceLabels: { team: "c" } }))).toMatchObject({ reason: "no-pool" });
  });
});

describe("explicit requests", () => {
  const two = () =>
    fresh(
      pool("p", { addresses: ["198.51.100.0/24", "2001:db8:1::/120"], autoAssign: false }),
      pool("q", { addresses: ["192.0.2.0/24", "2001:db8:2::/120"] }),
    );

  it("rejects IPs outside every pool", () => {
    const r = two().assign(req("ns", "x", { requestedIPs: ["203.0.113.9"] }));
    expect(r).toMatchObject({ ok: false, reason: "requested-ip-not-in-pool" });
    if (!r.ok) expect(r.message).toContain("203.0.113.9");
  });

  it("accepts spec.loadBalancerIP-style single IP and canonicalises IPv6", () => {
    const a = two();
    expect(
      a.assign(req("ns", "x", { ipFamilies: ["IPv6"], requestedIPs: ["2001:DB8:1:0::7"] })),
    ).toMatchObject({
      ips: ["2001:db8:1::7"],
      pool: "p",
    });
  });

  it("dual-stack needs one IP per family, from one pool", () => {
    const a = two();
    expect(a.assign(dual("ns", "x", { requestedIPs: ["198.51.100.1", "2001:db8:1::1"] }))).toMatchObject({
      ok: true,
      ips: ["198.51.100.1", "2001:db8:1::1"],
    });
    expect(a.assign(dual("ns", "y", { requestedIPs: ["198.51.100.2", "2001:db8:2::1"] }))).toMatchObject({
      reason: "pool-mismatch",
    });
    expect(a.assign(dual("ns", "z", { requestedIPs: ["198.51.100.3"] }))).toMatchObject({
      reason: "invalid-request",
    });
    expect(a.assign(req("ns", "w", { requestedIPs: ["198.51.100.3", "198.51.100.4"] }))).toMatchObject({
      reason: "invalid-request",
    });
    expect(a.assign(req("ns", "v", { requestedIPs: ["2001:db8:1::9"] }))).toMatchObject({
      reason: "invalid-request",
    });
  });

  it("address-pool annotation must agree with the requested IPs", () => {
    const a = two();
    expect(a.assign(req("ns", "x", { requestedIPs: ["198.51.100.1"], pool: "q" }))).toMatchObject({
      reason: "pool-mismatch",
    });
    expect(a.assign(req("ns", "x", { requestedIPs: ["198.51.100.1"], pool: "nope" }))).toMatchObject({
      reason: "unknown-pool",
    });
    expect(a.assign(req("ns", "x", { requestedIPs: ["198.51.100.1"], pool: "p" }))).toMatchObject({
      ok: true,
    });
  });

  it("unknown address-pool", () => {
    const r = two().assign(req("ns", "x", { pool: "missing" }));
    expect(r).toMatchObject({ ok: false, reason: "unknown-pool" });
    if (!r.ok) expect(r.message).toContain('"missing"');
  });

  it("avoidBuggyIPs excludes .0 and .255 from explicit requests too", () => {
    const a = fresh(pool("p", { addresses: ["192.0.2.0/24"], avoidBuggyIPs: true }));
    expect(a.assign(req("ns", "x", { requestedIPs: ["192.0.2.255"] }))).toMatchObject({
      reason: "requested-ip-not-in-pool",
    });
    expect(a.assign(req("ns", "x", { requestedIPs: ["192.0.2.254"] }))).toMatchObject({ ok: true });
  });
});

describe("avoidBuggyIPs and stats", () => {
  it("skips .255 and .0 when allocating", () => {
    const a = fresh(pool("p", { addresses: ["192.0.2.254-192.0.3.1"], avoidBuggyIPs: true }));
    const got = ["a", "b"].map((n) => {
      const r = a.assign(req("ns", n));
      return r.ok ? r.ips[0] : r.reason;
    });
    expect(got).toEqual(["192.0.2.254", "192.0.3.1"]);
    expect(a.assign(req("ns", "c"))).toMatchObject({ reason: "pool-exhausted" });
    expect(a.poolStats("p")).toEqual({
      assignedIPv4: 2,
      assignedIPv6: 0,
      availableIPv4: 0,
      availableIPv6: 0,
    });
  });

  it("counts per family and saturates huge IPv6 pools", () => {
    const a = fresh(
      pool("p", { addresses: ["198.51.100.0/24", "2001:db8::/64"], avoidBuggyIPs: true }),
      pool("small6", { addresses: ["2001:db8:ffff::/126"] }),
    );
    a.assign(dual("ns", "x"));
    expect(a.poolStats("p")).toEqual({
      assignedIPv4: 1,
      assignedIPv6: 1,
      availableIPv4: 253,
      availableIPv6: Number.MAX_SAFE_INTEGER,
    });
    expect(a.poolStatsExact("p")?.availableIPv6).toBe((1n << 64n) - 1n);
    expect(a.poolStats("small6")).toEqual({
      assignedIPv4: 0,
      assignedIPv6: 0,
      availableIPv4: 0,
      availableIPv6: 4,
    });
    expect(a.poolStats("none")).toBeUndefined();
  });

  it("shared IPs count once", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/30"] }));
    const k = { sharingKey: "k" };
    a.assign(req("ns", "x", { ...k, ports: [{ port: 80, protocol: "TCP" }] }));
    a.assign(req("ns", "y", { ...k, ports: [{ port: 443, protocol: "TCP" }] }));
    expect(a.poolStats("p")?.assignedIPv4).toBe(1);
    expect(a.poolStats("p")?.availableIPv4).toBe(3);
  });
});

describe("IP sharing", () => {
  const ip = "198.51.100.1";
  const setup = () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/24"] }));
    expect(
      a.assign(
        req("ns", "first", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 80, protocol: "TCP" }] }),
      ).ok,
    ).toBe(true);
    return a;
  };

  it("same key and disjoint ports share", () => {
    const a = setup();
    expect(
      a.assign(
        req("ns", "second", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 443, protocol: "TCP" }] }),
      ),
    ).toMatchObject({ ok: true, ips: [ip] });
    // Same port number, different protocol: no overlap.
    expect(
      a.assign(
        req("ns", "third", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 80, protocol: "UDP" }] }),
      ),
    ).toMatchObject({ ok: true });
  });

  it("overlapping (port, protocol) is refused", () => {
    const r = setup().assign(
      req("ns", "second", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 80, protocol: "TCP" }] }),
    );
    expect(r).toMatchObject({ ok: false, reason: "ip-in-use" });
    if (!r.ok) expect(r.message).toContain("80/TCP");
  });

  it("different or missing key is refused", () => {
    const a = setup();
    expect(a.assign(req("ns", "s", { requestedIPs: [ip], sharingKey: "other", ports: [] }))).toMatchObject({
      reason: "ip-in-use",
    });
    const r = a.assign(req("ns", "t", { requestedIPs: [ip] }));
    expect(r).toMatchObject({ reason: "ip-in-use" });
    if (!r.ok) expect(r.message).toContain("allow-shared-ip");
  });

  it("a holder without a key never shares", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/24"] }));
    a.assign(req("ns", "x", { requestedIPs: [ip] }));
    expect(a.assign(req("ns", "y", { requestedIPs: [ip], sharingKey: "k" }))).toMatchObject({
      reason: "ip-in-use",
    });
  });

  it("externalTrafficPolicy Local needs equal backends; Cluster does not", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/24"] }));
    const base = { requestedIPs: [ip], sharingKey: "k" };
    a.assign(req("ns", "l1", { ...base, backendKey: "app=a", ports: [{ port: 1, protocol: "TCP" }] }));
    expect(
      a.assign(req("ns", "l2", { ...base, backendKey: "app=b", ports: [{ port: 2, protocol: "TCP" }] })),
    ).toMatchObject({ reason: "ip-in-use" });
    expect(
      a.assign(req("ns", "c1", { ...base, backendKey: "", ports: [{ port: 3, protocol: "TCP" }] })),
    ).toMatchObject({ reason: "ip-in-use" });
    expect(
      a.assign(req("ns", "l3", { ...base, backendKey: "app=a", ports: [{ port: 4, protocol: "TCP" }] })),
    ).toMatchObject({ ok: true });
  });

  it("valid sharing works across namespaces; refusals don't name foreign Services", () => {
    const a = setup();
    expect(
      a.assign(
        req("other", "x", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 22, protocol: "TCP" }] }),
      ),
    ).toMatchObject({ ok: true });
    const r = a.assign(req("third", "y", { requestedIPs: [ip], sharingKey: "nope" }));
    expect(r).toMatchObject({ reason: "ip-in-use" });
    if (!r.ok) {
      expect(r.message).toContain("another namespace");
      expect(r.message).not.toContain("first");
    }
  });

  it("automatic assignment joins an IP already shared under the same key", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/24"] }));
    a.assign(
      req("ns", "x", {
        requestedIPs: ["198.51.100.7"],
        sharingKey: "k",
        ports: [{ port: 80, protocol: "TCP" }],
      }),
    );
    expect(
      a.assign(req("ns", "y", { sharingKey: "k", ports: [{ port: 81, protocol: "TCP" }] })),
    ).toMatchObject({
      ips: ["198.51.100.7"],
    });
    // Port clash: gets the first free address instead.
    expect(
      a.assign(req("ns", "z", { sharingKey: "k", ports: [{ port: 80, protocol: "TCP" }] })),
    ).toMatchObject({
      ips: ["198.51.100.0"],
    });
  });

  it("a sole holder may change its own sharing key in place", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/24"] }));
    a.assign(req("ns", "x", { requestedIPs: [ip] }));
    expect(a.assign(req("ns", "x", { requestedIPs: [ip], sharingKey: "k" }))).toMatchObject({
      ok: true,
      changed: false,
    });
    expect(a.lookup("ns/x")?.sharingKey).toBe("k");
  });

  it("a Service whose ports start clashing with its co-tenant is moved", () => {
    const a = setup();
    a.assign(
      req("ns", "second", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 443, protocol: "TCP" }] }),
    );
    const r = a.assign(req("ns", "second", { sharingKey: "k", ports: [{ port: 80, protocol: "TCP" }] }));
    expect(r).toMatchObject({ ok: true, ips: ["198.51.100.0"], changed: true });
  });
});

describe("dual-stack", () => {
  it("RequireDualStack takes both families from one pool", () => {
    const a = fresh(
      pool("v4only", { addresses: ["192.0.2.0/30"], serviceAllocation: { priority: 1 } }),
      pool("both", { addresses: ["198.51.100.0/30", "2001:db8::/126"], serviceAllocation: { priority: 2 } }),
    );
    expect(a.assign(dual("ns", "x"))).toMatchObject({ pool: "both", ips: ["198.51.100.0", "2001:db8::"] });
  });

  it("IPv6-primary ordering follows spec.ipFamilies", () => {
    const a = fresh(pool("both", { addresses: ["198.51.100.0/30", "2001:db8::/126"] }));
    expect(a.assign(dual("ns", "x", { ipFamilies: ["IPv6", "IPv4"] }))).toMatchObject({
      ips: ["2001:db8::", "198.51.100.0"],
    });
  });

  it("RequireDualStack fails clearly without an IPv6 pool", () => {
    const a = fresh(pool("v4", { addresses: ["192.0.2.0/30"] }));
    const r = a.assign(dual("ns", "x"));
    expect(r).toMatchObject({ ok: false, reason: "no-pool" });
    if (!r.ok) expect(r.message).toContain("IPv6");
  });

  it("SingleStack IPv6", () => {
    const a = fresh(pool("both", { addresses: ["198.51.100.0/30", "2001:db8::/126"] }));
    expect(a.assign(req("ns", "x", { ipFamilies: ["IPv6"] }))).toMatchObject({ ips: ["2001:db8::"] });
  });

  it("SingleStack uses only the first of several families", () => {
    const a = fresh(pool("both", { addresses: ["198.51.100.0/30", "2001:db8::/126"] }));
    expect(
      a.assign(req("ns", "x", { ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "SingleStack" })),
    ).toMatchObject({ ips: ["198.51.100.0"] });
  });

  it("PreferDualStack: a later pool with both beats an earlier single-family pool", () => {
    const a = fresh(
      pool("a-v4", { addresses: ["192.0.2.0/30"] }),
      pool("b-both", { addresses: ["198.51.100.0/30", "2001:db8::/126"] }),
    );
    expect(a.assign(dual("ns", "x", { ipFamilyPolicy: "PreferDualStack" }))).toMatchObject({
      pool: "b-both",
      ips: ["198.51.100.0", "2001:db8::"],
    });
  });

  it("PreferDualStack: falls back to one family, primary first, then tops up later", () => {
    const a = fresh(pool("p", { addresses: ["198.51.100.0/30", "2001:db8::/128"] }));
    a.assign(req("ns", "v6holder", { ipFamilies: ["IPv6"] }));
    const pref = dual("ns", "x", { ipFamilyPolicy: "PreferDualStack" });
    expect(a.assign(pref)).toMatchObject({ ok: true, ips: ["198.51.100.0"] });
    expect(a.assign(pref)).toMatchObject({ ips: ["198.51.100.0"], changed: false });
    a.release("ns/v6holder");
    expect(a.assign(pref)).toMatchObject({ ips: ["198.51.100.0", "2001:db8::"], changed: true });
  });

  it("PreferDualStack with only the secondary family available", () => {
    const a = fresh(pool("v6", { addresses: ["2001:db8::/126"] }));
    expect(a.assign(dual("ns", "x", { ipFamilyPolicy: "PreferDualStack" }))).toMatchObject({
      ips: ["2001:db8::"],
    });
  });
});

describe("setPools", () => {
  it("invalidates assignments whose pool disappeared or shrank", () => {
    const a = fresh(
      pool("p", { addresses: ["198.51.100.0/30"] }),
      pool("q", { addresses: ["192.0.2.0/30"] }),
    );
    a.assign(req("ns", "x"));
    a.assign(req("ns", "y"));
    a.assign(req("ns", "z", { pool: "q" }));
    const r = a.setPools([pool("p", { addresses: ["198.51.100.0/32"] })]);
    expect(r.invalidated.map((i) => [i.service, i.ips, i.pool])).toEqual([
      ["ns/y", ["198.51.100.1"], "p"],
      ["ns/z", ["192.0.2.0"], "q"],
    ]);
    expect(r.invalidated[0]?.message).toContain("no longer");
    expect(a.assignments().map((x) => x.service)).toEqual(["ns/x"]);
  });

  it("invalidates when avoidBuggyIPs is switched on under a .0 address", () => {
    const a = fresh(pool("p", { addresses: ["192.0.2.0/30"] }));
    a.assign(req("ns", "x"));
    expect(
      a.setPools([pool("p", { addresses: ["192.0.2.0/30"], avoidBuggyIPs: true })]).invalidated,
    ).toHaveLength(1);
  });

  it("invalidates when a namespace restriction excludes the holder", () => {
    const a = fresh(pool("p", { addresses: ["192.0.2.0/30"] }));
    a.assign(req("ns", "x"));
    const r = a.setPools([
      pool("p", { addresses: ["192.0.2.0/30"], serviceAllocation: { namespaces: ["other"] } }),
    ]);
    expect(r.invalidated[0]?.message).toContain('namespace "ns"');
  });

  it("follows a renamed pool", () => {
    const a = fresh(pool("old", { addresses: ["192.0.2.0/30"] }));
    a.assign(req("ns", "x"));
    expect(a.setPools([pool("new", { addresses: ["192.0.2.0/29"] })]).invalidated).toEqual([]);
    expect(a.lookup("ns/x")?.pool).toBe("new");
    expect(a.poolStats("new")?.assignedIPv4).toBe(1);
  });

  it("ignores a later overlapping pool", () => {
    const a = new Allocator();
    const r = a.setPools([
      pool("first", { addresses: ["192.0.2.0/24"] }),
      pool("second", { addresses: ["192.0.2.128/25"] }),
    ]);
    expect(r.ignoredPools.map((p) => p.name)).toEqual(["second"]);
    expect(r.ignoredPools[0]?.errors[0]).toContain("first");
    expect(a.pools().map((p) => p.name)).toEqual(["first"]);
  });
});

describe("restore", () => {
  it("re-registers valid holdings, including from autoAssign:false pools", () => {
    const a = fresh(seedPool(), pool("p", { addresses: ["198.51.100.0/30"] }));
    expect(a.restore(req("ns", "x"), ["198.51.100.2"])).toMatchObject({ ok: true, pool: "p", changed: true });
    expect(a.restore(req("ns", "x"), ["198.51.100.2"])).toMatchObject({ ok: true, changed: false });
    expect(a.restore(req("gw", "envoy"), ["203.0.113.5"])).toMatchObject({
      ok: true,
      pool: "envoy-gateway-pool",
    });
    // The restored address is not handed out again.
    expect(a.assign(req("ns", "y"))).toMatchObject({ ips: ["198.51.100.0"] });
    expect(a.assign(req("ns", "z"))).toMatchObject({ ips: ["198.51.100.1"] });
    expect(a.assign(req("ns", "w"))).toMatchObject({ ips: ["198.51.100.3"] });
  });

  it("refuses IPs outside pools, conflicts and stale requests without changing state", () => {
    const a = fresh(
      pool("p", { addresses: ["198.51.100.0/30"] }),
      pool("q", { addresses: ["192.0.2.0/30"] }),
    );
    expect(a.restore(req("ns", "x"), ["203.0.113.1"])).toMatchObject({ reason: "requested-ip-not-in-pool" });
    expect(a.restore(req("ns", "x"), ["bogus"])).toMatchObject({ reason: "invalid-request" });
    a.restore(req("ns", "x"), ["198.51.100.1"]);
    expect(a.restore(req("other", "y"), ["198.51.100.1"])).toMatchObject({ reason: "ip-in-use" });
    expect(a.restore(req("ns", "z", { requestedIPs: ["198.51.100.2"] }), ["198.51.100.3"])).toMatchObject({
      reason: "request-changed",
    });
    expect(a.restore(req("ns", "z", { pool: "q" }), ["198.51.100.3"])).toMatchObject({
      reason: "request-changed",
    });
    expect(a.restore(dual("ns", "z"), ["198.51.100.3"])).toMatchObject({ reason: "request-changed" });
    expect(a.restore(req("ns", "z"), ["198.51.100.3", "198.51.100.2"])).toMatchObject({
      reason: "invalid-request",
    });
    expect(a.assignments().map((x) => x.service)).toEqual(["ns/x"]);
  });

  it("refuses holdings in a pool the Service may not use", () => {
    const a = fresh(
      pool("p", { addresses: ["198.51.100.0/30"], serviceAllocation: { namespaces: ["team"] } }),
    );
    expect(a.restore(req("intruder", "x"), ["198.51.100.1"])).toMatchObject({
      reason: "namespace-not-allowed",
    });
  });
});

describe("determinism", () => {
  it("two allocators fed the same operations agree", () => {
    const run = () => {
      const a = fresh(
        pool("p", { addresses: ["198.51.100.0/28", "2001:db8::/124"] }),
        pool("q", { addresses: ["192.0.2.0/28"], serviceAllocation: { priority: 1 } }),
      );
      const out: unknown[] = [];
      for (let i = 0; i < 30; i++) out.push(a.assign(i % 3 ? req("ns", `s${i}`) : dual("ns", `s${i}`)));
      for (let i = 0; i < 30; i += 4) a.release(`ns/s${i}`);
      for (let i = 30; i < 40; i++) out.push(a.assign(req("ns", `s${i}`)));
      return [out, a.assignments()];
    };
    expect(run()).toEqual(run());
  });
});
