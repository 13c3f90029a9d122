// What the speaker refuses to announce: at most one IP per family, short messages whatever the input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIP } from "../../src/api/ip.js";
import { capPerFamily, listSome, MAX_IPS_PER_FAMILY, tooManyIPs } from "../../src/speaker/limits.js";

const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom("203.0.113.1", "2001:db8::1", "not-an-ip", ""));

describe("capPerFamily", () => {
  it("keeps the first IP of each family in status order and drops the rest, losing none", () => {
    fc.assert(
      fc.property(fc.array(ip, { maxLength: 40 }), (ips) => {
        const { kept, parsed, dropped } = capPerFamily(ips);
        const family = (x: string) => parseIP(x)?.family ?? "invalid";
        // Per family at most the cap, and they are that family's first ones.
        for (const f of ["IPv4", "IPv6", "invalid"]) {
          const first = ips.filter((x) => family(x) === f).slice(0, MAX_IPS_PER_FAMILY);
          expect(kept.filter((x) => family(x) === f)).toEqual(first);
        }
        expect(parsed.map((p) => p?.family ?? "invalid")).toEqual(kept.map(family));
        // Nothing lost, order kept within each part.
        expect([...kept, ...dropped].sort()).toEqual([...ips].sort());
        expect(kept).toEqual(ips.filter((x) => kept.includes(x)).filter((x, i, a) => a.indexOf(x) === i));
      }),
    );
  });

  it("a dual-stack status is kept whole; a 1,000-IP status keeps one", () => {
    expect(capPerFamily(["203.0.113.1", "2001:db8::1"])).toMatchObject({
      kept: ["203.0.113.1", "2001:db8::1"],
      dropped: [],
    });
    const many = Array.from({ length: 1000 }, (_, i) => `2001:db8:2::${(i + 1).toString(16)}`);
    const capped = capPerFamily(many);
    expect(capped.kept).toEqual(["2001:db8:2::1"]);
    expect(capped.dropped).toHaveLength(999);
  });
});

describe("refusal messages", () => {
  it("name at most three items and count the rest", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 2000 }), (items) => {
        const text = listSome(items);
        expect(text.length).toBeLessThanOrEqual(3 * 40 + 2 * 2 + 20);
        if (items.length > 3) expect(text).toContain(`and ${items.length - 3} more`);
      }),
    );
  });

  it("tooManyIPs says what is announced, what is refused and how to fix it, in bounded length", () => {
    const many = Array.from({ length: 1000 }, (_, i) => `2001:db8:2::${(i + 1).toString(16)}`);
    const r = tooManyIPs("ns/wide", many, capPerFamily(many));
    expect(r.code).toBe("tooManyIPs");
    expect(r.reason).toContain("lists 1000 IPs; announcing 2001:db8:2::1 only");
    expect(r.reason).toContain("2001:db8:2::2, 2001:db8:2::3, 2001:db8:2::4 and 996 more");
    expect(r.reason).toContain("metallb.io/loadBalancerIPs");
    expect(r.reason.length).toBeLessThan(400);
  });
});
