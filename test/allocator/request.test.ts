import { describe, it, expect } from "vitest";
import { requestFromService } from "../../src/allocator/request.js";
import { Allocator } from "../../src/allocator/allocator.js";
import type { Service } from "../../src/api/types.js";
import { pool } from "./helpers.js";

const base = (over: Partial<Service["spec"]> = {}, annotations: Record<string, string> = {}): Service => ({
  metadata: { name: "web", namespace: "shop", labels: { app: "web" }, annotations },
  spec: {
    type: "LoadBalancer",
    ipFamilies: ["IPv4"],
    ipFamilyPolicy: "SingleStack",
    ports: [{ port: 80 }],
    ...over,
  },
});

describe("requestFromService", () => {
  it("reads annotations with either prefix", () => {
    const r = requestFromService(
      base(
        {},
        {
          "metallb.universe.tf/loadBalancerIPs": "203.0.113.5, 2001:db8::5",
          "metallb.io/address-pool": "envoy-gateway-pool",
          "metallb.universe.tf/allow-shared-ip": "k",
        },
      ),
      { team: "a" },
    );
    expect(r).toMatchObject({
      ok: true,
      request: {
        service: { namespace: "shop", name: "web" },
        requestedIPs: ["203.0.113.5", "2001:db8::5"],
        pool: "envoy-gateway-pool",
        sharingKey: "k",
        namespaceLabels: { team: "a" },
        ports: [{ port: 80, protocol: "TCP" }],
        backendKey: "",
      },
    });
  });

  it("spec.loadBalancerIP is honoured", () => {
    expect(requestFromService(base({ loadBalancerIP: "203.0.113.5" }))).toMatchObject({
      ok: true,
      request: { requestedIPs: ["203.0.113.5"] },
    });
  });

  it("annotation and spec.loadBalancerIP together are refused", () => {
    const r = requestFromService(
      base({ loadBalancerIP: "203.0.113.5" }, { "metallb.io/loadBalancerIPs": "203.0.113.6" }),
    );
    expect(r).toMatchObject({ ok: false, reason: "invalid-request" });
    if (!r.ok) expect(r.message).toContain("spec.loadBalancerIP");
  });

  it("families fall back to clusterIPs", () => {
    const r = requestFromService(base({ ipFamilies: [], clusterIPs: ["2001:db8::a", "192.0.2.10"] }));
    expect(r).toMatchObject({ ok: true, request: { ipFamilies: ["IPv6", "IPv4"] } });
    expect(requestFromService(base({ ipFamilies: [] }))).toMatchObject({
      ok: false,
      reason: "invalid-request",
    });
  });

  it("Local traffic policy yields a backend key", () => {
    expect(
      requestFromService(base({ externalTrafficPolicy: "Local", selector: { app: "web" } })),
    ).toMatchObject({
      request: { backendKey: "app=web" },
    });
  });

  it("end to end with the seed pool", () => {
    const a = new Allocator();
    a.setPools([pool("envoy-gateway-pool", { addresses: ["203.0.113.5/32"], autoAssign: false })]);
    const explicit = requestFromService(base({}, { "metallb.io/loadBalancerIPs": "203.0.113.5" }));
    const auto = requestFromService({ ...base(), metadata: { name: "other", namespace: "shop" } });
    if (!explicit.ok || !auto.ok) throw new Error("bad fixture");
    expect(a.assign(auto.request)).toMatchObject({ ok: false, reason: "no-pool" });
    expect(a.assign(explicit.request)).toMatchObject({
      ok: true,
      ips: ["203.0.113.5"],
      pool: "envoy-gateway-pool",
    });
  });

  it("malformed loadBalancerIPs entries surface as invalid-request", () => {
    const a = new Allocator();
    a.setPools([pool("p", { addresses: ["203.0.113.0/24"] })]);
    const r = requestFromService(base({}, { "metallb.io/loadBalancerIPs": "203.0.113.5," }));
    if (!r.ok) throw new Error("bad fixture");
    expect(a.assign(r.request)).toMatchObject({ ok: false, reason: "invalid-request" });
  });
});
