import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckReport } from "../../../src/ops/cloudsigma/check.js";
import { CloudSigmaClient } from "../../../src/ops/cloudsigma/client.js";
import { listControlPlaneNodes } from "../../../src/ops/cloudsigma/kube.js";
import { runCheck } from "../../../src/ops/cloudsigma/run.js";
import type { KubeApi } from "../../../src/kube/api.js";
import { kubeApiFor, startTestCluster, type TestCluster } from "../../support/cluster.js";
import type { FakeCloudSigma } from "../../support/fake-cloudsigma.js";
import { memoryIo, startFixture } from "./fixtures.js";

describe("control-plane nodes from a real kube-apiserver", () => {
  let cluster: TestCluster;
  let api: KubeApi;
  let fake: FakeCloudSigma;

  beforeAll(async () => {
    [cluster, fake] = await Promise.all([startTestCluster(), startFixture()]);
    api = await kubeApiFor(cluster);
    const nodes: [string, Record<string, string>, [string, string][]][] = [
      ["k8s-a", { "node-role.kubernetes.io/control-plane": "" }, [["ExternalIP", "203.0.113.11"]]],
      ["cp-2", { "node-role.kubernetes.io/control-plane": "" }, [["InternalIP", "10.1.0.2"]]],
      ["worker-1", { "node-role.kubernetes.io/worker": "" }, [["ExternalIP", "203.0.113.50"]]],
    ];
    for (const [name, labels, addresses] of nodes) {
      await cluster.core.createNode({ body: { metadata: { name, labels } } });
      // Addresses live in status, which create ignores: write them through /status (merge patch).
      await cluster.core.patchNodeStatus(
        { name, body: { status: { addresses: addresses.map(([type, address]) => ({ type, address })) } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
    }
  });

  afterAll(async () => {
    api?.close();
    await Promise.all([cluster?.cp.stop(), fake?.stop()]);
  });

  it("lists only control-plane nodes with their addresses and matches them to servers", async () => {
    const nodes = await listControlPlaneNodes(api);
    expect(nodes.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: "cp-2", addresses: ["10.1.0.2"] },
      { name: "k8s-a", addresses: ["203.0.113.11"] },
    ]);
    const m = memoryIo();
    const client = new CloudSigmaClient({ apiUrl: fake.url, credentials: fake.credentials });
    const code = await runCheck({
      client,
      servers: [],
      nodes: () => listControlPlaneNodes(api),
      io: m.io,
      floatingIps: ["203.0.113.100"],
      json: true,
    });
    expect(code).toBe(1);
    const report = JSON.parse(m.text()) as CheckReport;
    expect(report.servers.map((s) => [s.node, s.name, s.matchedBy]).sort()).toEqual([
      ["cp-2", "cp-2", "name"],
      ["k8s-a", "cp-1", "ip"],
    ]);
  });
});
