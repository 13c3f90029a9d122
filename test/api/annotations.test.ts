import { describe, it, expect } from "vitest";
import {
  ANNOTATION_ALLOW_SHARED_IP,
  ANNOTATION_IP_ALLOCATED_FROM_POOL,
  DEPRECATED_ANNOTATION_ADDRESS_POOL,
  DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL,
  annotationKey,
  readAnnotation,
  readAnnotationWithSource,
} from "../../src/api/annotations.js";

describe("annotations", () => {
  it("uses the MetalLB key names", () => {
    expect(ANNOTATION_IP_ALLOCATED_FROM_POOL).toBe("metallb.io/ip-allocated-from-pool");
    expect(DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL).toBe("metallb.universe.tf/ip-allocated-from-pool");
    expect(ANNOTATION_ALLOW_SHARED_IP).toBe("metallb.io/allow-shared-ip");
    expect(DEPRECATED_ANNOTATION_ADDRESS_POOL).toBe("metallb.universe.tf/address-pool");
    expect(annotationKey("loadBalancerIPs")).toBe("metallb.io/loadBalancerIPs");
  });

  it("prefers metallb.io and falls back to metallb.universe.tf", () => {
    expect(readAnnotation({ "metallb.universe.tf/address-pool": "old" }, "address-pool")).toBe("old");
    expect(
      readAnnotation(
        { "metallb.io/address-pool": "new", "metallb.universe.tf/address-pool": "old" },
        "address-pool",
      ),
    ).toBe("new");
    expect(
      readAnnotationWithSource({ "metallb.universe.tf/allow-shared-ip": "k" }, "allow-shared-ip"),
    ).toEqual({
      value: "k",
      key: "metallb.universe.tf/allow-shared-ip",
      deprecated: true,
    });
  });

  it("presence of the stable key wins even when empty", () => {
    expect(
      readAnnotation(
        { "metallb.io/allow-shared-ip": "", "metallb.universe.tf/allow-shared-ip": "k" },
        "allow-shared-ip",
      ),
    ).toBe("");
  });

  it("absent or no annotations", () => {
    expect(readAnnotation(undefined, "address-pool")).toBeUndefined();
    expect(readAnnotation({ other: "x" }, "address-pool")).toBeUndefined();
    // Inherited properties are not annotations.
    expect(
      readAnnotation(
        Object.create({ "metallb.io/address-pool": "x" }) as Record<string, string>,
        "address-pool",
      ),
    ).toBe(undefined);
  });
});
