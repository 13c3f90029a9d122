// Address conflicts: another station claims, on the wire, an IP we answer for. Pure.
import { ARP_OP_REPLY, parseArp } from "./arp.js";
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, parseEthernet } from "./ethernet.js";
import { isUnicastMac, normalizeMac } from "./mac.js";
import { parseNdp } from "./ndp.js";
import type { ReceivedWith } from "./responder.js";

export type ConflictKind =
  | "arp-reply" // answered an ARP request for our IP
  | "gratuitous-arp" // announced our IP (sender IP == target IP)
  | "arp-sender" // asked something using our IP as its own
  | "neighbor-advertisement"; // advertised our IPv6 address

export interface Conflict {
  ip: string;
  /** The other station's MAC. */
  mac: string;
  kind: ConflictKind;
}

/**
 * Whether `frame` shows another MAC claiming an IP `owns` says is ours. Untagged frames only (as
 * answering: no tag in the data nor beside it); our own frames never count. Never throws for any frame content.
 */
export function detectConflict(
  frame: Uint8Array,
  ourMac: string,
  owns: (ip: string) => boolean,
  received: ReceivedWith = {},
): Conflict | undefined {
  const mine = normalizeMac(ourMac);
  const eth = parseEthernet(frame);
  if (!mine || !eth.ok || eth.value.vlan !== null || received.vlan !== undefined) return undefined;
  if (eth.value.src === mine) return undefined;
  if (eth.value.ethertype === ETHERTYPE_ARP) {
    const arp = parseArp(eth.value.payload);
    if (!arp.ok) return undefined;
    const { senderIp, senderMac, targetIp, op } = arp.value;
    if (senderMac === mine || !isUnicastMac(senderMac) || !owns(senderIp)) return undefined;
    const kind: ConflictKind =
      op === ARP_OP_REPLY ? "arp-reply" : senderIp === targetIp ? "gratuitous-arp" : "arp-sender";
    return { ip: senderIp, mac: senderMac, kind };
  }
  if (eth.value.ethertype === ETHERTYPE_IPV6) {
    const nd = parseNdp(eth.value.payload);
    if (!nd.ok || nd.value.type !== "na" || !owns(nd.value.target)) return undefined;
    const mac = nd.value.targetLinkAddr ?? eth.value.src;
    if (mac === mine) return undefined;
    return { ip: nd.value.target, mac, kind: "neighbor-advertisement" };
  }
  return undefined;
}
