// RFC 1071 Internet checksum, plus the ICMPv6 variant that also covers an IPv6 pseudo-header (RFC 8200 8.1).

/** 16-bit one's-complement sum of the concatenation of `chunks` (odd-length chunks are handled). */
export function onesComplementSum(chunks: readonly Uint8Array[]): number {
  let sum = 0;
  let high = true; // next byte is the high half of a 16-bit word
  for (const chunk of chunks) {
    for (const byte of chunk) {
      sum += high ? byte << 8 : byte;
      high = !high;
    }
    // Fold per chunk so `sum` stays far below 2^53 whatever the input size.
    sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The value to store in a checksum field (computed with that field zeroed). */
export function internetChecksum(chunks: readonly Uint8Array[]): number {
  return ~onesComplementSum(chunks) & 0xffff;
}

function pseudoHeader(src: Uint8Array, dst: Uint8Array, upperLength: number, nextHeader: number): Buffer {
  const ph = Buffer.alloc(40);
  ph.set(src.subarray(0, 16), 0);
  ph.set(dst.subarray(0, 16), 16);
  ph.writeUInt32BE(upperLength >>> 0, 32);
  ph[39] = nextHeader;
  return ph;
}

const IPPROTO_ICMPV6 = 58;

/** ICMPv6 checksum of `icmp` (checksum field zeroed) between the 16-byte addresses `src` and `dst`. */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, icmp: Uint8Array): number {
  return internetChecksum([pseudoHeader(src, dst, icmp.length, IPPROTO_ICMPV6), icmp]);
}

/**
 * True if a received ICMPv6 message (checksum field as sent) sums to all-ones. Summing over the stored
 * checksum rather than recomputing accepts both one's-complement zeros (0x0000 and 0xffff).
 */
export function verifyIcmpv6Checksum(src: Uint8Array, dst: Uint8Array, icmp: Uint8Array): boolean {
  return onesComplementSum([pseudoHeader(src, dst, icmp.length, IPPROTO_ICMPV6), icmp]) === 0xffff;
}
