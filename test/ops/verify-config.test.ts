// verify's pure checks of the MetalLB v0.16 objects (ConfigurationState, serviceSelectors,
// preferredNodeSelectors) and of L2Advertisement interfaces against what the speakers publish.
import { describe, expect, it } from "vitest";
import type { L2Advertisement } from "../../src/api/types.js";
import {
  checkConfigurationState,
  checkInterfaces,
  checkServingAdvertisements,
  publishedInterfaces,
} from "../../src/ops/verify-config.js";

const NS = "metallb-system";
const ad = (name: string, spec: L2Advertisement["spec"]): L2Advertisement => ({ metadata: { name }, spec });
const nodes = [
  { name: "master-0", labels: { "kubernetes.io/hostname": "master-0", zone: "a" } },
  { name: "master-1", labels: { "kubernetes.io/hostname": "master-1", zone: "b" } },
];

describe("ConfigurationState", () => {
  it("fails on an Invalid one, showing its summary and the fix", () => {
    const r = checkConfigurationState(
      [
        { metadata: { name: "controller" }, status: { result: "Valid" } },
        {
          metadata: { name: "speaker-master-0" },
          status: {
            result: "Invalid",
            errorSummary: 'L2Advertisement l2: spec.interfaces lists "ens3" twice',
          },
        },
      ],
      NS,
    );
    expect(r.status).toBe("fail");
    expect(r.detail).toBe('speaker-master-0 Invalid: L2Advertisement l2: spec.interfaces lists "ens3" twice');
    expect(r.fix).toContain(`kubectl -n ${NS} get configurationstates -o yaml`);
  });

  it("passes when all are Valid; skips without the CRD or without any", () => {
    const valid = checkConfigurationState(
      [{ metadata: { name: "controller" }, status: { result: "Valid" } }],
      NS,
    );
    expect(valid).toMatchObject({ status: "pass", detail: "controller Valid" });
    expect(checkConfigurationState(undefined, NS)).toMatchObject({
      status: "skip",
      detail: "CRD not installed",
    });
    expect(checkConfigurationState([], NS).status).toBe("skip");
    expect(checkConfigurationState(undefined, NS, "not allowed")).toMatchObject({
      status: "skip",
      detail: "not allowed",
    });
  });
});

describe("the advertisements serving the verified Service's pool", () => {
  const svc = { key: "envoy-gateway-system/envoy", labels: { app: "envoy" } };
  const pool = { name: "envoy-gateway-pool" };
  const sharing = { ...svc, annotations: { "metallb.io/allow-shared-ip": "edge" } };
  const bySelector = ad("only-envoy", {
    ipAddressPools: ["envoy-gateway-pool"],
    serviceSelectors: [{ matchLabels: { app: "envoy" } }],
  });

  it("fails a sharing Service that a serviceSelectors advertisement would never announce", () => {
    const r = checkServingAdvertisements(sharing, pool, [bySelector], nodes, NS);
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("carries allow-shared-ip and only-envoy select it by serviceSelectors");
    expect(r.fix).toContain("Remove allow-shared-ip");
    // Also when the advertisement selects the pool by its labels.
    const byLabel = ad("by-label", {
      ipAddressPoolSelectors: [{ matchLabels: { tier: "edge" } }],
      serviceSelectors: [{ matchLabels: { app: "envoy" } }],
    });
    const labelled = { ...pool, labels: { tier: "edge" } };
    expect(checkServingAdvertisements(sharing, labelled, [byLabel], nodes, NS).status).toBe("fail");
    const plain = ad("plain", { ipAddressPools: ["envoy-gateway-pool"] });
    expect(checkServingAdvertisements(sharing, pool, [plain], nodes, NS).status).toBe("pass");
    expect(checkServingAdvertisements(svc, pool, [bySelector], nodes, NS)).toMatchObject({
      status: "pass",
      detail: "envoy-gateway-system/envoy announced through only-envoy",
    });
  });

  it("fails when the pool's advertisements select other Services only", () => {
    const other = ad("other", {
      ipAddressPools: ["envoy-gateway-pool"],
      serviceSelectors: [{ matchLabels: { app: "web" } }],
    });
    const r = checkServingAdvertisements(svc, pool, [other], nodes, NS);
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("do not match envoy-gateway-system/envoy: it is never announced");
  });

  it("warns, with the fix, when preferredNodeSelectors prefer no node the advertisement selects", () => {
    const typo = ad("prefer", {
      ipAddressPools: ["envoy-gateway-pool"],
      preferredNodeSelectors: [
        { weight: 50, preference: { matchLabels: { zone: "a" } } },
        { weight: 10, preference: { matchLabels: { zone: "c" } } },
      ],
    });
    const r = checkServingAdvertisements(svc, pool, [typo], nodes, NS);
    expect(r.status).toBe("warn");
    expect(r.detail).toContain("prefer: spec.preferredNodeSelectors[1] prefer no node it selects");
    expect(r.fix).toContain(`kubectl -n ${NS} edit l2advertisement prefer`);
    // A preferred node the nodeSelectors exclude counts as matching nothing.
    const excluded = ad("excluded", {
      nodeSelectors: [{ matchLabels: { zone: "b" } }],
      preferredNodeSelectors: [{ weight: 50, preference: { matchLabels: { zone: "a" } } }],
    });
    expect(checkServingAdvertisements(svc, pool, [excluded], nodes, NS).status).toBe("warn");
    const good = ad("good", {
      preferredNodeSelectors: [{ weight: 50, preference: { matchLabels: { zone: "b" } } }],
    });
    expect(checkServingAdvertisements(svc, pool, [good], nodes, NS).status).toBe("pass");
  });
});

describe("L2Advertisement interfaces against the nodes", () => {
  const lease = (
    node: string,
    interfaces?: string,
  ): { metadata: { name: string; annotations: Record<string, string> } } => ({
    metadata: {
      name: `floatip-speaker-${node}`,
      annotations: interfaces === undefined ? {} : { "floatip.io/interfaces": interfaces },
    },
  });

  it("reads what each speaker publishes; no annotation is unknown, a node without a speaker Lease is left out", () => {
    const m = publishedInterfaces(
      [lease("master-0", "ens3,eth1"), lease("master-1")],
      [...nodes, { name: "worker-0" }],
    );
    expect([...m]).toEqual([
      ["master-0", ["ens3", "eth1"]],
      ["master-1", undefined],
    ]);
  });

  it("fails an interface no selected node has, listing what they have", () => {
    const published = publishedInterfaces([lease("master-0", "ens3,eth1"), lease("master-1", "ens3")], nodes);
    const r = checkInterfaces(
      [ad("l2", { interfaces: ["ens4"] }), ad("ok", { interfaces: ["ens3"] })],
      nodes,
      published,
      NS,
    );
    expect(r.status).toBe("fail");
    expect(r.detail).toBe("l2 names ens4, which no selected node has (master-0: ens3,eth1; master-1: ens3)");
    expect(r.fix).toContain(`kubectl -n ${NS} edit l2advertisement`);
    // A node without a speaker (no Lease) announces nothing: it neither helps nor makes it unknown.
    const withWorker = [...nodes, { name: "worker-0" }];
    const r2 = checkInterfaces(
      [ad("l2", { interfaces: ["ens4"] })],
      withWorker,
      publishedInterfaces([lease("master-0", "ens3,eth1"), lease("master-1", "ens3")], withWorker),
      NS,
    );
    expect(r2.status).toBe("fail");
    expect(r2.detail).not.toContain("worker-0");
    // Only the selected nodes count: eth1 is on master-0, which "b-only" does not select.
    const bOnly = ad("b-only", { interfaces: ["eth1"], nodeSelectors: [{ matchLabels: { zone: "b" } }] });
    expect(checkInterfaces([bOnly], nodes, published, NS).detail).toBe(
      "b-only names eth1, which no selected node has (master-1: ens3)",
    );
    expect(checkInterfaces([ad("ok", { interfaces: ["eth1"] })], nodes, published, NS).status).toBe("pass");
  });

  it("says unknown for nodes whose speakers do not publish, and never fails on them", () => {
    const partly = publishedInterfaces([lease("master-0", "ens3"), lease("master-1")], nodes);
    const r = checkInterfaces([ad("l2", { interfaces: ["ens4"] })], nodes, partly, NS);
    expect(r.status).toBe("warn");
    expect(r.detail).toContain("unknown for master-1 (their speakers do not publish interfaces)");
    expect(
      checkInterfaces([ad("l2", { interfaces: ["ens4"] })], nodes, publishedInterfaces([], nodes), NS),
    ).toMatchObject({
      status: "skip",
      detail: "no speaker Lease",
    });
    const none = publishedInterfaces([lease("master-0"), lease("master-1")], nodes);
    expect(checkInterfaces([ad("l2", { interfaces: ["ens4"] })], nodes, none, NS)).toMatchObject({
      status: "skip",
      detail: "unknown for master-0, master-1 (their speakers do not publish interfaces)",
    });
  });
});
