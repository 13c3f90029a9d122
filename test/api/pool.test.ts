import fc from "fast-check";
import { describe, it, expect } from "vitest";
import {
  compareByAge,
  overlapsWithinPool,
  rangesOverlap,
  type AddressRange,
  findPoolOverlaps,
  parseAddressEntry,
  parsePool,
  poolRefusal,
  preparePools,
  type ParsedPool,
} from "../../src/api/pool.js";
import type { IPAddressPool, IPAddressPoolSpec } from "../../src/api/types.js";

const obj = (name: string, spec: IPAddressPoolSpec, creationTimestamp?: string): IPAddressPool => ({
  metadata: { name, ...(creationTimestamp ? { creationTimestamp } : {}) },
  spec,
});

function ok(name: string, spec: IPAddressPoolSpec): ParsedPool {
  const r = parsePool(obj(name, spec));
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.pool;
}

describe("parseAddressEntry", () => {
  it("CIDRs of both families", () => {
    expect(parseAddressEntry("203.0.113.5/32")).toMatchObject({
      ok: true,
      range: { family: "IPv4", start: 0xcb007105n, end: 0xcb007105n },
    });
    const r = parseAddressEntry("2001:db8::/120");
    expect(r).toMatchObject({ ok: true, range: { family: "IPv6" } });
    if (r.ok) expect(r.range.end - r.range.start).toBe(255n);
  });

  it("ranges with and without spaces", () => {
    for (const s of ["192.0.2.10-192.0.2.20", "192.0.2.10 - 192.0.2.20", " 192.0.2.10 -192.0.2.20 "]) {
      expect(parseAddressEntry(s)).toMatchObject({
        ok: true,
        range: { start: 0xc000020an, end: 0xc0000214n },
      });
    }
    expect(parseAddressEntry("2001:db8::1-2001:db8::ff")).toMatchObject({
      ok: true,
      range: { family: "IPv6" },
    });
  });

  it("precise errors", () => {
    const err = (s: string) => {
      const r = parseAddressEntry(s);
      return r.ok ? "" : r.error;
    };
    expect(err("192.0.2.20-192.0.2.10")).toContain("reversed");
    expect(err("192.0.2.1-2001:db8::1")).toContain("mixes IPv4 and IPv6");
    expect(err("192.0.2.0/33")).toContain("0-32");
    expect(err("2001:db8::/129")).toContain("0-128");
    expect(err("192.0.2.0/")).toContain("prefix length");
    expect(err("192.0.2.0/2a")).toContain("prefix length");
    expect(err("192.0.2.1")).toContain("/32");
    expect(err("192.0.2/24")).toContain("invalid CIDR");
    expect(err("bogus-192.0.2.1")).toContain("range start");
    expect(err("192.0.2.1-bogus")).toContain("range end");
    expect(err("")).toContain("empty");
  });

  it("host bits: accepted, normalised, reported", () => {
    const r = parseAddressEntry("192.0.2.77/24");
    expect(r).toMatchObject({ ok: true, range: { start: 0xc0000200n, end: 0xc00002ffn } });
    if (r.ok) expect(r.warning).toContain("192.0.2.0/24");
    const clean = parseAddressEntry("192.0.2.0/24");
    expect(clean.ok && clean.warning).toBeFalsy();
  });
});

describe("parsePool", () => {
  it("applies defaults and computes capacity", () => {
    const p = ok("p", { addresses: ["192.0.2.0/24", "2001:db8::/120"] });
    expect(p.autoAssign).toBe(true);
    expect(p.avoidBuggyIPs).toBe(false);
    expect(p.allocation.priority).toBe(0);
    expect(p.capacity).toEqual({ IPv4: 256n, IPv6: 256n });
    expect(ok("b", { addresses: ["192.0.2.0/23"], avoidBuggyIPs: true }).capacity.IPv4).toBe(508n);
    // avoidBuggyIPs never affects IPv6.
    expect(ok("c", { addresses: ["2001:db8::/120"], avoidBuggyIPs: true }).capacity.IPv6).toBe(256n);
    expect(ok("d", { addresses: ["198.51.100.250-198.51.101.5"], avoidBuggyIPs: true }).capacity.IPv4).toBe(
      10n,
    );
  });

  it("the seed pool", () => {
    const p = ok("envoy-gateway-pool", { addresses: ["203.0.113.5/32"], autoAssign: false });
    expect(p.autoAssign).toBe(false);
    expect(p.capacity.IPv4).toBe(1n);
  });

  it("reports every error", () => {
    const r = parsePool(
      obj("bad", {
        addresses: ["192.0.2.0/24", "192.0.2.128/25", "nope/1"],
        serviceAllocation: {
          priority: -1,
          namespaces: ["a", "a"],
          serviceSelectors: [{ matchLabels: { a: "b" } }, { matchLabels: { a: "b" } }],
          namespaceSelectors: [{ matchExpressions: [{ key: "k", operator: "In" }] }],
        },
      }),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const all = r.errors.join("\n");
      expect(all).toContain("nope/1");
      expect(all).toContain("overlap within the pool");
      expect(all).toContain("priority");
      expect(all).toContain('"a" twice');
      expect(all).toContain("duplicates");
      expect(all).toContain("at least one value");
    }
  });

  it("empty address list", () => {
    const r = parsePool(obj("empty", { addresses: [] }));
    expect(r).toMatchObject({ ok: false, errors: [expect.stringContaining("spec.addresses is empty")] });
  });

  it("warns about host bits and impossible namespace names", () => {
    const r = parsePool(
      obj("w", { addresses: ["192.0.2.9/30"], serviceAllocation: { namespaces: ["Bad_NS"] } }),
    );
    expect(r.ok).toBe(true);
    expect(r.warnings).toHaveLength(2);
  });
});

describe("poolRefusal", () => {
  it("unrestricted pools serve everyone", () => {
    expect(poolRefusal(ok("p", { addresses: ["192.0.2.0/30"] }), { namespace: "x" })).toBeUndefined();
  });

  it("priority alone does not restrict", () => {
    expect(
      poolRefusal(ok("p", { addresses: ["192.0.2.0/30"], serviceAllocation: { priority: 3 } }), {
        namespace: "x",
      }),
    ).toBeUndefined();
  });
});

describe("overlaps between pools", () => {
  it("finds every overlapping pair once", () => {
    const pools = [
      ok("a", { addresses: ["192.0.2.0/24"] }),
      ok("b", { addresses: ["192.0.2.100-192.0.2.110", "2001:db8::/64"] }),
      ok("c", { addresses: ["2001:db8::ff/128"] }),
      ok("d", { addresses: ["198.51.100.0/24"] }),
    ];
    expect(findPoolOverlaps(pools)).toEqual([
      { pool: "a", otherPool: "b", address: "192.0.2.0/24", otherAddress: "192.0.2.100-192.0.2.110" },
      { pool: "b", otherPool: "c", address: "2001:db8::/64", otherAddress: "2001:db8::ff/128" },
    ]);
  });

  it("adjacent ranges do not overlap", () => {
    expect(
      findPoolOverlaps([
        ok("a", { addresses: ["192.0.2.0/25"] }),
        ok("b", { addresses: ["192.0.2.128/25"] }),
      ]),
    ).toEqual([]);
  });

  it("preparePools keeps the older pool and rejects the newer one", () => {
    const r = preparePools([
      obj("newer", { addresses: ["192.0.2.0/28"] }, "2024-05-01T00:00:00Z"),
      obj("older", { addresses: ["192.0.2.0/24"] }, "2024-01-01T00:00:00Z"),
      obj("broken", { addresses: ["192.0.2.300/32"] }),
      obj("fine", { addresses: ["198.51.100.0/24"] }, "2024-06-01T00:00:00Z"),
    ]);
    expect(r.pools.map((p) => p.name)).toEqual(["fine", "older"]);
    expect(r.rejected.map((x) => x.name)).toEqual(["broken", "newer"]);
    expect(r.rejected[1]?.errors[0]).toContain('older pool "older"');
  });

  it("duplicate names: the later one is rejected", () => {
    const r = preparePools([
      obj("p", { addresses: ["192.0.2.0/28"] }),
      obj("p", { addresses: ["198.51.100.0/28"] }),
    ]);
    expect(r.pools).toHaveLength(1);
    expect(r.rejected[0]?.errors[0]).toContain("duplicate");
  });

  it("compareByAge: timestamp first, missing timestamps last, then name", () => {
    const xs = [
      { name: "b" },
      { name: "a", creationTimestamp: "2024-02-01T00:00:00Z" },
      { name: "c", creationTimestamp: "2024-01-01T00:00:00Z" },
      { name: "a2" },
    ];
    expect(xs.sort(compareByAge).map((x) => x.name)).toEqual(["c", "a", "a2", "b"]);
  });
});

describe("overlaps within one pool", () => {
  it("1,024 copies of one CIDR: one error per duplicate at most 20 listed, the rest counted", () => {
    const r = parsePool(obj("dup", { addresses: Array.from({ length: 1024 }, () => "203.0.113.0/24") }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.filter((e) => e.includes("overlap within the pool"))).toHaveLength(20);
    expect(r.errors).toContain("1003 more addresses overlap earlier ones within the pool");
  });

  it("reports a range iff it overlaps an earlier one, each pair truly overlapping (vs brute force)", () => {
    const range = fc
      .tuple(
        fc.constantFrom<"IPv4" | "IPv6">("IPv4", "IPv6"),
        fc.bigInt({ min: 0n, max: 40n }),
        fc.bigInt({ min: 0n, max: 8n }),
      )
      .map(([family, start, len]): AddressRange => ({
        family,
        start,
        end: start + len,
        source: `${family}:${start}+${len}`,
      }));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 12 }), (ranges) => {
        const pairs = overlapsWithinPool(ranges);
        for (const [a, b] of pairs) expect(rangesOverlap(a, b)).toBe(true);
        const anyPair = ranges.some((a, i) => ranges.some((b, j) => i < j && rangesOverlap(a, b)));
        expect(pairs.length > 0).toBe(anyPair);
        // Every range but the first of each connected run is reported exactly once.
        expect(new Set(pairs.map(([, b]) => b)).size).toBe(pairs.length);
      }),
    );
  });
});
