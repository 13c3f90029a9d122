// Parsers in this package never throw on wire data: they hand back a discriminated result so the caller
// (the responder, a metric, a debug log) can tell *why* a frame was dropped without try/catch.

/** Why a frame was rejected. A small closed set so it can be used directly as a metric label. */
export type ParseFailureReason =
  | "truncated" // fewer bytes than the headers or length fields require
  | "unsupported" // well-formed but a protocol/variant we do not handle (802.3 LLC, non-Ethernet ARP, non-ND ICMPv6...)
  | "bad-header" // fixed header fields are wrong (IPv6 version != 6)
  | "bad-length" // a length field is inconsistent with the message type (ICMPv6 ND body < 24 bytes)
  | "bad-checksum"
  | "bad-hop-limit" // ND message not sent with hop limit 255, i.e. possibly off-link (RFC 4861 section 7.1)
  | "bad-code" // ICMPv6 code != 0
  | "bad-option" // zero-length / overrunning ND option, wrong-sized link-layer option, SLLA on a DAD probe
  | "bad-address"; // multicast source or target, DAD probe not sent to the solicited-node group, ...

export type ParseFailure = { ok: false; reason: ParseFailureReason };
export type ParseResult<T> = { ok: true; value: T } | ParseFailure;

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(reason: ParseFailureReason): ParseFailure {
  return { ok: false, reason };
}

/** Zero-copy Buffer view over any Uint8Array, so parsers accept both and can use Buffer's readers. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
