import { describe, expect, it } from "vitest";
import { buildPoolSet, poolProblems, poolSpecChanged, poolStatusUpdate } from "../../src/controller/pools.js";
import type { CachedPool } from "../../src/controller/slim.js";

const pool = (
  name: string,
  addresses: string[],
  creationTimestamp: string,
  extra: object = {},
): CachedPool => ({
  metadata: { name, namespace: "metallb-system", creationTimestamp, resourceVersion: "1" },
  spec: { addresses, ...extra },
});

describe("buildPoolSet", () => {
  it("hands pools to the allocator oldest first", () => {
    const set = buildPoolSet([
      pool("b-new", ["198.51.100.0/28"], "2026-03-01T00:00:00Z"),
      pool("a-old", ["203.0.113.0/28"], "2026-01-01T00:00:00Z"),
    ]);
    expect(set.accepted.map((p) => p.name)).toEqual(["a-old", "b-new"]);
    expect(set.rejected).toEqual([]);
  });

  it("ignores the newer of two overlapping pools and reports it without disturbing the others", () => {
    const set = buildPoolSet([
      pool("envoy-gateway-pool", ["203.0.113.50/32"], "2026-01-01T00:00:00Z"),
      pool("copy", ["203.0.113.48/29"], "2026-02-01T00:00:00Z"),
      pool("general", ["198.51.100.0/28"], "2026-03-01T00:00:00Z"),
    ]);
    expect(set.accepted.map((p) => p.name)).toEqual(["envoy-gateway-pool", "general"]);
    const problems = poolProblems(set);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ pool: "copy", type: "Warning", reason: "InvalidConfiguration" });
    expect(problems[0]!.message).toContain('older pool "envoy-gateway-pool"');
  });

  it("reports values the CRD schema cannot catch (reversed IPv6 range)", () => {
    const set = buildPoolSet([pool("v6", ["2001:db8::5-2001:db8::1"], "2026-01-01T00:00:00Z")]);
    expect(set.accepted).toEqual([]);
    expect(poolProblems(set)[0]!.message).toContain("range is reversed");
  });

  it("passes on warnings (host bits set)", () => {
    const set = buildPoolSet([pool("p", ["203.0.113.5/24"], "2026-01-01T00:00:00Z")]);
    expect(set.accepted).toHaveLength(1);
    expect(poolProblems(set)).toEqual([
      expect.objectContaining({
        pool: "p",
        reason: "ConfigurationWarning",
        message: expect.stringContaining("host bits"),
      }),
    ]);
  });
});

describe("pool status", () => {
  const stats = { assignedIPv4: 1, assignedIPv6: 0, availableIPv4: 0, availableIPv6: 0 };

  it("writes only when a counter differs", () => {
    expect(poolStatusUpdate(undefined, stats)).toEqual(stats);
    expect(poolStatusUpdate({ ...stats }, stats)).toBeUndefined();
    expect(poolStatusUpdate({ ...stats, availableIPv4: 1 }, stats)).toEqual(stats);
  });

  it("status-only updates (our own counters) do not count as pool changes", () => {
    const a = pool("p", ["203.0.113.0/28"], "2026-01-01T00:00:00Z");
    expect(poolSpecChanged(a, { ...a, status: stats })).toBe(false);
    expect(poolSpecChanged(a, { ...a, spec: { addresses: ["203.0.113.0/29"] } })).toBe(true);
    expect(poolSpecChanged(undefined, a)).toBe(true);
  });
});
