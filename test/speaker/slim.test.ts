import { describe, expect, it } from "vitest";
import type { Service } from "../../src/api/types.js";
import { internalAddress } from "../../src/speaker/forward.js";
import { slimNamespace, slimNode, slimService } from "../../src/speaker/slim.js";
import { planNode } from "../../src/speaker/world.js";

const managedFields = [{ manager: "kubectl", operation: "Update", fieldsV1: { "f:spec": {} } }];

describe("what the speaker's watch caches keep", () => {
  it("a ClusterIP Service: its key, version and type only", () => {
    const svc = {
      metadata: { name: "web", namespace: "a", uid: "u1", resourceVersion: "7", managedFields },
      spec: { type: "ClusterIP", clusterIP: "10.0.0.1", ports: [{ port: 80 }], selector: { app: "web" } },
    };
    expect(slimService(svc)).toEqual({
      metadata: { name: "web", namespace: "a", resourceVersion: "7" },
      spec: { type: "ClusterIP" },
    });
  });

  it("a LoadBalancer: what the planner and the Events read, without kubectl's copy or managedFields", () => {
    const svc = {
      metadata: {
        name: "gw",
        namespace: "a",
        uid: "u2",
        resourceVersion: "9",
        labels: { team: "x" },
        annotations: {
          "metallb.io/ip-allocated-from-pool": "p1",
          "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        },
        managedFields,
      },
      spec: {
        type: "LoadBalancer",
        loadBalancerClass: "metallb",
        externalTrafficPolicy: "Local",
        ports: [{ port: 443 }],
        selector: { app: "gw" },
      },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.1" }] } },
    } as unknown as Service;
    expect(slimService(svc)).toEqual({
      metadata: {
        name: "gw",
        namespace: "a",
        uid: "u2",
        resourceVersion: "9",
        labels: { team: "x" },
        annotations: { "metallb.io/ip-allocated-from-pool": "p1" },
      },
      spec: { type: "LoadBalancer", loadBalancerClass: "metallb", externalTrafficPolicy: "Local" },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.1" }] } },
    });
  });

  it("a Node: labels, cordon, NetworkUnavailable and addresses read the same", () => {
    const node = {
      metadata: { name: "n1", resourceVersion: "3", labels: { zone: "z1" }, managedFields },
      spec: { unschedulable: true, podCIDR: "10.244.0.0/24" },
      status: {
        conditions: [
          { type: "Ready", status: "True" },
          { type: "NetworkUnavailable", status: "True" },
        ],
        addresses: [
          { type: "InternalIP", address: "198.51.100.11" },
          { type: "InternalIP", address: "2001:db8::11" },
          { type: "Hostname", address: "n1" },
        ],
        images: [{ names: ["a"], sizeBytes: 1 }],
      },
    };
    const slim = slimNode(node);
    expect(planNode(slim)).toEqual(planNode(node));
    for (const ip of ["203.0.113.1", "2001:db8::1"])
      expect(internalAddress(slim, ip)).toBe(internalAddress(node, ip));
    expect(JSON.stringify(slim)).not.toContain("images");
  });

  it("a Namespace: its labels", () => {
    expect(
      slimNamespace({ metadata: { name: "a", resourceVersion: "1", labels: { team: "x" }, managedFields } }),
    ).toEqual({ metadata: { name: "a", resourceVersion: "1", labels: { team: "x" } } });
  });
});
