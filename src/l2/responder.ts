// The pure "should we answer this frame, and with what?" decision for the ARP/NDP speaker. No sockets and
// no clock: the caller feeds in a received frame plus what we currently own and sends whatever comes back.
import { ARP_OP_REQUEST, buildArpReply, parseArp, type ArpPacket } from "./arp.js";
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, parseEthernet, type EthernetFrame } from "./ethernet.js";
import { IPV6_UNSPECIFIED, isIpv4MulticastOrBroadcast } from "../api/ip.js";
import type { IPFamily } from "../api/types.js";
import { BROADCAST_MAC, isMulticastMac, isUnicastMac, normalizeMac } from "./mac.js";
import {
  ALL_NODES_IP,
  ALL_NODES_MAC,
  buildNeighborAdvertisement,
  ipv6MulticastMac,
  parseNdp,
  solicitedNodeAddress,
  type NeighborSolicitation,
} from "./ndp.js";
import type { ParseFailureReason } from "./result.js";

export interface ReceivingInterface {
  readonly name: string;
  readonly mac: string;
}

/** IPs we answer for on this interface, as canonical strings (see canonicalIP). */
export type OwnedIps = ReadonlySet<string> | ((ip: string) => boolean);

/** Closed set, meant to be used verbatim as a metric label. */
export type IgnoreReason =
  | "malformed" // parse failure; `detail` says which
  | "bad-checksum"
  | "bad-hop-limit"
  | "unsupported-ethertype" // neither ARP nor IPv6
  | "unsupported-protocol" // ARP for another medium, IPv6 that is not NS/NA, 802.3/LLC frames
  | "vlan-tagged"
  | "own-frame" // our own transmission looped back by the packet socket
  | "not-request" // ARP reply / other ARP op, Neighbor Advertisement
  | "announcement" // gratuitous ARP (sender IP == target IP): someone else's announcement, not a question
  | "other-unicast" // Ethernet-unicast to a different MAC (seen only in promiscuous capture)
  | "bad-destination" // multicast to the wrong group, NS IP destination unrelated to its target...
  | "bad-sender" // would make us reply to a multicast/zero/our own MAC or a multicast/broadcast IPv4 sender
  | "not-owned";

export interface Requester {
  /** "0.0.0.0" for an ARP probe, "::" for a DAD probe. */
  ip: string;
  mac: string;
}

export type ResponderDecision =
  | {
      kind: "reply";
      frame: Buffer;
      /** The owned address that was asked about. */
      ip: string;
      family: IPFamily;
      /** Who asked, so the caller can count requests per IP. */
      requester: Requester;
      /** The question was a conflict probe (ARP probe / IPv6 DAD): someone may be about to take the IP. */
      probe: boolean;
    }
  | { kind: "ignore"; reason: IgnoreReason; detail?: ParseFailureReason };

function ignore(reason: IgnoreReason, detail?: ParseFailureReason): ResponderDecision {
  return detail === undefined ? { kind: "ignore", reason } : { kind: "ignore", reason, detail };
}

function parseFailure(detail: ParseFailureReason): ResponderDecision {
  switch (detail) {
    case "bad-checksum":
    case "bad-hop-limit":
      return ignore(detail);
    case "unsupported":
      return ignore("unsupported-protocol", detail);
    default:
      return ignore("malformed", detail);
  }
}

/** What the socket says about a frame besides its bytes. */
export interface ReceivedWith {
  /** VLAN id of a tag the kernel stripped from the data (PACKET_AUXDATA); undefined: untagged. */
  vlan?: number | undefined;
}

/**
 * Decide how to answer `frame`, received on `iface`. Never throws for any frame content; throws a
 * TypeError only if `iface.mac` itself is not a MAC address (a configuration bug).
 */
export function respond(
  frame: Uint8Array,
  iface: ReceivingInterface,
  owned: OwnedIps,
  received: ReceivedWith = {},
): ResponderDecision {
  const ourMac = normalizeMac(iface.mac);
  if (ourMac === null)
    throw new TypeError(`interface ${iface.name}: invalid MAC ${JSON.stringify(iface.mac)}`);
  const owns = typeof owned === "function" ? owned : (ip: string) => owned.has(ip);

  const eth = parseEthernet(frame);
  if (!eth.ok) return parseFailure(eth.reason);
  // VIPs are announced on the untagged interface; a tagged frame is addressed to a different L2 domain
  // (on a trunk the kernel strips the tag before we see the frame and reports it beside it).
  if (eth.value.vlan !== null || received.vlan !== undefined) return ignore("vlan-tagged");
  if (eth.value.src === ourMac) return ignore("own-frame");
  // A multicast source MAC never exists on the wire; answering it would flood the reply.
  if (!isUnicastMac(eth.value.src)) return ignore("bad-sender");

  switch (eth.value.ethertype) {
    case ETHERTYPE_ARP:
      return respondArp(eth.value, ourMac, owns);
    case ETHERTYPE_IPV6:
      return respondNdp(eth.value, ourMac, owns);
    default:
      return ignore("unsupported-ethertype");
  }
}

function respondArp(eth: EthernetFrame, ourMac: string, owns: (ip: string) => boolean): ResponderDecision {
  const parsed = parseArp(eth.payload);
  if (!parsed.ok) return parseFailure(parsed.reason);
  const arp: ArpPacket = parsed.value;
  if (arp.op !== ARP_OP_REQUEST) return ignore("not-request");
  if (eth.dst !== BROADCAST_MAC && eth.dst !== ourMac) {
    return ignore(isMulticastMac(eth.dst) ? "bad-destination" : "other-unicast");
  }
  // The reply is unicast to the ARP sender hardware address (as Linux does), so it must be a real station.
  if (!isUnicastMac(arp.senderMac) || arp.senderMac === ourMac) return ignore("bad-sender");
  // Sender IP == target IP is an announcement ("I am X"), not a question. 0.0.0.0 senders are RFC 5227
  // probes ("is anyone X?"): those we must answer, it is how the prober learns of the conflict.
  if (arp.senderIp === arp.targetIp) return ignore("announcement");
  if (isIpv4MulticastOrBroadcast(arp.senderIp)) return ignore("bad-sender");
  if (!owns(arp.targetIp)) return ignore("not-owned");
  return {
    kind: "reply",
    frame: buildArpReply({ srcMac: ourMac, srcIp: arp.targetIp, dstMac: arp.senderMac, dstIp: arp.senderIp }),
    ip: arp.targetIp,
    family: "IPv4",
    requester: { ip: arp.senderIp, mac: arp.senderMac },
    probe: arp.senderIp === "0.0.0.0",
  };
}

function respondNdp(eth: EthernetFrame, ourMac: string, owns: (ip: string) => boolean): ResponderDecision {
  const parsed = parseNdp(eth.payload);
  if (!parsed.ok) return parseFailure(parsed.reason);
  if (parsed.value.type !== "ns") return ignore("not-request");
  const ns: NeighborSolicitation = parsed.value;

  // An NS goes to the target's solicited-node group or, for unicast NUD, to the target itself; a
  // multicast frame must carry exactly that group's MAC (not broadcast, not another group).
  const group = solicitedNodeAddress(ns.target);
  if (eth.dst !== ourMac) {
    if (!isMulticastMac(eth.dst)) return ignore("other-unicast");
    if (ns.dst !== group || eth.dst !== ipv6MulticastMac(group)) return ignore("bad-destination");
  }
  if (ns.dst !== ns.target && ns.dst !== group) return ignore("bad-destination");

  const dad = ns.src === IPV6_UNSPECIFIED;
  // DAD probes have no address to answer to: RFC 4861 7.2.4 says reply to all-nodes, Solicited clear.
  const dstMac = dad ? ALL_NODES_MAC : (ns.sourceLinkAddr ?? eth.src);
  if (!dad && (!isUnicastMac(dstMac) || dstMac === ourMac)) return ignore("bad-sender");
  if (!owns(ns.target)) return ignore("not-owned");
  return {
    kind: "reply",
    frame: buildNeighborAdvertisement({
      srcMac: ourMac,
      srcIp: ns.target,
      dstMac,
      dstIp: dad ? ALL_NODES_IP : ns.src,
      target: ns.target,
      solicited: !dad,
      override: true,
    }),
    ip: ns.target,
    family: "IPv6",
    requester: { ip: ns.src, mac: ns.sourceLinkAddr ?? eth.src },
    probe: dad,
  };
}
