import * as k8s from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../testenv/binaries.js";
import { installCrds } from "../../testenv/kubectl.js";
import { apiErrorCode, apiErrorMessage, startTestCluster, type TestCluster } from "../support/cluster.js";

const thirdParty = join(repoRoot(), "..", "shared", "third-party", "crds");

describe("real kube-apiserver test environment", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });

  afterAll(async () => {
    await cluster?.cp.stop();
  });

  it("serves the pinned version and authenticates the admin as system:masters", async () => {
    const version = await cluster.kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const review = await cluster.kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { verb: "delete", resource: "nodes" } } },
    });
    expect(review.status?.allowed).toBe(true);
  });

  it("rejects changing spec.loadBalancerClass once set, with the API server's own message", async () => {
    const created = await cluster.core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "envoy-lb" },
        spec: { type: "LoadBalancer", loadBalancerClass: "metallb", ports: [{ port: 80, protocol: "TCP" }] },
      },
    });
    expect(created.spec?.loadBalancerClass).toBe("metallb");
    const err = await cluster.core
      .patchNamespacedService(
        {
          name: "envoy-lb",
          namespace: "default",
          body: [{ op: "replace", path: "/spec/loadBalancerClass", value: "other" }],
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiErrorCode(err)).toBe(422);
    expect(apiErrorMessage(err)).toContain("may not change once set");
  });

  it("rejects a Lease update carrying a stale resourceVersion (compare-and-swap)", async () => {
    const leases = cluster.kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = await leases.createNamespacedLease({
      namespace: "default",
      body: {
        metadata: { name: "node-master-0" },
        spec: { holderIdentity: "master-0", leaseDurationSeconds: 2 },
      },
    });
    const stale = structuredClone(lease);
    const renewed = await leases.replaceNamespacedLease({
      name: "node-master-0",
      namespace: "default",
      body: { ...lease, spec: { ...lease.spec, renewTime: new k8s.V1MicroTime() } },
    });
    expect(renewed.metadata?.resourceVersion).not.toBe(lease.metadata?.resourceVersion);
    const err = await leases
      .replaceNamespacedLease({
        name: "node-master-0",
        namespace: "default",
        body: { ...stale, spec: { ...stale.spec, holderIdentity: "master-1" } },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiErrorCode(err)).toBe(409);
    expect(apiErrorMessage(err)).toContain("the object has been modified");
  });

  describe.skipIf(!existsSync(thirdParty))("third-party CRDs (../shared/third-party)", () => {
    const envoyProxy = (spec: object) => ({
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "EnvoyProxy",
      metadata: { name: "custom-proxy-config", namespace: "default" },
      spec,
    });

    beforeAll(async () => {
      const names = await installCrds(cluster.cp, [
        join(thirdParty, "gateway-api-standard.yaml"),
        join(thirdParty, "gateway.envoyproxy.io_envoyproxies.yaml"),
      ]);
      expect(names).toContain(
        "customresourcedefinition.apiextensions.k8s.io/envoyproxies.gateway.envoyproxy.io",
      );
    });

    it("accepts the seed's EnvoyProxy and rejects an invalid one with a schema error", async () => {
      const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kc);
      const valid = envoyProxy({
        logging: { level: { default: "warn" } },
        provider: {
          type: "Kubernetes",
          kubernetes: {
            envoyService: {
              externalTrafficPolicy: "Cluster",
              loadBalancerClass: "metallb",
              patch: {
                type: "StrategicMerge",
                value: {
                  metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": "203.0.113.50" } },
                },
              },
            },
          },
        },
      });
      const created = await objects.create(valid as k8s.KubernetesObject);
      expect(created.metadata?.uid).toBeTruthy();

      const invalid = envoyProxy({
        provider: {
          type: "Kubernetes",
          kubernetes: { envoyService: { externalTrafficPolicy: "Sometimes" } },
        },
      });
      invalid.metadata.name = "bad-proxy";
      const err = await objects.create(invalid as k8s.KubernetesObject).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(apiErrorCode(err)).toBe(422);
      expect(apiErrorMessage(err)).toMatch(/externalTrafficPolicy/);
    });
  });
});
