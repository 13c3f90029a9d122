// IPv6 Neighbor Discovery (RFC 4861): just Neighbor Solicitation and Neighbor Advertisement carried in an
// IPv6 packet with no extension headers, which is how every stack sends them in practice.
import { icmpv6Checksum, verifyIcmpv6Checksum } from "./checksum.js";
import { encodeEthernet, ETHERTYPE_IPV6 } from "./ethernet.js";
import { formatIpv6, ipv6ToBytes } from "../api/ip.js";
import { formatMac, macToBytes } from "./mac.js";
import { asBuffer, fail, ok, type ParseResult } from "./result.js";

export const IPPROTO_ICMPV6 = 58;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
/** ND messages must arrive with hop limit 255: proof they were not forwarded by a router (RFC 4861 3.1). */
export const ND_HOP_LIMIT = 255;
export const ALL_NODES_IP = "ff02::1";
export const ALL_NODES_MAC = "33:33:00:00:00:01";

const IPV6_HEADER_LEN = 40;
const ND_BODY_LEN = 24; // type, code, checksum, flags/reserved (4), target (16)
const OPT_SOURCE_LLA = 1;
const OPT_TARGET_LLA = 2;
const LLA_OPT_LEN = 8; // type, length (in 8-byte units = 1), 6-byte MAC
const FLAG_ROUTER = 0x80;
const FLAG_SOLICITED = 0x40;
const FLAG_OVERRIDE = 0x20;

interface NdpCommon {
  /** IPv6 source / destination of the carrying packet. */
  src: string;
  dst: string;
  hopLimit: number;
  target: string;
}

export interface NeighborSolicitation extends NdpCommon {
  type: "ns";
  /** Source link-layer address option; null when absent (always absent when src is "::", i.e. DAD). */
  sourceLinkAddr: string | null;
}

export interface NeighborAdvertisement extends NdpCommon {
  type: "na";
  router: boolean;
  solicited: boolean;
  override: boolean;
  /** Target link-layer address option; null when absent. */
  targetLinkAddr: string | null;
}

export type NdpMessage = NeighborSolicitation | NeighborAdvertisement;

function isMulticast(bytes: Uint8Array, offset: number): boolean {
  return bytes[offset] === 0xff;
}

function isUnspecified(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 16; i++) if (bytes[offset + i] !== 0) return false;
  return true;
}

/** ff02::1:ffXX:XXXX */
function isSolicitedNodeMulticast(bytes: Uint8Array, offset: number): boolean {
  if (bytes[offset] !== 0xff || bytes[offset + 1] !== 0x02) return false;
  for (let i = 2; i <= 10; i++) if (bytes[offset + i] !== 0) return false;
  return bytes[offset + 11] === 0x01 && bytes[offset + 12] === 0xff;
}

/**
 * Parse an IPv6 packet (the payload of an Ethernet frame with ethertype 0x86dd) carrying an NS or NA and
 * apply the RFC 4861 7.1.1 / 7.1.2 validity checks. Bytes past the IPv6 payload length (padding) are ignored.
 */
export function parseNdp(packet: Uint8Array): ParseResult<NdpMessage> {
  const buf = asBuffer(packet);
  if (buf.length < IPV6_HEADER_LEN) return fail("truncated");
  if (buf.readUInt8(0) >> 4 !== 6) return fail("bad-header");
  const payloadLen = buf.readUInt16BE(4);
  if (IPV6_HEADER_LEN + payloadLen > buf.length) return fail("truncated");
  // Extension headers (or a fragment) in front of ND are legal but unheard of; RFC 6980 bans fragments.
  if (buf.readUInt8(6) !== IPPROTO_ICMPV6) return fail("unsupported");
  const hopLimit = buf.readUInt8(7);
  const src = buf.subarray(8, 24);
  const dst = buf.subarray(24, 40);
  const icmp = buf.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + payloadLen);
  if (icmp.length < 4) return fail("truncated");
  const type = icmp.readUInt8(0);
  if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT)
    return fail("unsupported");
  if (!verifyIcmpv6Checksum(src, dst, icmp)) return fail("bad-checksum");
  if (hopLimit !== ND_HOP_LIMIT) return fail("bad-hop-limit");
  if (icmp.readUInt8(1) !== 0) return fail("bad-code");
  if (icmp.length < ND_BODY_LEN) return fail("bad-length");
  // Multicast is never a valid source (RFC 4291) nor an ND target (RFC 4861).
  if (isMulticast(src, 0) || isMulticast(icmp, 8)) return fail("bad-address");

  const wantedOption = type === ICMPV6_NEIGHBOR_SOLICITATION ? OPT_SOURCE_LLA : OPT_TARGET_LLA;
  let linkAddr: string | null = null;
  for (let off = ND_BODY_LEN; off < icmp.length;) {
    if (icmp.length - off < 2) return fail("bad-option");
    const optType = icmp.readUInt8(off);
    const optLen = icmp.readUInt8(off + 1) * 8;
    // A zero length would loop forever; an overrun would read past the message (RFC 4861 4.6: discard).
    if (optLen === 0 || off + optLen > icmp.length) return fail("bad-option");
    if (optType === wantedOption) {
      if (optLen !== LLA_OPT_LEN) return fail("bad-option"); // not an Ethernet MAC
      linkAddr ??= formatMac(icmp, off + 2); // duplicates: first wins, as in Linux
    }
    off += optLen; // unknown options are skipped, as required
  }

  const common = { src: formatIpv6(src), dst: formatIpv6(dst), hopLimit, target: formatIpv6(icmp, 8) };
  if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
    if (isUnspecified(src, 0)) {
      // DAD probe: must go to a solicited-node group and carry no SLLA (there is no address to bind it to).
      if (!isSolicitedNodeMulticast(dst, 0)) return fail("bad-address");
      if (linkAddr !== null) return fail("bad-option");
    }
    return ok({ type: "ns", ...common, sourceLinkAddr: linkAddr });
  }
  const flags = icmp.readUInt8(4);
  const solicited = (flags & FLAG_SOLICITED) !== 0;
  if (solicited && isMulticast(dst, 0)) return fail("bad-address");
  return ok({
    type: "na",
    ...common,
    router: (flags & FLAG_ROUTER) !== 0,
    solicited,
    override: (flags & FLAG_OVERRIDE) !== 0,
    targetLinkAddr: linkAddr,
  });
}

/** Encode an IPv6 packet carrying the NS/NA, with a correct ICMPv6 checksum. Throws on malformed fields. */
export function encodeNdp(msg: NdpMessage): Buffer {
  if (!Number.isInteger(msg.hopLimit) || msg.hopLimit < 0 || msg.hopLimit > 255) {
    throw new RangeError(`invalid hop limit: ${msg.hopLimit}`);
  }
  const src = ipv6ToBytes(msg.src);
  const dst = ipv6ToBytes(msg.dst);
  const target = ipv6ToBytes(msg.target);
  const linkAddr = msg.type === "ns" ? msg.sourceLinkAddr : msg.targetLinkAddr;
  const icmpLen = ND_BODY_LEN + (linkAddr === null ? 0 : LLA_OPT_LEN);

  const out = Buffer.alloc(IPV6_HEADER_LEN + icmpLen);
  out[0] = 0x60; // version 6, traffic class 0, flow label 0
  out.writeUInt16BE(icmpLen, 4);
  out[6] = IPPROTO_ICMPV6;
  out[7] = msg.hopLimit;
  src.copy(out, 8);
  dst.copy(out, 24);

  const icmp = out.subarray(IPV6_HEADER_LEN);
  if (msg.type === "ns") {
    icmp[0] = ICMPV6_NEIGHBOR_SOLICITATION;
  } else {
    icmp[0] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
    icmp[4] =
      (msg.router ? FLAG_ROUTER : 0) |
      (msg.solicited ? FLAG_SOLICITED : 0) |
      (msg.override ? FLAG_OVERRIDE : 0);
  }
  target.copy(icmp, 8);
  if (linkAddr !== null) {
    icmp[ND_BODY_LEN] = msg.type === "ns" ? OPT_SOURCE_LLA : OPT_TARGET_LLA;
    icmp[ND_BODY_LEN + 1] = LLA_OPT_LEN / 8;
    macToBytes(linkAddr).copy(icmp, ND_BODY_LEN + 2);
  }
  icmp.writeUInt16BE(icmpv6Checksum(src, dst, icmp), 2);
  return out;
}

/** Solicited-node multicast group of `ip` (RFC 4291 2.7.1): ff02::1:ff + its low 24 bits. */
export function solicitedNodeAddress(ip: string): string {
  const bytes = ipv6ToBytes(ip);
  const group = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0]);
  bytes.copy(group, 13, 13, 16);
  return formatIpv6(group);
}

/** Ethernet address of an IPv6 multicast group (RFC 2464 7): 33:33 + its low 32 bits. */
export function ipv6MulticastMac(ip: string): string {
  const bytes = ipv6ToBytes(ip);
  return formatMac(Buffer.from([0x33, 0x33, ...bytes.subarray(12, 16)]));
}

/** 33:33:ff:XX:XX:XX, where a host listens for NS about `ip`. */
export function solicitedNodeMac(ip: string): string {
  return ipv6MulticastMac(solicitedNodeAddress(ip));
}

function ndpFrame(dstMac: string, srcMac: string, msg: NdpMessage): Buffer {
  return encodeEthernet({ dst: dstMac, src: srcMac, ethertype: ETHERTYPE_IPV6, payload: encodeNdp(msg) });
}

export interface NeighborSolicitationSpec {
  srcMac: string;
  /** "::" makes it a DAD probe (then no SLLA option is sent, per RFC 4861). */
  srcIp: string;
  target: string;
  /** Default: the target's solicited-node group. */
  dstIp?: string;
  /** Default: derived from dstIp, which must then be multicast. */
  dstMac?: string;
}

/** NS frame; mostly for tests and probing, the speaker itself only answers. */
export function buildNeighborSolicitation(spec: NeighborSolicitationSpec): Buffer {
  const dstIp = spec.dstIp ?? solicitedNodeAddress(spec.target);
  let dstMac = spec.dstMac;
  if (dstMac === undefined) {
    if (!isMulticast(ipv6ToBytes(dstIp), 0)) throw new TypeError("dstMac is required for a unicast NS");
    dstMac = ipv6MulticastMac(dstIp);
  }
  const dad = ipv6ToBytes(spec.srcIp).every((b) => b === 0);
  return ndpFrame(dstMac, spec.srcMac, {
    type: "ns",
    src: spec.srcIp,
    dst: dstIp,
    hopLimit: ND_HOP_LIMIT,
    target: spec.target,
    sourceLinkAddr: dad ? null : spec.srcMac,
  });
}

export interface NeighborAdvertisementSpec {
  /** Our MAC: the Ethernet source and the target link-layer address option. */
  srcMac: string;
  srcIp: string;
  dstMac: string;
  dstIp: string;
  /** The address being advertised. */
  target: string;
  solicited: boolean;
  override: boolean;
  /** We are never a router for the VIP; kept only so tests can build any NA. */
  router?: boolean;
}

/** NA frame that always carries the target link-layer address option (required when answering multicast NS). */
export function buildNeighborAdvertisement(spec: NeighborAdvertisementSpec): Buffer {
  return ndpFrame(spec.dstMac, spec.srcMac, {
    type: "na",
    src: spec.srcIp,
    dst: spec.dstIp,
    hopLimit: ND_HOP_LIMIT,
    target: spec.target,
    router: spec.router ?? false,
    solicited: spec.solicited,
    override: spec.override,
    targetLinkAddr: spec.srcMac,
  });
}

/**
 * Unsolicited NA to all-nodes (RFC 4861 7.2.6) after a failover: Override set so neighbours replace the old
 * MAC, Solicited clear. The source is the VIP itself (as Linux does for its own addresses), since the
 * speaker may have no other address worth exposing on that link.
 */
export function buildUnsolicitedNA(mac: string, ip: string): Buffer {
  return buildNeighborAdvertisement({
    srcMac: mac,
    srcIp: ip,
    dstMac: ALL_NODES_MAC,
    dstIp: ALL_NODES_IP,
    target: ip,
    solicited: false,
    override: true,
  });
}
