// floatip's one IP address module: strict parsing to bigint, canonical text, and the byte forms the
// layer-2 codecs and the heartbeat put on the wire. Strict on purpose: ipaddr.js (like inet_aton)
// also accepts "10.1", "0x0a.0.0.1" or "010.0.0.1", which Kubernetes and MetalLB reject; accepting them
// here would let a pool and the API server disagree about which address is meant. Zone ids
// ("fe80::1%eth0") name an interface, not an address, and IPv4-mapped IPv6 is refused (Kubernetes
// treats it as IPv4). Canonical text is a dotted quad or RFC 5952 ("2001:db8::1"), so sets of
// addresses keyed by canonicalIP() compare with plain string equality.

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

/**
 * Results already computed, per address text: a takeover of thousands of IPs parses and formats
 * each several times (canonical form, frames, kernel filter), and ipaddr.js costs microseconds a
 * call. Bounded whatever the input (cleared when full); results are immutable, so sharing is safe.
 */
const CACHE_MAX = 16_384;

function remembered<T>(cache: Map<string, T>, text: string, compute: (text: string) => T): T {
  if (cache.has(text)) return cache.get(text)!;
  const out = compute(text);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, out);
  return out;
}

const parsed = new Map<string, ParseIPResult>();

/** Parses one address (no prefix), explaining what is wrong when it fails. */
export function parseIPDetailed(text: string): ParseIPResult {
  return remembered(parsed, text, parseUncached);
}

function parseUncached(s: string): ParseIPResult {
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

const canonical = new Map<string, string | undefined>();

/** Normalizes an address string to canonical form, or undefined if invalid. */
export function canonicalIP(text: string): string | undefined {
  return remembered(canonical, text, (t) => {
    const p = parseIP(t);
    return p ? formatIP(p.family, p.value) : undefined;
  });
}

export function ipFamily(text: string): IPFamily | undefined {
  return parseIP(text)?.family;
}

export const IPV4_UNSPECIFIED = "0.0.0.0";
export const IPV6_UNSPECIFIED = "::";

// ---- bytes on the wire ----------------------------------------------------------------------

/** 4 bytes at `offset` as dotted quad. The caller has already checked the bounds. */
export function formatIpv4(bytes: ArrayLike<number>, offset = 0): string {
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
}

/** 16 bytes at `offset` in RFC 5952 form. The caller has already checked the bounds. */
export function formatIpv6(bytes: ArrayLike<number>, offset = 0): string {
  const octets: number[] = [];
  for (let i = 0; i < 16; i++) octets.push(bytes[offset + i] ?? 0);
  return (ipaddr.fromByteArray(octets) as ipaddr.IPv6).toRFC5952String();
}

// Encoders take addresses from our own configuration, so a bad one is a programming error: throw.
function toBytes(family: IPFamily, text: string): Buffer {
  const p = parseIP(text);
  if (p?.family !== family) throw new TypeError(`invalid ${family} address: ${JSON.stringify(text)}`);
  // Whole words, not a BigInt shift per byte: a takeover encodes thousands of frames.
  const out = Buffer.alloc(familyBits(family) / 8);
  if (family === "IPv4") out.writeUInt32BE(Number(p.value));
  else {
    out.writeBigUInt64BE(p.value >> 64n);
    out.writeBigUInt64BE(BigInt.asUintN(64, p.value), 8);
  }
  return out;
}

export const ipv4ToBytes = (text: string): Buffer => toBytes("IPv4", text);
export const ipv6ToBytes = (text: string): Buffer => toBytes("IPv6", text);

/** 224.0.0.0/4 or 255.255.255.255: never a legitimate ARP sender. Expects canonical input. */
export function isIpv4MulticastOrBroadcast(ip: string): boolean {
  const first = parseInt(ip, 10);
  return (first >= 224 && first <= 239) || ip === "255.255.255.255";
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
