import { describe, expect, it } from "vitest";
import {
  ARP_PACKET_LEN,
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  encodeArp,
  parseArp,
} from "../../src/l2/arp.js";
import { parseEthernet } from "../../src/l2/ethernet.js";
import {
  ARP_REPLY,
  ARP_REQUEST,
  GARP_REPLY,
  GARP_REQUEST,
  hex,
  OUR_MAC,
  PEER4,
  PEER_MAC,
  VIP4,
} from "./vectors.js";

function arpPayload(frame: Buffer): Buffer {
  return frame.subarray(14);
}

describe("arp", () => {
  it("parses the request vector", () => {
    expect(parseArp(arpPayload(ARP_REQUEST))).toEqual({
      ok: true,
      value: { op: 1, senderMac: PEER_MAC, senderIp: PEER4, targetMac: "00:00:00:00:00:00", targetIp: VIP4 },
    });
  });

  it("parses the reply vector", () => {
    expect(parseArp(arpPayload(ARP_REPLY))).toEqual({
      ok: true,
      value: { op: 2, senderMac: OUR_MAC, senderIp: VIP4, targetMac: PEER_MAC, targetIp: PEER4 },
    });
  });

  it("builds the reply vector byte for byte", () => {
    expect(buildArpReply({ srcMac: OUR_MAC, srcIp: VIP4, dstMac: PEER_MAC, dstIp: PEER4 })).toEqual(
      ARP_REPLY,
    );
  });

  it("builds the request vector byte for byte", () => {
    expect(buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER4, targetIp: VIP4 })).toEqual(ARP_REQUEST);
  });

  it("builds gratuitous request and reply", () => {
    expect(buildGratuitousArp(OUR_MAC, VIP4, "request")).toEqual(GARP_REQUEST);
    expect(buildGratuitousArp(OUR_MAC, VIP4, "reply")).toEqual(GARP_REPLY);
    expect(buildGratuitousArp(OUR_MAC, VIP4, "reply").length).toBe(60);
  });

  it("round-trips encodeArp/parseArp", () => {
    const pkt = {
      op: 3,
      senderMac: PEER_MAC,
      senderIp: "198.51.100.1",
      targetMac: OUR_MAC,
      targetIp: "0.0.0.0",
    };
    expect(encodeArp(pkt).length).toBe(ARP_PACKET_LEN);
    expect(parseArp(encodeArp(pkt))).toEqual({ ok: true, value: pkt });
  });

  it("fails on every truncation of the 28-byte packet", () => {
    const pkt = arpPayload(ARP_REQUEST).subarray(0, ARP_PACKET_LEN);
    for (let n = 0; n < ARP_PACKET_LEN; n++) {
      expect(parseArp(pkt.subarray(0, n)).ok, `length ${n}`).toBe(false);
    }
    // Truncating the Ethernet frame inside the ARP packet fails too (the padding is optional).
    for (let n = 14; n < 14 + ARP_PACKET_LEN; n++) {
      const eth = parseEthernet(ARP_REQUEST.subarray(0, n));
      expect(eth.ok && parseArp(eth.value.payload).ok, `frame length ${n}`).toBe(false);
    }
  });

  it("rejects non-Ethernet/IPv4 ARP as unsupported", () => {
    const base = arpPayload(ARP_REQUEST);
    for (const [offset, value] of [
      [1, 6], // htype IEEE 802
      [2, 0x86], // ptype IPv6-ish
      [4, 8], // hlen
      [5, 16], // plen
    ] as const) {
      const mutated = Buffer.from(base);
      mutated[offset] = value;
      expect(parseArp(mutated)).toEqual({ ok: false, reason: "unsupported" });
    }
  });

  it("ignores trailing bytes", () => {
    const withTrailer = Buffer.concat([arpPayload(ARP_REQUEST), hex("deadbeef")]);
    expect(parseArp(withTrailer).ok).toBe(true);
  });

  it("throws on invalid encoder arguments", () => {
    const good = { op: 1, senderMac: PEER_MAC, senderIp: PEER4, targetMac: OUR_MAC, targetIp: VIP4 };
    expect(() => encodeArp({ ...good, op: 65536 })).toThrow(RangeError);
    expect(() => encodeArp({ ...good, senderIp: "2001:db8::1" })).toThrow(TypeError);
    expect(() => encodeArp({ ...good, targetMac: "00:00" })).toThrow(TypeError);
  });
});
