import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  canonicalIP,
  countBuggyIPv4,
  formatIP,
  isBuggyIPv4,
  parseIP,
  parseIPDetailed,
} from "../../src/api/ip.js";

describe("IP parsing", () => {
  it("parses IPv4 and IPv6 to bigint", () => {
    expect(parseIP("192.0.2.1")).toEqual({ family: "IPv4", value: 0xc0000201n });
    expect(parseIP("2001:db8::1")).toEqual({ family: "IPv6", value: (0x20010db8n << 96n) | 1n });
    expect(parseIP("::")).toEqual({ family: "IPv6", value: 0n });
  });

  it("rejects forms Kubernetes rejects", () => {
    for (const bad of [
      "192.0.2",
      "0xc0.0.2.1",
      "3221225985",
      "192.0.2.01",
      "192.0.2.256",
      "",
      " 192.0.2.1",
      "fe80::1%eth0",
      "2001:db8:::1",
    ]) {
      expect(parseIP(bad), bad).toBeUndefined();
    }
    expect(parseIPDetailed("::ffff:192.0.2.1")).toMatchObject({
      ok: false,
      error: expect.stringContaining("IPv4-mapped"),
    });
    expect(parseIPDetailed("192.0.2.01")).toMatchObject({
      ok: false,
      error: expect.stringContaining("leading zeros"),
    });
  });

  it("formats canonically (RFC 5952)", () => {
    expect(canonicalIP("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    expect(canonicalIP("2001:db8::203.0.113.1")).toBe("2001:db8::cb00:7101");
    expect(formatIP("IPv4", 0xcb007105n)).toBe("203.0.113.5");
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), (v) => {
        expect(parseIP(formatIP("IPv4", v))).toEqual({ family: "IPv4", value: v });
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
        // ::ffff:0:0/96 is refused on purpose.
        fc.pre(v >> 32n !== 0xffffn);
        expect(parseIP(formatIP("IPv6", v))).toEqual({ family: "IPv6", value: v });
      }),
    );
  });

  it("counts .0/.255 addresses exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 2000 }), (x, len) => {
        let n = 0n;
        for (let v = x; v <= x + len; v++) if (isBuggyIPv4(BigInt(v))) n++;
        expect(countBuggyIPv4(BigInt(x), BigInt(x + len))).toBe(n);
      }),
    );
  });
});
