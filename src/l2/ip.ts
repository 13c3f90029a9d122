// IP addresses cross the public API as canonical strings: dotted quad for IPv4, RFC 5952 for IPv6
// ("2001:db8::1"). Everything the codecs emit is canonical, so an ownership set keyed by canonicalIp()
// output can be matched with plain string equality.
import ipaddr from "ipaddr.js";

export type IpFamily = "ipv4" | "ipv6";

export const IPV4_UNSPECIFIED = "0.0.0.0";
export const IPV6_UNSPECIFIED = "::";

// Strict dotted decimal: ipaddr.js (like inet_aton) also accepts "127.1", "0x7f.0.0.1" and octal "010.0.0.1",
// which would make two spellings of one address compare unequal or, worse, mean different addresses.
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_RE = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

function parseIpv4(ip: string): number[] | null {
  return IPV4_RE.test(ip) ? ip.split(".").map(Number) : null;
}

function parseIpv6(ip: string): number[] | null {
  // Zone ids ("fe80::1%eth0") name an interface, not an address on the wire.
  if (ip.includes("%") || !ipaddr.IPv6.isValid(ip)) return null;
  return ipaddr.IPv6.parse(ip).toByteArray();
}

/** Canonical string form of an IPv4 or IPv6 address, or null if it is not one. */
export function canonicalIp(ip: string): string | null {
  const v4 = parseIpv4(ip);
  if (v4 !== null) return v4.join(".");
  const v6 = parseIpv6(ip);
  return v6 === null ? null : formatIpv6(v6);
}

export function ipFamily(ip: string): IpFamily | null {
  if (parseIpv4(ip) !== null) return "ipv4";
  return parseIpv6(ip) === null ? null : "ipv6";
}

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
export function ipv4ToBytes(ip: string): Buffer {
  const v4 = parseIpv4(ip);
  if (v4 === null) throw new TypeError(`invalid IPv4 address: ${JSON.stringify(ip)}`);
  return Buffer.from(v4);
}

export function ipv6ToBytes(ip: string): Buffer {
  const v6 = parseIpv6(ip);
  if (v6 === null) throw new TypeError(`invalid IPv6 address: ${JSON.stringify(ip)}`);
  return Buffer.from(v6);
}

/** 224.0.0.0/4 or 255.255.255.255: never a legitimate ARP sender. Expects canonical input. */
export function isIpv4MulticastOrBroadcast(ip: string): boolean {
  const first = parseInt(ip, 10);
  return (first >= 224 && first <= 239) || ip === "255.255.255.255";
}
