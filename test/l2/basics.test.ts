import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  icmpv6Checksum,
  internetChecksum,
  onesComplementSum,
  verifyIcmpv6Checksum,
} from "../../src/l2/checksum.js";
import { canonicalIP, formatIpv4, formatIpv6, ipFamily, ipv4ToBytes, ipv6ToBytes } from "../../src/api/ip.js";
import {
  formatMac,
  isMulticastMac,
  isUnicastMac,
  macToBytes,
  normalizeMac,
  parseMac,
} from "../../src/l2/mac.js";
import { hex, NS_MULTICAST } from "./vectors.js";

describe("mac", () => {
  it("parses, normalizes and formats", () => {
    expect(parseMac("00:00:5E:00:53:AA")).toEqual(hex("00005e0053aa"));
    expect(normalizeMac("00:00:5E:00:53:AA")).toBe("00:00:5e:00:53:aa");
    expect(formatMac(hex("ff00005e0053aa"), 1)).toBe("00:00:5e:00:53:aa");
    for (const bad of [
      "",
      "00:00:5e:00:53",
      "00-00-5e-00-53-aa",
      "00:00:5e:00:53:aa:01",
      "0:0:5e:0:53:aa",
      "zz:00:5e:00:53:aa",
    ]) {
      expect(parseMac(bad)).toBeNull();
      expect(normalizeMac(bad)).toBeNull();
      expect(() => macToBytes(bad)).toThrow(TypeError);
    }
  });

  it("parses exactly the strings of six colon-separated hex pairs, in either case (property)", () => {
    const char = fc.oneof(
      { arbitrary: fc.constantFrom(..."0123456789abcdefABCDEF".split("")), weight: 20 },
      { arbitrary: fc.constantFrom(...":gG/@`-x ".split("")), weight: 1 },
    );
    const pair = fc.tuple(char, char).map(([a, b]) => a + b);
    const text = fc.oneof(
      fc.array(pair, { minLength: 6, maxLength: 6 }).map((p) => p.join(":")),
      fc.array(char, { maxLength: 19 }).map((c) => c.join("")),
    );
    fc.assert(
      fc.property(text, (t) => {
        const ok = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i.test(t);
        const parsed = parseMac(t);
        expect(parsed !== null).toBe(ok);
        if (parsed) expect(parsed).toEqual(Buffer.from(t.replaceAll(":", ""), "hex"));
      }),
      { numRuns: 2000 },
    );
  });

  it("classifies group and unicast addresses", () => {
    expect(isMulticastMac("ff:ff:ff:ff:ff:ff")).toBe(true);
    expect(isMulticastMac("33:33:ff:00:00:10")).toBe(true);
    expect(isMulticastMac("01:00:5e:90:10:00")).toBe(true);
    expect(isUnicastMac("00:00:5e:00:53:01")).toBe(true);
    expect(isUnicastMac("00:00:00:00:00:00")).toBe(false);
    expect(isUnicastMac("33:33:00:00:00:01")).toBe(false);
  });
});

describe("ip", () => {
  it("canonicalizes", () => {
    expect(canonicalIP("203.0.113.10")).toBe("203.0.113.10");
    expect(canonicalIP("2001:DB8:0:0:0:0:0:10")).toBe("2001:db8::10");
    expect(canonicalIP("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canonicalIP("::")).toBe("::");
    expect(ipFamily("198.51.100.7")).toBe("IPv4");
    expect(ipFamily("2001:db8::7")).toBe("IPv6");
  });

  it("rejects legacy IPv4 spellings, zoned and IPv4-mapped IPv6", () => {
    for (const bad of [
      "203.0.113",
      "0xcb.0.113.10",
      "203.000.113.10",
      "010.0.0.1",
      "256.0.0.1",
      "fe80::1%eth0",
      "::ffff:203.0.113.10",
      "",
      "x",
    ]) {
      expect(canonicalIP(bad)).toBeUndefined();
      expect(ipFamily(bad)).toBeUndefined();
    }
    expect(() => ipv6ToBytes("::ffff:203.0.113.10")).toThrow(TypeError);
    expect(() => ipv4ToBytes("2001:db8::1")).toThrow(TypeError);
    expect(() => ipv6ToBytes("203.0.113.10")).toThrow(TypeError);
  });

  it("formats from bytes", () => {
    expect(formatIpv4(hex("00cb00710a"), 1)).toBe("203.0.113.10");
    expect(formatIpv6(hex("20010db8000000000000000000000010"))).toBe("2001:db8::10");
    expect(formatIpv6(ipv6ToBytes("ff02::1:ff00:10"))).toBe("ff02::1:ff00:10");
  });

  it("bytes of any address format back to its canonical text, high byte first (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (b6, b4) => {
          const v6 = Buffer.from(b6);
          if (v6.readUInt16BE(10) === 0xffff && v6.subarray(0, 10).every((x) => x === 0)) return; // IPv4-mapped: refused
          expect(ipv6ToBytes(formatIpv6(v6))).toEqual(v6);
          expect(ipv4ToBytes(formatIpv4(Buffer.from(b4)))).toEqual(Buffer.from(b4));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("checksum", () => {
  it("matches the RFC 1071 worked example", () => {
    // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (one's complement).
    expect(onesComplementSum([hex("0001f203f4f5f6f7")])).toBe(0xddf2);
    expect(internetChecksum([hex("0001f203f4f5f6f7")])).toBe(0x220d);
  });

  it("handles odd-length chunks as one concatenated stream", () => {
    const whole = hex("0001f203f4f5f6f7ab");
    expect(onesComplementSum([hex("0001f2"), hex("03f4f5"), hex("f6f7ab")])).toBe(onesComplementSum([whole]));
  });

  it("computes the hand-derived ICMPv6 checksum of the NS vector (0x6d0a)", () => {
    const src = NS_MULTICAST.subarray(22, 38);
    const dst = NS_MULTICAST.subarray(38, 54);
    const icmp = Buffer.from(NS_MULTICAST.subarray(54));
    expect(icmp.readUInt16BE(2)).toBe(0x6d0a);
    expect(verifyIcmpv6Checksum(src, dst, icmp)).toBe(true);
    icmp.writeUInt16BE(0, 2);
    expect(icmpv6Checksum(src, dst, icmp)).toBe(0x6d0a);
  });

  it("accepts either one's-complement zero and rejects corruption", () => {
    const src = ipv6ToBytes("2001:db8::1");
    const dst = ipv6ToBytes("2001:db8::2");
    const icmp = Buffer.from(NS_MULTICAST.subarray(54));
    icmp.writeUInt16BE(0, 2);
    icmp.writeUInt32BE(0, 4);
    // Putting the would-be checksum into the (reserved) word at offset 4 makes the true checksum 0x0000.
    icmp.writeUInt16BE(icmpv6Checksum(src, dst, icmp), 4);
    expect(icmpv6Checksum(src, dst, icmp)).toBe(0);
    expect(verifyIcmpv6Checksum(src, dst, icmp)).toBe(true);
    icmp.writeUInt16BE(0xffff, 2);
    expect(verifyIcmpv6Checksum(src, dst, icmp)).toBe(true);
    icmp[10] = (icmp[10] ?? 0) ^ 0x01;
    expect(verifyIcmpv6Checksum(src, dst, icmp)).toBe(false);
  });
});
