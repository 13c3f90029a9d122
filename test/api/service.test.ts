import { describe, it, expect } from "vitest";
import { backendKey, isServiceForClass, serviceKeyOf, servicePorts } from "../../src/api/service.js";
import {
  l2AdvertisementSelectsNode,
  l2AdvertisementSelectsPool,
  validateL2Advertisement,
} from "../../src/api/l2advertisement.js";
import type { L2Advertisement, Service } from "../../src/api/types.js";

const svc = (spec: Service["spec"]): Service => ({ metadata: { name: "s", namespace: "n" }, spec });

describe("Service helpers", () => {
  it("class filter without --lb-class: only classless LoadBalancers", () => {
    expect(isServiceForClass(svc({ type: "LoadBalancer" }), undefined)).toBe(true);
    expect(isServiceForClass(svc({ type: "LoadBalancer", loadBalancerClass: "other" }), undefined)).toBe(
      false,
    );
    expect(isServiceForClass(svc({ type: "ClusterIP" }), undefined)).toBe(false);
    expect(isServiceForClass(svc({ type: "NodePort" }), "")).toBe(false);
  });

  it("class filter with --lb-class: exactly that class", () => {
    expect(isServiceForClass(svc({ type: "LoadBalancer", loadBalancerClass: "floatip" }), "floatip")).toBe(
      true,
    );
    expect(isServiceForClass(svc({ type: "LoadBalancer" }), "floatip")).toBe(false);
    expect(isServiceForClass(svc({ type: "LoadBalancer", loadBalancerClass: "other" }), "floatip")).toBe(
      false,
    );
  });

  it("ports default to TCP", () => {
    expect(servicePorts(svc({ ports: [{ port: 80 }, { port: 53, protocol: "UDP" }] }))).toEqual([
      { port: 80, protocol: "TCP" },
      { port: 53, protocol: "UDP" },
    ]);
  });

  it("backend key: Local uses the sorted selector, Cluster is empty", () => {
    expect(backendKey(svc({ externalTrafficPolicy: "Local", selector: { b: "2", a: "1" } }))).toBe("a=1,b=2");
    expect(backendKey(svc({ externalTrafficPolicy: "Cluster", selector: { a: "1" } }))).toBe("");
    expect(backendKey(svc({ selector: { a: "1" } }))).toBe("");
  });

  it("service key", () => {
    expect(serviceKeyOf({ metadata: { name: "x", namespace: "y" } })).toBe("y/x");
  });
});

describe("L2Advertisement", () => {
  const adv = (spec: L2Advertisement["spec"]): L2Advertisement => ({ metadata: { name: "a" }, spec });

  it("neither pools nor selectors = all pools", () => {
    expect(l2AdvertisementSelectsPool(adv({}), { name: "any" })).toBe(true);
  });

  it("by name or by selector", () => {
    const a = adv({ ipAddressPools: ["p1"], ipAddressPoolSelectors: [{ matchLabels: { l2: "yes" } }] });
    expect(l2AdvertisementSelectsPool(a, { name: "p1" })).toBe(true);
    expect(l2AdvertisementSelectsPool(a, { name: "p2", labels: { l2: "yes" } })).toBe(true);
    expect(l2AdvertisementSelectsPool(a, { name: "p3", labels: { l2: "no" } })).toBe(false);
    expect(l2AdvertisementSelectsPool(adv({ ipAddressPools: ["p1"] }), { name: "p2" })).toBe(false);
  });

  it("node selectors", () => {
    expect(l2AdvertisementSelectsNode(adv({}), {})).toBe(true);
    const a = adv({ nodeSelectors: [{ matchLabels: { edge: "true" } }] });
    expect(l2AdvertisementSelectsNode(a, { edge: "true" })).toBe(true);
    expect(l2AdvertisementSelectsNode(a, { edge: "false" })).toBe(false);
  });

  it("validation", () => {
    expect(validateL2Advertisement(adv({ ipAddressPools: ["a", "a"], interfaces: ["eth0"] }))).toEqual([
      'spec.ipAddressPools lists "a" twice',
    ]);
    expect(
      validateL2Advertisement(adv({ nodeSelectors: [{ matchExpressions: [{ key: "k", operator: "In" }] }] })),
    ).toHaveLength(1);
  });
});
