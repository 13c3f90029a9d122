// Ethernet II framing. At most one 802.1Q/802.1ad tag is understood; its VLAN id is exposed so the
// responder can refuse tagged frames (a VIP lives on the untagged interface it was announced on).
import { formatMac, macToBytes } from "./mac.js";
import { asBuffer, fail, ok, type ParseResult } from "./result.js";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100; // 802.1Q C-tag
export const ETHERTYPE_QINQ = 0x88a8; // 802.1ad S-tag

export const ETH_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;
/** Minimum frame length without FCS; shorter frames are runts that switches drop, so we pad. */
export const ETH_MIN_FRAME_LEN = 60;

export interface EthernetFrame {
  dst: string;
  src: string;
  /** Ethertype of the payload (the inner one when tagged). */
  ethertype: number;
  /** VLAN id (0-4095) of the outer tag, or null when untagged. */
  vlan: number | null;
  /** View into the input (no copy). May include trailing padding; inner protocols use their own lengths. */
  payload: Buffer;
}

export function parseEthernet(frame: Uint8Array): ParseResult<EthernetFrame> {
  const buf = asBuffer(frame);
  if (buf.length < ETH_HEADER_LEN) return fail("truncated");
  let ethertype = buf.readUInt16BE(12);
  let offset = ETH_HEADER_LEN;
  let vlan: number | null = null;
  if (ethertype === ETHERTYPE_VLAN || ethertype === ETHERTYPE_QINQ) {
    if (buf.length < ETH_HEADER_LEN + VLAN_TAG_LEN) return fail("truncated");
    vlan = buf.readUInt16BE(14) & 0x0fff;
    ethertype = buf.readUInt16BE(16);
    offset += VLAN_TAG_LEN;
  }
  // Values below 0x0600 are 802.3 length fields (LLC/SNAP frames), not Ethernet II types.
  if (ethertype < 0x0600) return fail("unsupported");
  return ok({
    dst: formatMac(buf, 0),
    src: formatMac(buf, 6),
    ethertype,
    vlan,
    payload: buf.subarray(offset),
  });
}

export interface EthernetFrameSpec {
  dst: string;
  src: string;
  ethertype: number;
  payload: Uint8Array;
  /** Add an 802.1Q tag with this VLAN id (priority 0). Only tests need this; replies are untagged. */
  vlan?: number;
}

/** Encode an Ethernet II frame, zero-padded to the 60-byte minimum (64 when tagged, so it survives untagging). */
export function encodeEthernet(spec: EthernetFrameSpec): Buffer {
  if (!Number.isInteger(spec.ethertype) || spec.ethertype < 0x0600 || spec.ethertype > 0xffff) {
    throw new RangeError(`invalid ethertype: ${spec.ethertype}`);
  }
  const tagged = spec.vlan !== undefined;
  if (tagged && (!Number.isInteger(spec.vlan) || (spec.vlan ?? 0) < 0 || (spec.vlan ?? 0) > 0x0fff)) {
    throw new RangeError(`invalid VLAN id: ${spec.vlan}`);
  }
  const header = ETH_HEADER_LEN + (tagged ? VLAN_TAG_LEN : 0);
  const minLen = ETH_MIN_FRAME_LEN + (tagged ? VLAN_TAG_LEN : 0);
  const out = Buffer.alloc(Math.max(minLen, header + spec.payload.length)); // alloc zero-fills the padding
  macToBytes(spec.dst).copy(out, 0);
  macToBytes(spec.src).copy(out, 6);
  if (tagged) {
    out.writeUInt16BE(ETHERTYPE_VLAN, 12);
    out.writeUInt16BE(spec.vlan ?? 0, 14);
  }
  out.writeUInt16BE(spec.ethertype, header - 2);
  out.set(spec.payload, header);
  return out;
}
