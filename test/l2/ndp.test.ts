import { describe, expect, it } from "vitest";
import { encodeEthernet, ETHERTYPE_IPV6 } from "../../src/l2/ethernet.js";
import {
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildUnsolicitedNA,
  encodeNdp,
  ipv6MulticastMac,
  parseNdp,
  solicitedNodeAddress,
  solicitedNodeMac,
  type NdpMessage,
} from "../../src/l2/ndp.js";
import { NA_REPLY, NA_UNSOLICITED, NS_MULTICAST, OUR_MAC, PEER6, PEER_MAC, VIP6 } from "./vectors.js";

const ipv6Of = (frame: Buffer) => frame.subarray(14);

/** Re-encode an IPv6/ICMPv6 packet after `edit`, fixing the checksum so only the edit is under test. */
function patched(msg: NdpMessage, edit: (icmp: Buffer) => void, fixChecksum = true): Buffer {
  const pkt = Buffer.from(encodeNdp(msg));
  const icmp = pkt.subarray(40);
  edit(icmp);
  if (fixChecksum) {
    icmp.writeUInt16BE(0, 2);
    const sum = recomputeChecksum(pkt);
    icmp.writeUInt16BE(sum, 2);
  }
  return pkt;
}

function recomputeChecksum(pkt: Buffer): number {
  // Independent of src/l2/checksum.ts on purpose: a straightforward word sum.
  const icmp = pkt.subarray(40);
  const words: number[] = [];
  const ph = Buffer.alloc(40);
  pkt.copy(ph, 0, 8, 40);
  ph.writeUInt32BE(icmp.length, 32);
  ph[39] = 58;
  const all = Buffer.concat([ph, icmp, Buffer.alloc(icmp.length % 2)]);
  for (let i = 0; i < all.length; i += 2) words.push(all.readUInt16BE(i));
  let sum = words.reduce((a, b) => a + b, 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const NS: NdpMessage = {
  type: "ns",
  src: PEER6,
  dst: "ff02::1:ff00:10",
  hopLimit: 255,
  target: VIP6,
  sourceLinkAddr: PEER_MAC,
};

describe("ndp helpers", () => {
  it("derives solicited-node groups and MACs", () => {
    expect(solicitedNodeAddress("2001:db8::10")).toBe("ff02::1:ff00:10");
    expect(solicitedNodeAddress("2001:db8::abcd:ef12:3456")).toBe("ff02::1:ff12:3456");
    expect(solicitedNodeMac("2001:db8::abcd:ef12:3456")).toBe("33:33:ff:12:34:56");
    expect(ipv6MulticastMac("ff02::1")).toBe("33:33:00:00:00:01");
  });
});

describe("ndp parse", () => {
  it("parses the NS vector", () => {
    expect(parseNdp(ipv6Of(NS_MULTICAST))).toEqual({ ok: true, value: NS });
  });

  it("parses the NA vectors", () => {
    expect(parseNdp(ipv6Of(NA_REPLY))).toEqual({
      ok: true,
      value: {
        type: "na",
        src: VIP6,
        dst: PEER6,
        hopLimit: 255,
        target: VIP6,
        router: false,
        solicited: true,
        override: true,
        targetLinkAddr: OUR_MAC,
      },
    });
    const una = parseNdp(ipv6Of(NA_UNSOLICITED));
    expect(una.ok && una.value.type === "na" && !una.value.solicited && una.value.override).toBe(true);
  });

  it("fails on every truncation", () => {
    for (const frame of [NS_MULTICAST, NA_REPLY, NA_UNSOLICITED]) {
      const pkt = ipv6Of(frame);
      for (let n = 0; n < pkt.length; n++) expect(parseNdp(pkt.subarray(0, n)).ok, `length ${n}`).toBe(false);
    }
  });

  it("rejects a bad checksum", () => {
    const pkt = Buffer.from(ipv6Of(NS_MULTICAST));
    pkt[40 + 3] = (pkt[40 + 3] ?? 0) ^ 0xff;
    expect(parseNdp(pkt)).toEqual({ ok: false, reason: "bad-checksum" });
    const body = Buffer.from(ipv6Of(NS_MULTICAST));
    body[40 + 20] = (body[40 + 20] ?? 0) ^ 0x01; // flip a target bit
    expect(parseNdp(body)).toEqual({ ok: false, reason: "bad-checksum" });
  });

  it("requires hop limit 255 (RFC 4861 7.1.1)", () => {
    for (const hopLimit of [0, 1, 64, 254]) {
      expect(parseNdp(encodeNdp({ ...NS, hopLimit }))).toEqual({ ok: false, reason: "bad-hop-limit" });
    }
  });

  it("rejects wrong version, next header and ICMPv6 type", () => {
    const v4ish = Buffer.from(ipv6Of(NS_MULTICAST));
    v4ish[0] = 0x45;
    expect(parseNdp(v4ish)).toEqual({ ok: false, reason: "bad-header" });
    const hbh = Buffer.from(ipv6Of(NS_MULTICAST));
    hbh[6] = 0; // hop-by-hop options header in front
    expect(parseNdp(hbh)).toEqual({ ok: false, reason: "unsupported" });
    expect(parseNdp(patched(NS, (icmp) => (icmp[0] = 128)))).toEqual({ ok: false, reason: "unsupported" });
    expect(parseNdp(patched(NS, (icmp) => (icmp[0] = 134)))).toEqual({ ok: false, reason: "unsupported" });
  });

  it("rejects a non-zero code", () => {
    expect(parseNdp(patched(NS, (icmp) => (icmp[1] = 1)))).toEqual({ ok: false, reason: "bad-code" });
  });

  it("rejects short bodies with a consistent payload length", () => {
    const pkt = Buffer.from(encodeNdp({ ...NS, sourceLinkAddr: null })).subarray(0, 40 + 20);
    pkt.writeUInt16BE(20, 4);
    pkt.writeUInt16BE(0, 42);
    pkt.writeUInt16BE(recomputeChecksum(pkt), 42);
    expect(parseNdp(pkt)).toEqual({ ok: false, reason: "bad-length" });
  });

  it("rejects zero-length, overrunning and wrong-size options", () => {
    expect(parseNdp(patched(NS, (icmp) => (icmp[25] = 0)))).toEqual({ ok: false, reason: "bad-option" });
    expect(parseNdp(patched(NS, (icmp) => (icmp[25] = 2)))).toEqual({ ok: false, reason: "bad-option" });
    // A well-formed 16-byte SLLA cannot be an Ethernet address.
    const big = Buffer.concat([
      encodeNdp({ ...NS, sourceLinkAddr: null }),
      Buffer.from([1, 2, ...Array(14).fill(0)]),
    ]);
    big.writeUInt16BE(40, 4);
    big.writeUInt16BE(0, 42);
    big.writeUInt16BE(recomputeChecksum(big), 42);
    expect(parseNdp(big)).toEqual({ ok: false, reason: "bad-option" });
  });

  it("skips unknown options and keeps the first of duplicate SLLAs", () => {
    const extra = Buffer.from([
      ...[14, 1, 1, 2, 3, 4, 5, 6], // nonce option (RFC 3971), skipped
      ...[1, 1, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x99], // duplicate SLLA, ignored
    ]);
    const pkt = Buffer.concat([encodeNdp(NS), extra]);
    pkt.writeUInt16BE(pkt.length - 40, 4);
    pkt.writeUInt16BE(0, 42);
    pkt.writeUInt16BE(recomputeChecksum(pkt), 42);
    expect(parseNdp(pkt)).toEqual({ ok: true, value: NS });
  });

  it("ignores trailing Ethernet padding beyond the payload length", () => {
    const padded = Buffer.concat([ipv6Of(NS_MULTICAST), Buffer.alloc(10, 0xee)]);
    expect(parseNdp(padded)).toEqual({ ok: true, value: NS });
  });

  it("rejects multicast sources and targets", () => {
    expect(parseNdp(encodeNdp({ ...NS, src: "ff02::1" }))).toEqual({ ok: false, reason: "bad-address" });
    expect(parseNdp(encodeNdp({ ...NS, target: "ff02::1" }))).toEqual({ ok: false, reason: "bad-address" });
  });

  it("enforces the DAD rules (RFC 4861 7.1.1)", () => {
    const dad: NdpMessage = { ...NS, src: "::", sourceLinkAddr: null };
    expect(parseNdp(encodeNdp(dad)).ok).toBe(true);
    expect(parseNdp(encodeNdp({ ...dad, sourceLinkAddr: PEER_MAC }))).toEqual({
      ok: false,
      reason: "bad-option",
    });
    expect(parseNdp(encodeNdp({ ...dad, dst: VIP6 }))).toEqual({ ok: false, reason: "bad-address" });
    expect(parseNdp(encodeNdp({ ...dad, dst: "ff02::1" }))).toEqual({ ok: false, reason: "bad-address" });
  });

  it("rejects a solicited NA to a multicast destination (RFC 4861 7.1.2)", () => {
    const na: NdpMessage = {
      type: "na",
      src: VIP6,
      dst: "ff02::1",
      hopLimit: 255,
      target: VIP6,
      router: false,
      solicited: true,
      override: true,
      targetLinkAddr: OUR_MAC,
    };
    expect(parseNdp(encodeNdp(na))).toEqual({ ok: false, reason: "bad-address" });
    expect(parseNdp(encodeNdp({ ...na, solicited: false })).ok).toBe(true);
  });
});

describe("ndp build", () => {
  it("builds the NS vector byte for byte", () => {
    expect(buildNeighborSolicitation({ srcMac: PEER_MAC, srcIp: PEER6, target: VIP6 })).toEqual(NS_MULTICAST);
  });

  it("builds the solicited NA vector byte for byte (checksum 0xdaac)", () => {
    const frame = buildNeighborAdvertisement({
      srcMac: OUR_MAC,
      srcIp: VIP6,
      dstMac: PEER_MAC,
      dstIp: PEER6,
      target: VIP6,
      solicited: true,
      override: true,
    });
    expect(frame).toEqual(NA_REPLY);
    expect(frame.readUInt16BE(14 + 40 + 2)).toBe(0xdaac);
  });

  it("builds the unsolicited NA vector byte for byte (checksum 0x4963)", () => {
    expect(buildUnsolicitedNA(OUR_MAC, VIP6)).toEqual(NA_UNSOLICITED);
    expect(buildUnsolicitedNA(OUR_MAC, "2001:DB8:0::10")).toEqual(NA_UNSOLICITED);
  });

  it("omits the SLLA on DAD probes and needs a MAC for unicast NS", () => {
    const dad = buildNeighborSolicitation({ srcMac: PEER_MAC, srcIp: "::", target: VIP6 });
    expect(parseNdp(ipv6Of(dad))).toMatchObject({ ok: true, value: { src: "::", sourceLinkAddr: null } });
    expect(() =>
      buildNeighborSolicitation({ srcMac: PEER_MAC, srcIp: PEER6, target: VIP6, dstIp: VIP6 }),
    ).toThrow(TypeError);
  });

  it("sets the router flag only on request", () => {
    const spec = { srcMac: OUR_MAC, srcIp: VIP6, dstMac: PEER_MAC, dstIp: PEER6, target: VIP6 };
    const r = parseNdp(
      ipv6Of(buildNeighborAdvertisement({ ...spec, solicited: false, override: false, router: true })),
    );
    expect(r).toMatchObject({ ok: true, value: { router: true, solicited: false, override: false } });
  });

  it("wraps in Ethernet with the IPv6 ethertype", () => {
    const frame = encodeEthernet({
      dst: PEER_MAC,
      src: OUR_MAC,
      ethertype: ETHERTYPE_IPV6,
      payload: encodeNdp(NS),
    });
    expect(frame.readUInt16BE(12)).toBe(0x86dd);
    expect(() => encodeNdp({ ...NS, hopLimit: 256 })).toThrow(RangeError);
  });
});
