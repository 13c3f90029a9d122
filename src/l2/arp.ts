// ARP (RFC 826) restricted to Ethernet hardware and IPv4 protocol addresses: the only combination a
// layer-2 VIP speaker on Ethernet ever needs.
import { encodeEthernet, ETHERTYPE_ARP } from "./ethernet.js";
import { formatIpv4, ipv4ToBytes } from "../api/ip.js";
import { BROADCAST_MAC, formatMac, macToBytes, ZERO_MAC } from "./mac.js";
import { asBuffer, fail, ok, type ParseResult } from "./result.js";

export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
/** htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4). */
export const ARP_PACKET_LEN = 28;

const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export interface ArpPacket {
  /** 1 = request, 2 = reply; other values (RARP, InARP...) are parsed but never answered. */
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** Parse the payload of an Ethernet frame with ethertype 0x0806. Trailing bytes (padding) are ignored. */
export function parseArp(payload: Uint8Array): ParseResult<ArpPacket> {
  const buf = asBuffer(payload);
  // Check the fixed header first so "ARP for another medium" reads as unsupported, not truncated.
  if (buf.length < 8) return fail("truncated");
  if (
    buf.readUInt16BE(0) !== HTYPE_ETHERNET ||
    buf.readUInt16BE(2) !== PTYPE_IPV4 ||
    buf[4] !== 6 ||
    buf[5] !== 4
  ) {
    return fail("unsupported");
  }
  if (buf.length < ARP_PACKET_LEN) return fail("truncated");
  return ok({
    op: buf.readUInt16BE(6),
    senderMac: formatMac(buf, 8),
    senderIp: formatIpv4(buf, 14),
    targetMac: formatMac(buf, 18),
    targetIp: formatIpv4(buf, 24),
  });
}

/** Encode the 28-byte ARP packet (no Ethernet header). Throws on malformed addresses or op. */
export function encodeArp(pkt: ArpPacket): Buffer {
  if (!Number.isInteger(pkt.op) || pkt.op < 0 || pkt.op > 0xffff)
    throw new RangeError(`invalid ARP op: ${pkt.op}`);
  const out = Buffer.alloc(ARP_PACKET_LEN);
  out.writeUInt16BE(HTYPE_ETHERNET, 0);
  out.writeUInt16BE(PTYPE_IPV4, 2);
  out[4] = 6;
  out[5] = 4;
  out.writeUInt16BE(pkt.op, 6);
  macToBytes(pkt.senderMac).copy(out, 8);
  ipv4ToBytes(pkt.senderIp).copy(out, 14);
  macToBytes(pkt.targetMac).copy(out, 18);
  ipv4ToBytes(pkt.targetIp).copy(out, 24);
  return out;
}

/** ARP packet in an Ethernet frame from `ethSrc` to `ethDst`, padded to 60 bytes. */
export function encodeArpFrame(ethDst: string, ethSrc: string, pkt: ArpPacket): Buffer {
  return encodeEthernet({ dst: ethDst, src: ethSrc, ethertype: ETHERTYPE_ARP, payload: encodeArp(pkt) });
}

export interface ArpRequestSpec {
  srcMac: string;
  /** Our address; 0.0.0.0 makes it an RFC 5227 probe. */
  srcIp: string;
  /** The address being resolved. */
  targetIp: string;
  /** Ethernet destination; broadcast unless re-validating a known neighbour. */
  dstMac?: string;
}

export function buildArpRequest(spec: ArpRequestSpec): Buffer {
  return encodeArpFrame(spec.dstMac ?? BROADCAST_MAC, spec.srcMac, {
    op: ARP_OP_REQUEST,
    senderMac: spec.srcMac,
    senderIp: spec.srcIp,
    targetMac: ZERO_MAC,
    targetIp: spec.targetIp,
  });
}

export interface ArpReplySpec {
  /** Our MAC: becomes both the Ethernet source and the ARP sender hardware address. */
  srcMac: string;
  /** The owned address being resolved (the request's target IP). */
  srcIp: string;
  /** The requester's MAC (the request's sender hardware address); the reply is unicast to it. */
  dstMac: string;
  /** The requester's IP (the request's sender IP; 0.0.0.0 when answering a probe). */
  dstIp: string;
}

/** Unicast ARP reply "srcIp is-at srcMac" to the requester, as Linux sends it. */
export function buildArpReply(spec: ArpReplySpec): Buffer {
  return encodeArpFrame(spec.dstMac, spec.srcMac, {
    op: ARP_OP_REPLY,
    senderMac: spec.srcMac,
    senderIp: spec.srcIp,
    targetMac: spec.dstMac,
    targetIp: spec.dstIp,
  });
}

/**
 * Broadcast gratuitous ARP announcing `ip` at `mac`: sender IP = target IP = `ip`, Ethernet dst broadcast.
 *
 * Target hardware address:
 * - "request": 00:00:00:00:00:00, as the Linux kernel sends its own gratuitous ARPs and as RFC 5227
 *   section 2.3 describes ARP Announcements (the field is ignored by receivers; zero is the convention).
 * - "reply": our own MAC, as `arping -A` does and as RFC 5944 section 4.6 specifies for gratuitous replies.
 *   Some stacks only refresh caches from requests, others only from replies, hence both exist.
 */
export function buildGratuitousArp(mac: string, ip: string, op: "request" | "reply"): Buffer {
  return encodeArpFrame(BROADCAST_MAC, mac, {
    op: op === "request" ? ARP_OP_REQUEST : ARP_OP_REPLY,
    senderMac: mac,
    senderIp: ip,
    targetMac: op === "request" ? ZERO_MAC : mac,
    targetIp: ip,
  });
}
