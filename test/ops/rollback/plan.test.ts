import { describe, expect, it } from "vitest";
import type { LocatedProxy } from "../../../src/ops/envoy/locate.js";
import { proxyServiceName, renderProxyService } from "../../../src/ops/envoy/render.js";
import type { EnvoyProxy, Gateway } from "../../../src/ops/envoy/types.js";
import {
  chooseRollbackIP,
  describeRollback,
  planRollback,
  planUninstall,
} from "../../../src/ops/rollback/plan.js";

const VIP = "203.0.113.50";
const gw: Gateway = {
  metadata: { name: "eg", namespace: "default", resourceVersion: "3" },
  spec: { gatewayClassName: "eg", listeners: [{ name: "http", port: 80, protocol: "HTTP" }] },
};
const proxy: EnvoyProxy = {
  metadata: { name: "proxy", namespace: "envoy-gateway-system", resourceVersion: "9" },
  spec: {
    provider: {
      type: "Kubernetes",
      kubernetes: {
        envoyService: {
          externalTrafficPolicy: "Cluster",
          loadBalancerClass: "metallb",
          patch: {
            type: "StrategicMerge",
            value: { metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": VIP } } },
          },
        },
      },
    },
  },
};
const ref = { namespace: "envoy-gateway-system", name: proxyServiceName("default", "eg") };
const migrated = (): LocatedProxy => {
  const service = renderProxyService(gw, proxy, ref.namespace);
  service.metadata.uid = "uid-1";
  service.status = { loadBalancer: { ingress: [{ ip: VIP }] } };
  return {
    serviceRef: ref,
    service,
    gateway: gw,
    gatewayClass: "eg",
    proxy,
    proxyRef: { namespace: "envoy-gateway-system", name: "proxy" },
    proxyVia: "GatewayClass",
  };
};

describe("rollback plan", () => {
  it("takes class and IP off the EnvoyProxy, adds the Gateway address, recreates the Service", () => {
    const plan = planRollback(migrated(), VIP);
    expect(plan.proxyPatch).toEqual({
      metadata: { resourceVersion: "9" },
      spec: {
        provider: {
          kubernetes: {
            envoyService: {
              loadBalancerClass: null,
              patch: {
                value: { metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": null } } },
              },
            },
          },
        },
      },
    });
    expect(plan.gatewayPatch).toEqual({
      metadata: { resourceVersion: "3" },
      spec: { addresses: [{ type: "IPAddress", value: VIP }] },
    });
    expect(plan.deleteService).toEqual({ ref, uid: "uid-1" });
    expect(plan.expected.spec.loadBalancerClass).toBeUndefined();
    expect(plan.expected.spec.externalIPs).toEqual([VIP]);
    expect(plan.done).toBe(false);
  });

  it("takes the IP from the status, else the EnvoyProxy; --external-ip wins", () => {
    expect(chooseRollbackIP(migrated())).toEqual({ ip: VIP });
    expect(chooseRollbackIP({ ...migrated(), service: undefined })).toEqual({ ip: VIP });
    expect(chooseRollbackIP(migrated(), "203.0.113.7")).toEqual({ ip: "203.0.113.7" });
    expect(chooseRollbackIP(migrated(), "x").error).toContain("not an IP address");
  });

  it("uninstall: Helm when a release exists, else the labelled workloads", () => {
    expect(planUninstall("metallb-system", "floatip", 2, "app.kubernetes.io/name=floatip", [])).toMatchObject(
      { helmRelease: "floatip" },
    );
    const u = planUninstall("metallb-system", "floatip", 0, "app.kubernetes.io/name=floatip", [
      { kind: "DaemonSet", metadata: { name: "floatip-speaker", namespace: "metallb-system" } },
    ]);
    expect(u.workloads).toEqual([
      { kind: "DaemonSet", ref: { namespace: "metallb-system", name: "floatip-speaker" } },
    ]);
    const text = describeRollback(undefined, undefined, u, "helm").join("\n");
    expect(text).toContain(
      "delete the floatip workloads labelled app.kubernetes.io/name=floatip in metallb-system: DaemonSet floatip-speaker",
    );
  });
});
