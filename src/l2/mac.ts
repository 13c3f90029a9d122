// MAC addresses cross the public API as lowercase, colon-separated strings ("02:00:5e:00:53:01"): easy to
// log, compare with === and use as map keys. Bytes exist only inside the codecs.

export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";
export const ZERO_MAC = "00:00:00:00:00:00";

const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Canonical (lowercase) form of a colon-separated MAC, or null if it is not one. */
export function normalizeMac(mac: string): string | null {
  return MAC_RE.test(mac) ? mac.toLowerCase() : null;
}

/** Value of one hex digit's character code, or -1. */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1; // a-f, A-F
}

/**
 * 6 bytes of a MAC string, or null if malformed. By character codes, not a regular expression: a
 * takeover encodes thousands of frames, each naming two MACs.
 */
export function parseMac(mac: string): Buffer | null {
  if (mac.length !== 17) return null;
  const out = Buffer.allocUnsafe(6);
  for (let i = 0; i < 6; i++) {
    const at = i * 3;
    if (i > 0 && mac.charCodeAt(at - 1) !== 58) return null; // ':'
    const hi = hexDigit(mac.charCodeAt(at));
    const lo = hexDigit(mac.charCodeAt(at + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = hi * 16 + lo;
  }
  return out;
}

/** Like parseMac but for encoders: a bad MAC there is a programming error, not hostile input. */
export function macToBytes(mac: string): Buffer {
  const bytes = parseMac(mac);
  if (bytes === null) throw new TypeError(`invalid MAC address: ${JSON.stringify(mac)}`);
  return bytes;
}

/** Format 6 bytes at `offset`. The caller has already checked the bounds. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  let out = "";
  for (let i = 0; i < 6; i++) {
    out += (i === 0 ? "" : ":") + (HEX[bytes[offset + i] ?? 0] ?? "00");
  }
  return out;
}

function firstOctet(mac: string): number {
  return parseInt(mac.slice(0, 2), 16);
}

/** Group (I/G) bit set: multicast, including broadcast. */
export function isMulticastMac(mac: string): boolean {
  return (firstOctet(mac) & 1) === 1;
}

/** A MAC we may legitimately send a unicast reply to: not group, not all-zero. */
export function isUnicastMac(mac: string): boolean {
  return !isMulticastMac(mac) && mac !== ZERO_MAC;
}
