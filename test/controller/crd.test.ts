// The CRD schemas reject malformed pools and advertisements at the API server, with messages that
// say what to write instead. (What CEL cannot check, e.g. reversed IPv6 ranges, the controller reports.)
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiErrorCode, apiErrorMessage, type TestCluster } from "../support/cluster.js";
import { NS, startCrdCluster } from "./support.js";

describe("CRD validation", () => {
  let cluster: TestCluster;
  let objects: k8s.KubernetesObjectApi;
  let n = 0;

  const create = async (kind: "IPAddressPool" | "L2Advertisement", spec: object): Promise<unknown> =>
    objects
      .create({
        apiVersion: "metallb.io/v1beta1",
        kind,
        metadata: { name: `obj-${n++}`, namespace: NS },
        spec,
      } as k8s.KubernetesObject)
      .then(
        () => undefined,
        (e: unknown) => e,
      );

  beforeAll(async () => {
    cluster = await startCrdCluster();
    objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kc);
  });

  afterAll(async () => {
    await cluster?.cp.stop();
  });

  it("accepts the seed's objects and the documented address forms", async () => {
    expect(
      await create("IPAddressPool", { addresses: ["203.0.113.50/32"], autoAssign: false }),
    ).toBeUndefined();
    expect(
      await create("IPAddressPool", {
        addresses: [
          "198.51.100.10 - 198.51.100.20",
          "192.0.2.7-192.0.2.7",
          "2001:db8::/120",
          "2001:db8:1::1-2001:db8:1::9",
        ],
        serviceAllocation: {
          priority: 10,
          namespaces: ["envoy-gateway-system"],
          serviceSelectors: [{ matchLabels: { "app.kubernetes.io/name": "envoy" } }],
          namespaceSelectors: [{ matchExpressions: [{ key: "team", operator: "In", values: ["edge"] }] }],
        },
      }),
    ).toBeUndefined();
    expect(
      await create("L2Advertisement", {
        ipAddressPools: ["envoy-gateway-pool"],
        interfaces: ["ens3", "br-ext-cloud"],
      }),
    ).toBeUndefined();
  });

  it.each([
    ["prefix too long", "203.0.113.0/33", "must be a CIDR like 203.0.113.5/32"],
    ["no prefix", "203.0.113.5", "must be a CIDR like 203.0.113.5/32"],
    ["octet out of range", "203.0.113.300/32", "must be a CIDR"],
    ["not an address", "envoy", "must be a CIDR"],
    ["reversed IPv4 range", "203.0.113.20-203.0.113.10", "an IPv4 range must not start after it ends"],
    ["mixed families", "203.0.113.1-2001:db8::1", "two addresses of the same family"],
    ["three parts", "203.0.113.1-203.0.113.2-203.0.113.3", "two addresses of the same family"],
    ["range end invalid", "203.0.113.1-203.0.113.256", "two addresses of the same family"],
  ])("rejects pool addresses: %s", async (_what, address, message) => {
    const err = await create("IPAddressPool", { addresses: [address] });
    expect(apiErrorCode(err)).toBe(422);
    expect(apiErrorMessage(err)).toContain("spec.addresses[0]");
    expect(apiErrorMessage(err)).toContain(message);
  });

  it("rejects an empty address list and a negative priority", async () => {
    expect(apiErrorMessage(await create("IPAddressPool", { addresses: [] }))).toContain("spec.addresses");
    const err = await create("IPAddressPool", {
      addresses: ["203.0.113.0/30"],
      serviceAllocation: { priority: -1 },
    });
    expect(apiErrorMessage(err)).toContain("spec.serviceAllocation.priority");
  });

  it.each([
    [
      "lower-case operator",
      { matchExpressions: [{ key: "app", operator: "in", values: ["a"] }] },
      'Unsupported value: "in"',
    ],
    ["In without values", { matchExpressions: [{ key: "app", operator: "In" }] }, "In and NotIn need values"],
    [
      "Exists with values",
      { matchExpressions: [{ key: "app", operator: "Exists", values: ["a"] }] },
      "Exists and DoesNotExist take none",
    ],
    [
      "upper-case key prefix",
      { matchExpressions: [{ key: "Foo/bar", operator: "Exists" }] },
      "label keys are an optional DNS subdomain prefix",
    ],
    ["bad matchLabels key", { matchLabels: { "bad key!": "x" } }, "matchLabels: label keys"],
    ["bad matchLabels value", { matchLabels: { app: "-x" } }, "matchLabels: label values"],
    [
      "bad expression value",
      { matchExpressions: [{ key: "app", operator: "In", values: ["a b"] }] },
      "values[0]",
    ],
  ])("rejects bad selectors: %s", async (_what, selector, message) => {
    const pool = await create("IPAddressPool", {
      addresses: ["203.0.113.0/30"],
      serviceAllocation: { serviceSelectors: [selector] },
    });
    expect(apiErrorCode(pool)).toBe(422);
    expect(apiErrorMessage(pool)).toContain("spec.serviceAllocation.serviceSelectors[0]");
    expect(apiErrorMessage(pool)).toContain(message);
    const adv = await create("L2Advertisement", { nodeSelectors: [selector] });
    expect(apiErrorCode(adv)).toBe(422);
    expect(apiErrorMessage(adv)).toContain(message);
  });

  it("accepts MetalLB v0.16's serviceSelectors and preferredNodeSelectors", async () => {
    expect(
      await create("L2Advertisement", {
        ipAddressPools: ["envoy-gateway-pool"],
        serviceSelectors: [{ matchLabels: { "app.kubernetes.io/name": "envoy" } }],
        preferredNodeSelectors: [
          { weight: 1, preference: { matchLabels: { zone: "a" } } },
          { weight: 100, preference: { matchExpressions: [{ key: "gpu", operator: "DoesNotExist" }] } },
        ],
      }),
    ).toBeUndefined();
  });

  it.each([
    ["weight 0", { weight: 0, preference: {} }, "weight must be between 1 and 100"],
    ["weight 1000", { weight: 1000, preference: {} }, "weight must be between 1 and 100"],
    ["no weight", { preference: {} }, "weight: Required value"],
    ["no preference", { weight: 5 }, "preference: Required value"],
    [
      "a bad preference",
      { weight: 5, preference: { matchExpressions: [{ key: "zone", operator: "In" }] } },
      "In and NotIn need values",
    ],
  ])("rejects preferredNodeSelectors with %s", async (_what, entry, message) => {
    const err = await create("L2Advertisement", { preferredNodeSelectors: [entry] });
    expect(apiErrorCode(err)).toBe(422);
    expect(apiErrorMessage(err)).toContain("spec.preferredNodeSelectors[0]");
    expect(apiErrorMessage(err)).toContain(message);
  });

  it("rejects a bad serviceSelector like the other selectors", async () => {
    const err = await create("L2Advertisement", { serviceSelectors: [{ matchLabels: { app: "-x" } }] });
    expect(apiErrorCode(err)).toBe(422);
    expect(apiErrorMessage(err)).toContain("spec.serviceSelectors[0]");
  });

  it("serves ConfigurationState with a status subresource and checks its result", async () => {
    await objects.create({
      apiVersion: "metallb.io/v1beta1",
      kind: "ConfigurationState",
      metadata: { name: "controller", namespace: NS },
    } as k8s.KubernetesObject);
    const custom = cluster.kc.makeApiClient(k8s.CustomObjectsApi);
    const patch = (status: object) =>
      custom
        .patchNamespacedCustomObjectStatus(
          {
            group: "metallb.io",
            version: "v1beta1",
            namespace: NS,
            plural: "configurationstates",
            name: "controller",
            body: { status },
          },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
    expect(await patch({ result: "Valid" })).toBeUndefined();
    const bad = await patch({ result: "Broken" });
    expect(apiErrorCode(bad)).toBe(422);
    expect(apiErrorMessage(bad)).toContain("status.result");
  });

  it("rejects interface names that cannot exist", async () => {
    const err = await create("L2Advertisement", { interfaces: ["eth0/1"] });
    expect(apiErrorCode(err)).toBe(422);
    expect(apiErrorMessage(err)).toContain("spec.interfaces[0]");
  });
});
