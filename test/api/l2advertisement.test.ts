// L2Advertisement fields of MetalLB v0.16: serviceSelectors and preferredNodeSelectors.
import { describe, expect, it } from "vitest";
import {
  l2AdvertisementPreferredWeight,
  l2AdvertisementSelectsService,
  validateL2Advertisement,
} from "../../src/api/l2advertisement.js";
import type { L2Advertisement } from "../../src/api/types.js";

const ad = (spec: L2Advertisement["spec"]): L2Advertisement => ({ metadata: { name: "a" }, spec });

describe("serviceSelectors", () => {
  it("none selects every Service; otherwise any matching selector", () => {
    expect(l2AdvertisementSelectsService(ad({}), { app: "x" })).toBe(true);
    const only = ad({
      serviceSelectors: [{ matchLabels: { app: "envoy" } }, { matchLabels: { tier: "edge" } }],
    });
    expect(l2AdvertisementSelectsService(only, { app: "envoy" })).toBe(true);
    expect(l2AdvertisementSelectsService(only, { tier: "edge" })).toBe(true);
    expect(l2AdvertisementSelectsService(only, { app: "web" })).toBe(false);
    expect(l2AdvertisementSelectsService(only, undefined)).toBe(false);
  });
});

describe("preferredNodeSelectors", () => {
  const prefs = ad({
    preferredNodeSelectors: [
      { weight: 40, preference: { matchLabels: { zone: "a" } } },
      { weight: 25, preference: { matchExpressions: [{ key: "ssd", operator: "Exists" }] } },
      { weight: 1, preference: {} },
    ],
  });
  it("sums the weights of every matching entry (an empty preference matches every node)", () => {
    expect(l2AdvertisementPreferredWeight(prefs, { zone: "a", ssd: "" })).toBe(66);
    expect(l2AdvertisementPreferredWeight(prefs, { zone: "b" })).toBe(1);
    expect(l2AdvertisementPreferredWeight(ad({}), { zone: "a" })).toBe(0);
  });

  it("validation names weights outside 1-100 and bad preferences", () => {
    const bad = ad({
      preferredNodeSelectors: [
        { weight: 0, preference: {} },
        { weight: 1000, preference: {} },
        { weight: 5, preference: { matchExpressions: [{ key: "zone", operator: "In" }] } },
      ],
    });
    const errors = validateL2Advertisement(bad);
    expect(errors.join("\n")).toContain(
      "spec.preferredNodeSelectors[0].weight must be an integer from 1 to 100, got 0",
    );
    expect(errors.join("\n")).toContain(
      "spec.preferredNodeSelectors[1].weight must be an integer from 1 to 100, got 1000",
    );
    expect(errors.join("\n")).toContain("spec.preferredNodeSelectors[2].preference");
    // Such weights count for nothing if they ever reach the ranking.
    expect(l2AdvertisementPreferredWeight(bad, {})).toBe(0);
  });
});
