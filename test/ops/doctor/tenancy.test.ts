// doctor: a pool holding the platform IP open to any namespace, and the MetalLB v0.16 objects.
import { describe, expect, it } from "vitest";
import {
  checkConfigurationStates,
  checkPreferredNodes,
  checkSharedWithServiceSelectors,
} from "../../../src/ops/doctor/checks/configstate.js";
import { checkPlatformPoolPinned } from "../../../src/ops/doctor/checks/tenancy.js";
import type { IPAddressPool } from "../../../src/api/types.js";
import { node, pool, served, snapshot } from "./builders.js";

const VIP = "203.0.113.50";
const envoy = () =>
  served("envoy-envoy-gateway-system-eg-5d3f1c2a", VIP, "envoy-gateway-pool", { ns: "envoy-gateway-system" });
const withAllocation = (sa: NonNullable<IPAddressPool["spec"]["serviceAllocation"]>): IPAddressPool => {
  const p = pool("envoy-gateway-pool", [`${VIP}/32`], false);
  return { ...p, spec: { ...p.spec, serviceAllocation: sa } };
};

describe("checkPlatformPoolPinned", () => {
  it("warns about the seed's pool, which any namespace may use, and gives the patch", () => {
    const f = checkPlatformPoolPinned(
      snapshot({ services: [envoy()], pools: [pool("envoy-gateway-pool", [`${VIP}/32`], false)] }),
    );
    expect(f.map((x) => `${x.severity}:${x.check}:${x.object.name}`)).toEqual([
      "warning:platform-pool-open:envoy-gateway-pool",
    ]);
    expect(f[0]!.explanation).toContain(`holds ${VIP} of the platform Service envoy-gateway-system/`);
    expect(f[0]!.fix).toContain(`"serviceAllocation":{"namespaces":["envoy-gateway-system"]}`);
  });

  it("is quiet once the pool is pinned by name or by namespace selector", () => {
    for (const sa of [
      { namespaces: ["envoy-gateway-system"] },
      { namespaceSelectors: [{ matchLabels: { "kubernetes.io/metadata.name": "envoy-gateway-system" } }] },
    ]) {
      expect(checkPlatformPoolPinned(snapshot({ services: [envoy()], pools: [withAllocation(sa)] }))).toEqual(
        [],
      );
    }
  });

  it("still warns when only serviceSelectors restrict it (labels are the tenant's to choose)", () => {
    const sa = { serviceSelectors: [{ matchLabels: { "app.kubernetes.io/name": "envoy" } }] };
    const f = checkPlatformPoolPinned(snapshot({ services: [envoy()], pools: [withAllocation(sa)] }));
    expect(f[0]?.explanation).toContain("no namespace term restricts it");
  });

  it("ignores pools that serve only tenants", () => {
    const tenant = served("web", "198.51.100.1", "general", { ns: "project-a" });
    expect(
      checkPlatformPoolPinned(
        snapshot({ services: [tenant], pools: [pool("general", ["198.51.100.0/30"])] }),
      ),
    ).toEqual([]);
  });
});

describe("MetalLB v0.16 objects", () => {
  it("reports a ConfigurationState that says Invalid, with its summary", () => {
    const f = checkConfigurationStates(
      snapshot({
        configurationStates: [
          { metadata: { name: "controller" }, status: { result: "Valid" } },
          {
            metadata: { name: "speaker-master-0" },
            status: { result: "Invalid", errorSummary: "IPAddressPool bad: missing prefix length" },
          },
        ],
      }),
    );
    expect(f.map((x) => `${x.severity}:${x.check}:${x.object.name}`)).toEqual([
      "error:configuration-invalid:speaker-master-0",
    ]);
    expect(f[0]!.explanation).toContain("IPAddressPool bad: missing prefix length");
  });

  it("flags a sharing Service selected by serviceSelectors (never announced)", () => {
    const sharing = served("envoy", VIP, "envoy-gateway-pool", {
      ns: "envoy-gateway-system",
      labels: { app: "envoy" },
      annotations: { "metallb.io/allow-shared-ip": "edge" },
    });
    const ad = {
      metadata: { name: "only-envoy", namespace: "metallb-system" },
      spec: { ipAddressPools: ["envoy-gateway-pool"], serviceSelectors: [{ matchLabels: { app: "envoy" } }] },
    };
    const f = checkSharedWithServiceSelectors(snapshot({ services: [sharing], l2Advertisements: [ad] }));
    expect(f.map((x) => x.check)).toEqual(["shared-ip-with-service-selectors"]);
    const plain = { ...ad, spec: { ipAddressPools: ["envoy-gateway-pool"] } };
    expect(
      checkSharedWithServiceSelectors(snapshot({ services: [sharing], l2Advertisements: [plain] })),
    ).toEqual([]);
  });

  it("warns about preferredNodeSelectors that prefer no node the advertisement selects", () => {
    const ad = {
      metadata: { name: "prefer", namespace: "metallb-system" },
      spec: {
        preferredNodeSelectors: [
          { weight: 50, preference: { matchLabels: { zone: "a" } } },
          { weight: 10, preference: { matchLabels: { zone: "typo" } } },
        ],
      },
    };
    const nodes = [node("master-0", { zone: "a" }), node("master-1", { zone: "b" })];
    const f = checkPreferredNodes(snapshot({ nodes, l2Advertisements: [ad] }));
    expect(f.map((x) => `${x.severity}:${x.check}:${x.object.name}`)).toEqual([
      "warning:preferred-nodes-match-nothing:prefer",
    ]);
    expect(f[0]!.explanation).toContain("spec.preferredNodeSelectors[1] prefer no node it selects");
    const good = { ...ad, spec: { preferredNodeSelectors: [ad.spec.preferredNodeSelectors[0]!] } };
    expect(checkPreferredNodes(snapshot({ nodes, l2Advertisements: [good] }))).toEqual([]);
  });
});
