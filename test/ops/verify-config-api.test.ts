// `floatip verify` against a real API server reads the MetalLB v0.16 objects and the interfaces the
// speakers publish: an Invalid ConfigurationState, a sharing Service that a serviceSelectors
// advertisement never announces, and an interface no node has are FAIL rows with their fix.
// No speaker, controller or traffic: the objects are written as the components would write them.
import * as k8s from "@kubernetes/client-node";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../src/common/wait.js";
import { formatReport, verify, type VerifyReport } from "../../src/ops/verify.js";
import { repoRoot } from "../../testenv/binaries.js";
import { installCrds } from "../../testenv/kubectl.js";
import type { KubeApi } from "../../src/kube/api.js";
import { kubeApiFor, startTestCluster, type TestCluster } from "../support/cluster.js";

const NS = "metallb-system";
const POOL = "envoy-gateway-pool";
const VIP = "203.0.113.50";
const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const crd = { group: "metallb.io", version: "v1beta1", namespace: NS };

describe(
  "verify reads ConfigurationStates, v0.16 advertisement fields and node interfaces",
  { timeout: 120_000 },
  () => {
    let tc: TestCluster;
    let api: KubeApi;
    let custom: k8s.CustomObjectsApi;
    let coordination: k8s.CoordinationV1Api;

    const create = (plural: string, body: object) =>
      custom.createNamespacedCustomObject({ ...crd, plural, body });
    const run = (): Promise<VerifyReport> =>
      verify(api, {
        namespace: NS,
        lbClass: "metallb",
        service: "envoy-gateway-system/envoy",
        nodes: ["master-0", "master-1"],
        http: false,
        httpTimeoutMs: 1000,
      });
    const row = (r: VerifyReport, check: string) => r.checks.find((c) => c.check === check);

    beforeAll(async () => {
      tc = await startTestCluster();
      api = await kubeApiFor(tc);
      custom = tc.kc.makeApiClient(k8s.CustomObjectsApi);
      coordination = tc.kc.makeApiClient(k8s.CoordinationV1Api);
      await installCrds(tc.cp, [join(repoRoot(), "deploy", "crds")]);
      for (const name of [NS, "envoy-gateway-system"])
        await tc.core.createNamespace({ body: { metadata: { name } } });
      for (const plural of ["ipaddresspools", "l2advertisements", "configurationstates", "servicel2statuses"])
        await waitFor(
          `the API server to serve ${plural}`,
          () => custom.listNamespacedCustomObject({ ...crd, plural }).then(() => true),
          60_000,
        );
      for (const [name, zone] of [
        ["master-0", "a"],
        ["master-1", "b"],
      ] as const)
        await tc.core.createNode({ body: { metadata: { name, labels: { zone } } } });
      // master-0's speaker publishes its interfaces; master-1's is older and does not.
      const lease = (node: string, annotations: Record<string, string>): k8s.V1Lease => ({
        metadata: {
          name: `floatip-speaker-${node}`,
          labels: { "floatip.io/speaker-lease": "true" },
          annotations,
        },
        spec: { holderIdentity: node, leaseDurationSeconds: 600, renewTime: new k8s.V1MicroTime() },
      });
      await coordination.createNamespacedLease({
        namespace: NS,
        body: lease("master-0", { "floatip.io/lb-class": "metallb", "floatip.io/interfaces": "ens3,eth1" }),
      });
      await coordination.createNamespacedLease({
        namespace: NS,
        body: lease("master-1", { "floatip.io/lb-class": "metallb" }),
      });

      await create("ipaddresspools", {
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        metadata: { name: POOL },
        spec: { addresses: [`${VIP}/32`], autoAssign: false },
      });
      await create("l2advertisements", {
        apiVersion: "metallb.io/v1beta1",
        kind: "L2Advertisement",
        metadata: { name: "envoy-only" },
        spec: {
          ipAddressPools: [POOL],
          interfaces: ["ens4"],
          serviceSelectors: [{ matchLabels: { app: "envoy" } }],
        },
      });
      await create("configurationstates", {
        apiVersion: "metallb.io/v1beta1",
        kind: "ConfigurationState",
        metadata: { name: "speaker-master-0" },
      });
      await custom.patchNamespacedCustomObjectStatus(
        {
          ...crd,
          plural: "configurationstates",
          name: "speaker-master-0",
          body: {
            status: {
              result: "Invalid",
              errorSummary: "IPAddressPool other: spec.addresses[0] is not a CIDR",
            },
          },
        },
        merge,
      );

      await tc.core.createNamespacedService({
        namespace: "envoy-gateway-system",
        body: {
          metadata: {
            name: "envoy",
            labels: { app: "envoy" },
            annotations: { "metallb.io/allow-shared-ip": "edge", "metallb.io/ip-allocated-from-pool": POOL },
          },
          spec: { type: "LoadBalancer", loadBalancerClass: "metallb", ports: [{ port: 80 }] },
        },
      });
      await tc.core.patchNamespacedServiceStatus(
        {
          namespace: "envoy-gateway-system",
          name: "envoy",
          body: { status: { loadBalancer: { ingress: [{ ip: VIP }] } } },
        },
        merge,
      );
    }, 300_000);

    afterAll(async () => {
      api?.close();
      await tc?.cp.stop();
    });

    it("fails each with its fix; says unknown for the speaker that does not publish", async () => {
      const r = await run();
      const text = formatReport(r);
      expect(r.ok).toBe(false);
      expect(row(r, "ConfigurationState")).toMatchObject({
        status: "fail",
        detail: "speaker-master-0 Invalid: IPAddressPool other: spec.addresses[0] is not a CIDR",
      });
      expect(row(r, "advertisements of the pool")?.status).toBe("fail");
      expect(row(r, "advertisements of the pool")?.detail).toContain(
        "envoy-gateway-system/envoy carries allow-shared-ip and envoy-only select it by serviceSelectors",
      );
      // master-1 is unknown, so ens4 missing on master-0 alone is a warning, not a failure.
      expect(row(r, "L2Advertisement interfaces")).toMatchObject({ status: "warn" });
      expect(row(r, "L2Advertisement interfaces")?.detail).toContain("unknown for master-1");
      expect(text).toMatch(/FAIL {2}ConfigurationState +speaker-master-0 Invalid/);
      expect(text).toContain("fix: Remove allow-shared-ip from the Service");
    });

    it("an interface no node has is a FAIL once every selected node publishes, listing what they have", async () => {
      await coordination.patchNamespacedLease(
        {
          name: "floatip-speaker-master-1",
          namespace: NS,
          body: { metadata: { annotations: { "floatip.io/interfaces": "ens3" } } },
        },
        merge,
      );
      const r = await run();
      expect(row(r, "L2Advertisement interfaces")).toMatchObject({
        status: "fail",
        detail: "envoy-only names ens4, which no selected node has (master-0: ens3,eth1; master-1: ens3)",
      });
      expect(formatReport(r)).toMatch(
        /FAIL {2}L2Advertisement interfaces[^\n]*\n\s+fix: name interfaces the nodes have/,
      );
    });

    it("passes them once the objects are fixed", async () => {
      await custom.patchNamespacedCustomObject(
        {
          ...crd,
          plural: "l2advertisements",
          name: "envoy-only",
          body: { spec: { interfaces: ["ens3"], serviceSelectors: null } },
        },
        merge,
      );
      await custom.patchNamespacedCustomObjectStatus(
        {
          ...crd,
          plural: "configurationstates",
          name: "speaker-master-0",
          body: { status: { result: "Valid", errorSummary: "" } },
        },
        merge,
      );
      const r = await run();
      for (const check of ["ConfigurationState", "advertisements of the pool", "L2Advertisement interfaces"])
        expect(row(r, check)?.status, check).toBe("pass");
    });
  },
);
