// Strict IP address parsing to bigint, and formatting back. Strict on purpose: ipaddr.js (like inet_aton)
// also accepts "10.1", "0x0a.0.0.1" or "010.0.0.1", which Kubernetes and MetalLB reject; accepting them
// here would let a pool and the API server disagree about which address is meant.

import ipaddr from "ipaddr.js";
import type { IPFamily } from "./types.js";

export interface ParsedIP {
  family: IPFamily;
  value: bigint;
}

export const IPV4_BITS = 32;
export const IPV6_BITS = 128;

export function familyBits(family: IPFamily): number {
  return family === "IPv4" ? IPV4_BITS : IPV6_BITS;
}

export function familyMax(family: IPFamily): bigint {
  return (1n << BigInt(familyBits(family))) - 1n;
}

const IPV4_RE = /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/;

export type ParseIPResult = { ok: true; ip: ParsedIP } | { ok: false; error: string };

/** Parses one address (no prefix), explaining what is wrong when it fails. */
export function parseIPDetailed(text: string): ParseIPResult {
  const s = text;
  if (s.length === 0) return { ok: false, error: "empty address" };
  if (s.includes(":")) {
    if (s.includes("%")) {
      return { ok: false, error: `${JSON.stringify(s)}: zone identifiers (%...) are not allowed` };
    }
    if (!ipaddr.IPv6.isValid(s))
      return { ok: false, error: `${JSON.stringify(s)} is not a valid IPv6 address` };
    const addr = ipaddr.IPv6.parse(s);
    if (addr.isIPv4MappedAddress()) {
      // Kubernetes treats ::ffff:a.b.c.d as IPv4, which would make its family ambiguous here.
      return {
        ok: false,
        error: `${JSON.stringify(s)} is an IPv4-mapped IPv6 address; write the IPv4 address instead`,
      };
    }
    let v = 0n;
    for (const part of addr.parts) v = (v << 16n) | BigInt(part);
    return { ok: true, ip: { family: "IPv6", value: v } };
  }
  if (!IPV4_RE.test(s)) {
    return {
      ok: false,
      error: `${JSON.stringify(s)} is not a valid IP address (IPv4 must be four decimal octets without leading zeros)`,
    };
  }
  let v = 0n;
  for (const octet of s.split(".")) {
    const n = Number(octet);
    if (n > 255) return { ok: false, error: `${JSON.stringify(s)}: octet ${octet} is greater than 255` };
    v = (v << 8n) | BigInt(n);
  }
  return { ok: true, ip: { family: "IPv4", value: v } };
}

export function parseIP(text: string): ParsedIP | undefined {
  const r = parseIPDetailed(text);
  return r.ok ? r.ip : undefined;
}

/** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (what Kubernetes prints). */
export function formatIP(family: IPFamily, value: bigint): string {
  if (family === "IPv4") {
    return [24n, 16n, 8n, 0n].map((sh) => String((value >> sh) & 0xffn)).join(".");
  }
  const parts: number[] = [];
  for (let i = 7; i >= 0; i--) parts.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

/** Normalizes an address string to canonical form, or undefined if invalid. */
export function canonicalIP(text: string): string | undefined {
  const p = parseIP(text);
  return p ? formatIP(p.family, p.value) : undefined;
}

/** IPv4 addresses ending in .0 or .255 confuse some CPE firmwares' smurf protection. */
export function isBuggyIPv4(value: bigint): boolean {
  const last = value & 0xffn;
  return last === 0n || last === 255n;
}

/** Number of IPv4 addresses in [start, end] ending in .0 or .255. */
export function countBuggyIPv4(start: bigint, end: bigint): bigint {
  // f(n) = count of x in [0, n] with x % 256 in {0, 255}.
  const f = (n: bigint): bigint => (n < 0n ? 0n : n / 256n + 1n + (n + 1n) / 256n);
  return f(end) - f(start - 1n);
}
