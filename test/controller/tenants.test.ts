// The controller against a real API server, on what tenants see and MetalLB's small behaviours:
// a waiting Service gets an address another Service frees by moving, metallb.universe.tf/ keys
// draw one deprecatedAnnotation Warning per Service (not one per reconcile), and AllocationFailed
// Events in a tenant's namespace name nothing the tenant may not know.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestCluster } from "../support/cluster.js";
import {
  apply,
  createService,
  ensureNamespace,
  eventsFor,
  ingressIPs,
  readService,
  runController,
  startCrdCluster,
  waitFor,
  waitForEvent,
  type Running,
} from "./support.js";

const pools = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: envoy-gateway-pool, namespace: metallb-system }
spec:
  addresses: [203.0.113.50/32]
  autoAssign: false
  serviceAllocation: { namespaces: [envoy-gateway-system] }
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: shared, namespace: metallb-system }
spec:
  addresses: [198.51.100.20-198.51.100.23]
  autoAssign: false
`;

let cluster: TestCluster;
let running: Running;

beforeAll(async () => {
  cluster = await startCrdCluster();
  for (const ns of ["envoy-gateway-system", "team", "tenant"]) await ensureNamespace(cluster, ns);
  await apply(cluster, pools);
  running = await runController(cluster, "tenants-test");
}, 120_000);

afterAll(async () => {
  await running?.controller.stop();
  await cluster?.cp.stop();
});

const ipOf = async (ns: string, name: string) => ingressIPs(await readService(cluster, ns, name))[0];

describe("an address freed by a move", () => {
  it("goes to the Service waiting for it", async () => {
    const lbIPs = "metallb.io/loadBalancerIPs";
    await createService(cluster, "first", { namespace: "team", annotations: { [lbIPs]: "198.51.100.20" } });
    await waitFor("first's IP", async () => (await ipOf("team", "first")) === "198.51.100.20");
    await createService(cluster, "second", { namespace: "team", annotations: { [lbIPs]: "198.51.100.20" } });
    await waitForEvent(cluster, "team", "second", "AllocationFailed");

    // Nothing about "second" changes: only "first" moves away.
    await cluster.core.patchNamespacedService(
      {
        name: "first",
        namespace: "team",
        body: { metadata: { annotations: { [lbIPs]: "198.51.100.21" } } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await waitFor("first to move", async () => (await ipOf("team", "first")) === "198.51.100.21");
    await waitFor(
      "second to get the freed IP",
      async () => (await ipOf("team", "second")) === "198.51.100.20",
    );
  });
});

describe("deprecatedAnnotation", () => {
  it("is posted once per Service and names the metallb.io key to use", async () => {
    await createService(cluster, "old-keys", {
      namespace: "team",
      annotations: {
        "metallb.universe.tf/loadBalancerIPs": "198.51.100.22",
        "metallb.universe.tf/allow-shared-ip": "k",
      },
    });
    await waitFor("old-keys's IP", async () => (await ipOf("team", "old-keys")) === "198.51.100.22");
    await waitForEvent(cluster, "team", "old-keys", "deprecatedAnnotation");
    // Reconcile it a few more times (label edits are watch events); no new Warning follows.
    for (let i = 0; i < 3; i++) {
      await cluster.core.patchNamespacedService(
        { name: "old-keys", namespace: "team", body: { metadata: { labels: { touch: String(i) } } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      await waitFor("the label edit to be seen", async () => {
        await running.controller.idle();
        return (await readService(cluster, "team", "old-keys")).metadata?.labels?.touch === String(i);
      });
    }
    await running.controller.idle();
    const warnings = (await eventsFor(cluster, "team", "old-keys")).filter(
      (e) => e.reason === "deprecatedAnnotation",
    );
    expect(warnings.map((e) => e.message).sort()).toEqual([
      "Service uses deprecated annotation metallb.universe.tf/allow-shared-ip; rename it to metallb.io/allow-shared-ip (same value)",
      "Service uses deprecated annotation metallb.universe.tf/loadBalancerIPs; rename it to metallb.io/loadBalancerIPs (same value)",
    ]);
    expect(warnings.every((e) => e.type === "Warning" && (e.count ?? 1) === 1)).toBe(true);
  });
});

describe("AllocationFailed in a tenant's namespace", () => {
  it("does not tell whether the platform's address is in use, nor name its pool", async () => {
    await createService(cluster, "envoy", {
      namespace: "envoy-gateway-system",
      annotations: { "metallb.io/loadBalancerIPs": "203.0.113.50" },
    });
    await waitFor("envoy's IP", async () => (await ipOf("envoy-gateway-system", "envoy")) === "203.0.113.50");
    await createService(cluster, "by-ip", {
      namespace: "tenant",
      annotations: { "metallb.io/loadBalancerIPs": "203.0.113.50" },
    });
    await createService(cluster, "by-pool", {
      namespace: "tenant",
      annotations: { "metallb.io/address-pool": "envoy-gateway-pool" },
    });
    const byIP = await waitForEvent(cluster, "tenant", "by-ip", "AllocationFailed");
    const byPool = await waitForEvent(cluster, "tenant", "by-pool", "AllocationFailed");
    expect(byIP.message).toBe(
      "requested IP 203.0.113.50 is not in any pool this Service may use; pick an address from such a pool or let one be assigned",
    );
    expect(byIP.message).not.toMatch(/envoy|in use|another namespace/);
    expect(byPool.message).toContain("does not exist or which this Service may not use");
    expect(await ipOf("tenant", "by-ip")).toBeUndefined();
    // The operator's log has the reason.
    const logged = running.logs.events("allocationFailed").find((l) => l.service === "tenant/by-ip");
    expect(String(logged?.detail)).toContain("envoy-gateway-pool");
  });
});

describe("the controller's ConfigurationState", () => {
  it("says Valid, then Invalid with the ignored pool, then Valid again", async () => {
    const custom = cluster.kc.makeApiClient(k8s.CustomObjectsApi);
    const read = async () =>
      (await custom.getNamespacedCustomObject({
        group: "metallb.io",
        version: "v1beta1",
        namespace: "metallb-system",
        plural: "configurationstates",
        name: "controller",
      })) as {
        metadata: { labels?: Record<string, string> };
        status?: { result?: string; errorSummary?: string };
      };
    const valid = await waitFor("Valid", async () =>
      (await read()).status?.result === "Valid" ? read() : undefined,
    );
    expect(valid.metadata.labels).toEqual({ "metallb.io/component-type": "controller" });
    // Overlaps the older pool "shared": the API server accepts it, the controller ignores it.
    // creationTimestamp has 1 s resolution and a tie is broken by name: this name sorts after "shared".
    await apply(
      cluster,
      `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: z-overlapping, namespace: metallb-system }
spec: { addresses: [198.51.100.23/32] }
`,
    );
    const invalid = await waitFor("Invalid", async () => {
      const cs = await read();
      return cs.status?.result === "Invalid" ? cs : undefined;
    });
    expect(invalid.status?.errorSummary).toContain("IPAddressPool z-overlapping: ");
    await custom.deleteNamespacedCustomObject({
      group: "metallb.io",
      version: "v1beta1",
      namespace: "metallb-system",
      plural: "ipaddresspools",
      name: "z-overlapping",
    });
    await waitFor("Valid again", async () => (await read()).status?.result === "Valid");
  });
});
