import { describe, it, expect } from "vitest";
import {
  canonicalSelector,
  matchesLabelSelector,
  validateLabelKey,
  validateLabelSelector,
} from "../../src/api/labelselector.js";

describe("label selectors", () => {
  const labels = { app: "web", tier: "front" };

  it("empty selector matches everything", () => {
    expect(matchesLabelSelector({}, labels)).toBe(true);
    expect(matchesLabelSelector({}, undefined)).toBe(true);
  });

  it("matchLabels needs every pair", () => {
    expect(matchesLabelSelector({ matchLabels: { app: "web" } }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { app: "web", tier: "back" } }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchLabels: { missing: "" } }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchLabels: { missing: "" } }, { missing: "" })).toBe(true);
  });

  it("In / NotIn / Exists / DoesNotExist", () => {
    const m = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", key: string, values?: string[]) =>
      matchesLabelSelector({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] }, labels);
    expect(m("In", "app", ["web", "db"])).toBe(true);
    expect(m("In", "app", ["db"])).toBe(false);
    expect(m("In", "nope", ["web"])).toBe(false);
    expect(m("NotIn", "app", ["db"])).toBe(true);
    expect(m("NotIn", "app", ["web"])).toBe(false);
    expect(m("NotIn", "nope", ["web"])).toBe(true);
    expect(m("Exists", "tier")).toBe(true);
    expect(m("Exists", "nope")).toBe(false);
    expect(m("DoesNotExist", "nope")).toBe(true);
    expect(m("DoesNotExist", "app")).toBe(false);
  });

  it("terms are ANDed", () => {
    expect(
      matchesLabelSelector(
        {
          matchLabels: { app: "web" },
          matchExpressions: [{ key: "tier", operator: "In", values: ["back"] }],
        },
        labels,
      ),
    ).toBe(false);
  });

  it("validates operators, values and keys", () => {
    expect(validateLabelSelector({ matchExpressions: [{ key: "a", operator: "In" }] })[0]).toContain(
      "at least one value",
    );
    expect(
      validateLabelSelector({ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] })[0],
    ).toContain("must not have values");
    expect(
      validateLabelSelector({ matchExpressions: [{ key: "a", operator: "in" as "In", values: ["x"] }] })[0],
    ).toContain("case-sensitive");
    expect(validateLabelSelector({ matchLabels: { "bad key": "x" } })).toHaveLength(1);
    expect(validateLabelSelector({ matchLabels: { ok: "bad value!" } })).toHaveLength(1);
    expect(validateLabelKey("example.com/name")).toBeUndefined();
    expect(validateLabelKey("Example.com/name")).toBeDefined();
    expect(validateLabelKey("a".repeat(64))).toBeDefined();
    expect(validateLabelSelector({ matchLabels: { "kubernetes.io/metadata.name": "default" } })).toEqual([]);
  });

  it("invalid selectors match nothing (fail closed)", () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: "app", operator: "NotIn" }] }, labels)).toBe(
      false,
    );
  });

  it("canonical form ignores ordering", () => {
    expect(canonicalSelector({ matchLabels: { b: "2", a: "1" } })).toBe(
      canonicalSelector({ matchLabels: { a: "1", b: "2" } }),
    );
    expect(canonicalSelector({ matchExpressions: [{ key: "k", operator: "In", values: ["y", "x"] }] })).toBe(
      canonicalSelector({ matchExpressions: [{ key: "k", operator: "In", values: ["x", "y"] }] }),
    );
  });
});
