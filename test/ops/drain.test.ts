import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeApi } from "../../src/kube/api.js";
import { cordon, drain } from "../../src/ops/failover-test.js";
import { kubeApiFor, startTestCluster, type TestCluster } from "../support/cluster.js";
import { monotonicNow } from "../../src/common/clock.js";

describe("drain through the eviction API (kubectl drain --ignore-daemonsets semantics)", () => {
  let cluster: TestCluster;
  let api: KubeApi;

  const pod = (name: string, node: string, extra: Partial<k8s.V1ObjectMeta> = {}): k8s.V1Pod => ({
    metadata: { name, namespace: "default", labels: { app: name }, ...extra },
    spec: { nodeName: node, containers: [{ name: "c", image: "registry.example/envoy:1" }] },
  });

  beforeAll(async () => {
    cluster = await startTestCluster();
    api = await kubeApiFor(cluster);
    for (const name of ["master-0", "master-1"])
      await cluster.core.createNode({ body: { metadata: { name } } });
    await cluster.core.createNamespacedPod({ namespace: "default", body: pod("envoy", "master-0") });
    await cluster.core.createNamespacedPod({
      namespace: "default",
      body: pod("speaker-abc", "master-0", {
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "DaemonSet",
            name: "speaker",
            uid: "0c8a2c1e-5a8e-4c41-9d5e-000000000001",
          },
        ],
      }),
    });
    await cluster.core.createNamespacedPod({ namespace: "default", body: pod("guarded", "master-1") });
    // A running, ready pod whose budget allows no disruption (what the disruption controller would
    // compute; there is no controller-manager in the test environment, so we write its status).
    const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
    await cluster.core.patchNamespacedPodStatus(
      {
        name: "guarded",
        namespace: "default",
        body: { status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } },
      },
      merge,
    );
    const policy = cluster.kc.makeApiClient(k8s.PolicyV1Api);
    const pdb = await policy.createNamespacedPodDisruptionBudget({
      namespace: "default",
      body: {
        metadata: { name: "guarded" },
        spec: { minAvailable: 1, selector: { matchLabels: { app: "guarded" } } },
      },
    });
    await policy.patchNamespacedPodDisruptionBudgetStatus(
      {
        name: "guarded",
        namespace: "default",
        body: {
          status: {
            observedGeneration: pdb.metadata?.generation,
            currentHealthy: 1,
            desiredHealthy: 1,
            disruptionsAllowed: 0,
            expectedPods: 1,
          },
        },
      },
      merge,
    );
  });

  afterAll(async () => {
    api?.close();
    await cluster?.cp.stop();
  });

  it("cordons, evicts ordinary pods and leaves DaemonSet pods alone", async () => {
    const lines: string[] = [];
    await drain(api, "master-0", monotonicNow() + 10_000, (l) => lines.push(l));
    expect((await cluster.core.readNode({ name: "master-0" })).spec?.unschedulable).toBe(true);
    const envoy = await cluster.core
      .readNamespacedPod({ name: "envoy", namespace: "default" })
      .catch(() => undefined);
    // Evicted: gone, or terminating (no kubelet here to finish the deletion).
    expect(envoy === undefined || envoy.metadata?.deletionTimestamp !== undefined).toBe(true);
    const ds = await cluster.core.readNamespacedPod({ name: "speaker-abc", namespace: "default" });
    expect(ds.metadata?.deletionTimestamp).toBeUndefined();
    expect(lines).toContain("evicted default/envoy");
    await cordon(api, "master-0", false);
    expect((await cluster.core.readNode({ name: "master-0" })).spec?.unschedulable ?? false).toBe(false);
  });

  it("reports a node that won't drain (a PodDisruptionBudget refuses) with a clear error", async () => {
    await expect(drain(api, "master-1", monotonicNow() + 2500, () => {})).rejects.toThrow(
      /cannot evict default\/guarded: .*node master-1 won't drain/,
    );
    const guarded = await cluster.core.readNamespacedPod({ name: "guarded", namespace: "default" });
    expect(guarded.metadata?.deletionTimestamp).toBeUndefined();
  });
});
