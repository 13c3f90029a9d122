import { describe, expect, it } from "vitest";
import { buildArpRequest, buildGratuitousArp, encodeArpFrame, parseArp } from "../../src/l2/arp.js";
import { encodeEthernet, ETHERTYPE_IPV6, parseEthernet } from "../../src/l2/ethernet.js";
import {
  ALL_NODES_MAC,
  buildNeighborSolicitation,
  buildUnsolicitedNA,
  encodeNdp,
  parseNdp,
  type NeighborSolicitation,
} from "../../src/l2/ndp.js";
import { respond, type ResponderDecision } from "../../src/l2/responder.js";
import {
  ARP_REPLY,
  ARP_REQUEST,
  IFACE,
  NA_REPLY,
  NS_MULTICAST,
  OTHER_MAC,
  OUR_MAC,
  PEER4,
  PEER6,
  PEER_MAC,
  VIP4,
  VIP6,
} from "./vectors.js";

const OWNED: ReadonlySet<string> = new Set([VIP4, VIP6]);
/** Solicited-node multicast MAC of VIP6 (2001:db8::10). */
const SN_MAC = "33:33:ff:00:00:10";

function replyOf(d: ResponderDecision) {
  if (d.kind !== "reply") throw new Error(`expected a reply, got ignore/${d.reason}/${d.detail ?? ""}`);
  return d;
}

function ndFrame(ethDst: string, msg: NeighborSolicitation, ethSrc = PEER_MAC): Buffer {
  return encodeEthernet({ dst: ethDst, src: ethSrc, ethertype: ETHERTYPE_IPV6, payload: encodeNdp(msg) });
}

const NS: NeighborSolicitation = {
  type: "ns",
  src: PEER6,
  dst: "ff02::1:ff00:10",
  hopLimit: 255,
  target: VIP6,
  sourceLinkAddr: PEER_MAC,
};

describe("respond: ARP", () => {
  it("answers a broadcast request for an owned IP with the exact reply vector", () => {
    const d = replyOf(respond(ARP_REQUEST, IFACE, OWNED));
    expect(d.frame).toEqual(ARP_REPLY);
    expect(d).toMatchObject({
      ip: VIP4,
      family: "IPv4",
      requester: { ip: PEER4, mac: PEER_MAC },
      probe: false,
    });
  });

  it("answers a request unicast to our MAC (cache re-validation)", () => {
    const frame = buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER4, targetIp: VIP4, dstMac: OUR_MAC });
    expect(replyOf(respond(frame, IFACE, OWNED)).frame).toEqual(ARP_REPLY);
  });

  it("accepts a predicate and an upper-case interface MAC", () => {
    const d = respond(ARP_REQUEST, { name: "eth0", mac: OUR_MAC.toUpperCase() }, (ip) => ip === VIP4);
    expect(replyOf(d).frame).toEqual(ARP_REPLY);
  });

  it("ignores a request unicast to another MAC, or to a multicast MAC", () => {
    const other = buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER4, targetIp: VIP4, dstMac: OTHER_MAC });
    expect(respond(other, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "other-unicast" });
    const mcast = buildArpRequest({
      srcMac: PEER_MAC,
      srcIp: PEER4,
      targetIp: VIP4,
      dstMac: "01:00:5e:00:00:01",
    });
    expect(respond(mcast, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-destination" });
  });

  it("answers an RFC 5227 probe (sender 0.0.0.0) so the prober sees the conflict", () => {
    const probe = buildArpRequest({ srcMac: PEER_MAC, srcIp: "0.0.0.0", targetIp: VIP4 });
    const d = replyOf(respond(probe, IFACE, OWNED));
    expect(d).toMatchObject({ probe: true, requester: { ip: "0.0.0.0", mac: PEER_MAC } });
    const eth = parseEthernet(d.frame);
    expect(eth.ok && eth.value.dst).toBe(PEER_MAC);
    expect(eth.ok && parseArp(eth.value.payload)).toEqual({
      ok: true,
      value: { op: 2, senderMac: OUR_MAC, senderIp: VIP4, targetMac: PEER_MAC, targetIp: "0.0.0.0" },
    });
  });

  it("does not treat announcements (sender IP == target IP) as questions", () => {
    const announce = buildGratuitousArp(PEER_MAC, VIP4, "request");
    expect(respond(announce, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "announcement" });
    expect(respond(buildGratuitousArp(PEER_MAC, VIP4, "reply"), IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "not-request",
    });
  });

  it("ignores replies and other ops", () => {
    expect(respond(ARP_REPLY, { name: "eth0", mac: OTHER_MAC }, OWNED)).toEqual({
      kind: "ignore",
      reason: "not-request",
    });
    const rarp = encodeArpFrame("ff:ff:ff:ff:ff:ff", PEER_MAC, {
      op: 3,
      senderMac: PEER_MAC,
      senderIp: PEER4,
      targetMac: PEER_MAC,
      targetIp: VIP4,
    });
    expect(respond(rarp, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "not-request" });
  });

  it("ignores requests for IPs we do not own", () => {
    const frame = buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER4, targetIp: "203.0.113.11" });
    expect(respond(frame, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "not-owned" });
    expect(respond(ARP_REQUEST, IFACE, new Set())).toEqual({ kind: "ignore", reason: "not-owned" });
  });

  it("refuses to reply to bogus senders", () => {
    for (const senderMac of ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", OUR_MAC]) {
      const frame = encodeArpFrame("ff:ff:ff:ff:ff:ff", PEER_MAC, {
        op: 1,
        senderMac,
        senderIp: PEER4,
        targetMac: "00:00:00:00:00:00",
        targetIp: VIP4,
      });
      expect(respond(frame, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-sender" });
    }
    for (const senderIp of ["224.0.0.1", "239.255.255.255", "255.255.255.255"]) {
      const frame = buildArpRequest({ srcMac: PEER_MAC, srcIp: senderIp, targetIp: VIP4 });
      expect(respond(frame, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-sender" });
    }
    const mcastSrc = Buffer.from(ARP_REQUEST);
    mcastSrc[6] = 0x01; // Ethernet source with the group bit
    expect(respond(mcastSrc, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-sender" });
  });

  it("ignores VLAN-tagged frames, our own frames and other ethertypes", () => {
    const tagged = encodeEthernet({
      dst: "ff:ff:ff:ff:ff:ff",
      src: PEER_MAC,
      ethertype: 0x0806,
      payload: ARP_REQUEST.subarray(14, 42),
      vlan: 100,
    });
    expect(respond(tagged, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "vlan-tagged" });
    // On a trunk the kernel strips the tag and reports it beside the frame (PACKET_AUXDATA).
    for (const vlan of [0, 20, 4095]) {
      expect(respond(ARP_REQUEST, IFACE, OWNED, { vlan })).toEqual({ kind: "ignore", reason: "vlan-tagged" });
    }
    expect(respond(ARP_REQUEST, IFACE, OWNED, { vlan: undefined }).kind).toBe("reply");
    expect(respond(buildGratuitousArp(OUR_MAC, VIP4, "request"), IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "own-frame",
    });
    const ipv4 = encodeEthernet({
      dst: OUR_MAC,
      src: PEER_MAC,
      ethertype: 0x0800,
      payload: Buffer.alloc(20),
    });
    expect(respond(ipv4, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "unsupported-ethertype" });
  });

  it("reports malformed and unsupported frames with a detail", () => {
    expect(respond(ARP_REQUEST.subarray(0, 30), IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "malformed",
      detail: "truncated",
    });
    const ieee802 = Buffer.from(ARP_REQUEST);
    ieee802[15] = 6; // htype 6
    expect(respond(ieee802, IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "unsupported-protocol",
      detail: "unsupported",
    });
    expect(respond(Buffer.alloc(0), IFACE, OWNED)).toMatchObject({ kind: "ignore", reason: "malformed" });
  });

  it("throws only for a misconfigured interface MAC", () => {
    expect(() => respond(ARP_REQUEST, { name: "eth0", mac: "bogus" }, OWNED)).toThrow(TypeError);
  });
});

describe("respond: NDP", () => {
  it("answers a multicast NS with the exact NA vector", () => {
    const d = replyOf(respond(NS_MULTICAST, IFACE, OWNED));
    expect(d.frame).toEqual(NA_REPLY);
    expect(d).toMatchObject({
      ip: VIP6,
      family: "IPv6",
      requester: { ip: PEER6, mac: PEER_MAC },
      probe: false,
    });
  });

  it("answers a unicast NS (NUD) without SLLA using the Ethernet source", () => {
    const frame = ndFrame(OUR_MAC, { ...NS, dst: VIP6, sourceLinkAddr: null });
    const d = replyOf(respond(frame, IFACE, OWNED));
    expect(d.frame).toEqual(NA_REPLY);
  });

  it("prefers the SLLA over the Ethernet source for the reply destination", () => {
    const frame = ndFrame(OUR_MAC, { ...NS, dst: VIP6, sourceLinkAddr: OTHER_MAC });
    const d = replyOf(respond(frame, IFACE, OWNED));
    const eth = parseEthernet(d.frame);
    expect(eth.ok && eth.value.dst).toBe(OTHER_MAC);
    expect(d.requester).toEqual({ ip: PEER6, mac: OTHER_MAC });
  });

  it("answers DAD to all-nodes with Solicited clear and Override set", () => {
    const dad = buildNeighborSolicitation({ srcMac: PEER_MAC, srcIp: "::", target: VIP6 });
    const d = replyOf(respond(dad, IFACE, OWNED));
    expect(d).toMatchObject({ probe: true, requester: { ip: "::", mac: PEER_MAC } });
    expect(d.frame).toEqual(buildUnsolicitedNA(OUR_MAC, VIP6));
    const eth = parseEthernet(d.frame);
    expect(eth.ok && eth.value.dst).toBe(ALL_NODES_MAC);
    expect(eth.ok && parseNdp(eth.value.payload)).toMatchObject({
      ok: true,
      value: {
        type: "na",
        dst: "ff02::1",
        solicited: false,
        override: true,
        router: false,
        targetLinkAddr: OUR_MAC,
      },
    });
  });

  it("ignores NS unicast to another MAC", () => {
    const frame = ndFrame(OTHER_MAC, { ...NS, dst: VIP6 });
    expect(respond(frame, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "other-unicast" });
  });

  it("ignores NS to the wrong group, to broadcast, or to an unrelated unicast IP", () => {
    const wrongGroup = ndFrame("33:33:ff:00:00:11", { ...NS, dst: "ff02::1:ff00:11" });
    expect(respond(wrongGroup, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-destination" });
    const macMismatch = ndFrame("33:33:ff:00:00:11", NS);
    expect(respond(macMismatch, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-destination" });
    const broadcast = ndFrame("ff:ff:ff:ff:ff:ff", NS);
    expect(respond(broadcast, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-destination" });
    const allNodes = ndFrame(ALL_NODES_MAC, { ...NS, dst: "ff02::1" });
    expect(respond(allNodes, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-destination" });
    const unrelated = ndFrame(OUR_MAC, { ...NS, dst: "2001:db8::99" });
    expect(respond(unrelated, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-destination" });
  });

  it("ignores NS for IPs we do not own", () => {
    const frame = buildNeighborSolicitation({ srcMac: PEER_MAC, srcIp: PEER6, target: "2001:db8::11" });
    expect(respond(frame, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "not-owned" });
  });

  it("ignores NAs, including our own unsolicited ones looped back", () => {
    expect(respond(NA_REPLY, { name: "eth0", mac: PEER_MAC }, OWNED)).toEqual({
      kind: "ignore",
      reason: "not-request",
    });
    expect(respond(buildUnsolicitedNA(OUR_MAC, VIP6), IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "own-frame",
    });
  });

  it("drops NS with hop limit below 255 or a bad checksum", () => {
    expect(respond(ndFrame(SN_MAC, { ...NS, hopLimit: 64 }), IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "bad-hop-limit",
    });
    const corrupt = Buffer.from(NS_MULTICAST);
    corrupt[NS_MULTICAST.length - 1] = (corrupt[NS_MULTICAST.length - 1] ?? 0) ^ 0x10;
    expect(respond(corrupt, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-checksum" });
  });

  it("refuses to unicast a reply to a multicast or our own SLLA", () => {
    for (const sourceLinkAddr of ["33:33:00:00:00:01", OUR_MAC]) {
      const frame = ndFrame(SN_MAC, { ...NS, sourceLinkAddr });
      expect(respond(frame, IFACE, OWNED)).toEqual({ kind: "ignore", reason: "bad-sender" });
    }
  });

  it("reports hostile ND as malformed with a detail", () => {
    const dadWithSlla = ndFrame(SN_MAC, { ...NS, src: "::" });
    expect(respond(dadWithSlla, IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "malformed",
      detail: "bad-option",
    });
    const echo = Buffer.from(NS_MULTICAST);
    echo[54] = 128; // ICMPv6 echo request (checksum now wrong, but the type is checked first)
    expect(respond(echo, IFACE, OWNED)).toEqual({
      kind: "ignore",
      reason: "unsupported-protocol",
      detail: "unsupported",
    });
  });
});
