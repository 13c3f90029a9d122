// What AllocationFailed tells a tenant: an Event in its own namespace, so no pool it may not use is
// named, nothing says whether such a pool's addresses are taken, and another namespace's Services
// (names, ports, sharing keys) are never described.
import { describe, expect, it } from "vitest";
import { Allocator } from "../../src/allocator/allocator.js";
import type { AssignResult } from "../../src/allocator/types.js";
import { pool, req } from "./helpers.js";

const PLATFORM = "envoy-gateway-system";
const ENVOY_IP = "203.0.113.50";

/** The seed's pool pinned to Envoy's namespace, plus a pool tenants may use. */
function cluster(): Allocator {
  const a = new Allocator();
  a.setPools([
    pool("envoy-gateway-pool", {
      addresses: [`${ENVOY_IP}/32`],
      autoAssign: false,
      serviceAllocation: { namespaces: [PLATFORM] },
    }),
    pool("tenant-pool", { addresses: ["198.51.100.0/30"] }),
  ]);
  const envoy = a.assign(
    req(PLATFORM, "envoy", {
      requestedIPs: [ENVOY_IP],
      sharingKey: "edge",
      ports: [{ port: 443, protocol: "TCP" }],
    }),
  );
  expect(envoy.ok).toBe(true);
  return a;
}

function failure(r: AssignResult): Extract<AssignResult, { ok: false }> {
  if (r.ok) throw new Error(`expected a failure, got ${r.ips.join(",")}`);
  return r;
}

/** Nothing in the message the tenant may not know. */
function expectNothingLeaked(message: string): void {
  expect(message).not.toContain("envoy-gateway-pool");
  expect(message).not.toContain(PLATFORM);
  expect(message).not.toContain("envoy");
  expect(message).not.toMatch(/\b443\b/);
  expect(message).not.toContain("edge");
  expect(message).not.toMatch(/in use|already used|held by/);
}

describe("what AllocationFailed tells a tenant", () => {
  it("the same words for a held and a free address of a pool it may not use", () => {
    const a = cluster();
    const held = failure(a.assign(req("tenant", "x", { requestedIPs: [ENVOY_IP] })));
    a.release(`${PLATFORM}/envoy`);
    const free = failure(a.assign(req("tenant", "x", { requestedIPs: [ENVOY_IP] })));
    expect(held.message).toBe(free.message);
    expectNothingLeaked(held.message);
    // ... and the same words as for an address in no pool at all.
    const nowhere = failure(a.assign(req("tenant", "x", { requestedIPs: ["192.0.2.77"] })));
    expect(nowhere.message.replace("192.0.2.77", ENVOY_IP)).toBe(held.message);
  });

  it("the same words for a pool it may not use and a pool that does not exist", () => {
    const a = cluster();
    const forbidden = failure(a.assign(req("tenant", "x", { pool: "envoy-gateway-pool" })));
    const missing = failure(a.assign(req("tenant", "x", { pool: "no-such-pool" })));
    expect(forbidden.message.replace("envoy-gateway-pool", "no-such-pool")).toBe(missing.message);
    // It repeats only the name the tenant wrote itself.
    expect(forbidden.message).toContain('"envoy-gateway-pool"');
    expect(forbidden.message).not.toMatch(/namespace|serviceAllocation|in use/);
  });

  it("an address named with a pool it may not use says nothing about either", () => {
    const a = cluster();
    const r = failure(
      a.assign(req("tenant", "x", { requestedIPs: ["198.51.100.1"], pool: "envoy-gateway-pool" })),
    );
    expect(r.message).not.toContain("tenant-pool");
    expect(r.message).not.toMatch(/namespace|serviceAllocation/);
  });

  it("sharing keys and ports of another namespace's Service stay hidden", () => {
    const a = new Allocator();
    a.setPools([pool("shared", { addresses: ["198.51.100.8/30"] })]);
    const ip = "198.51.100.9";
    const first = req("team-a", "secret-svc", {
      requestedIPs: [ip],
      sharingKey: "k",
      ports: [{ port: 5432, protocol: "TCP" }],
    });
    expect(a.assign(first).ok).toBe(true);
    const probes = [
      req("team-b", "x", { requestedIPs: [ip] }),
      req("team-b", "x", { requestedIPs: [ip], sharingKey: "other" }),
      req("team-b", "x", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 5432, protocol: "TCP" }] }),
      req("team-b", "x", { requestedIPs: [ip], sharingKey: "k", backendKey: "app=x" }),
    ];
    const messages = probes.map((p) => failure(a.assign(p)).message);
    // One answer whatever the reason, so probing ports or keys learns nothing.
    expect(new Set(messages).size).toBe(1);
    expect(messages[0]).toContain("another namespace");
    expect(messages[0]).not.toMatch(/5432|secret-svc|allow-shared-ip value|port/);
    // Disjoint ports under the same key still share, across namespaces.
    expect(
      a.assign(
        req("team-b", "x", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 80, protocol: "TCP" }] }),
      ),
    ).toMatchObject({ ok: true });
  });

  it("within its own namespace it still gets the precise reason", () => {
    const a = new Allocator();
    a.setPools([pool("shared", { addresses: ["198.51.100.8/30"] })]);
    const ip = "198.51.100.9";
    a.assign(
      req("team", "db", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 5432, protocol: "TCP" }] }),
    );
    const r = failure(
      a.assign(
        req("team", "db2", { requestedIPs: [ip], sharingKey: "k", ports: [{ port: 5432, protocol: "TCP" }] }),
      ),
    );
    expect(r.message).toContain("port 5432/TCP");
    expect(r.message).toContain('Service "db"');
  });

  it("operators get the refusing pool in detail", () => {
    const a = cluster();
    const r = failure(a.assign(req("tenant", "x", { requestedIPs: [ENVOY_IP] })));
    expect(r.reason).toBe("namespace-not-allowed");
    expect(r.detail).toContain("envoy-gateway-pool");
    expect(r.detail).toContain('namespace "tenant"');
  });
});

describe("moving reports the released address", () => {
  it("a Service that changes its requested IP says which one it freed", () => {
    const a = new Allocator();
    a.setPools([pool("p", { addresses: ["198.51.100.0/29"] })]);
    a.assign(req("ns", "svc", { requestedIPs: ["198.51.100.1"] }));
    expect(a.assign(req("ns", "svc", { requestedIPs: ["198.51.100.2"] }))).toMatchObject({
      ok: true,
      ips: ["198.51.100.2"],
      released: ["198.51.100.1"],
    });
    expect(a.assign(req("ns", "svc", { requestedIPs: ["198.51.100.2"] }))).not.toHaveProperty("released");
  });
});
