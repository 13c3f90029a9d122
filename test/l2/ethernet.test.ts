import { describe, expect, it } from "vitest";
import { encodeEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV6, parseEthernet } from "../../src/l2/ethernet.js";
import { ARP_REQUEST, hex, NS_MULTICAST, OUR_MAC, PEER_MAC } from "./vectors.js";

describe("ethernet", () => {
  it("parses the ARP request vector", () => {
    const r = parseEthernet(ARP_REQUEST);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({
      dst: "ff:ff:ff:ff:ff:ff",
      src: PEER_MAC,
      ethertype: ETHERTYPE_ARP,
      vlan: null,
    });
    expect(r.value.payload.length).toBe(46); // 28 bytes of ARP + 18 of padding
  });

  it("parses the NS vector", () => {
    const r = parseEthernet(NS_MULTICAST);
    expect(r.ok && r.value.ethertype === ETHERTYPE_IPV6 && r.value.dst === "33:33:ff:00:00:10").toBe(true);
  });

  it("exposes one 802.1Q tag", () => {
    const tagged = hex(`ffffffffffff 00005e005301 8100 a064 0806 ${"00".repeat(46)}`);
    const r = parseEthernet(tagged);
    expect(r.ok && r.value.vlan === 100 && r.value.ethertype === ETHERTYPE_ARP).toBe(true);
    expect(r.ok && r.value.payload.length).toBe(46);
  });

  it("rejects truncation and 802.3 length-field frames", () => {
    for (let n = 0; n < 14; n++)
      expect(parseEthernet(ARP_REQUEST.subarray(0, n))).toEqual({ ok: false, reason: "truncated" });
    expect(parseEthernet(hex("ffffffffffff 00005e005301 8100 0064 08"))).toEqual({
      ok: false,
      reason: "truncated",
    });
    expect(parseEthernet(hex(`ffffffffffff 00005e005301 002e ${"aa".repeat(46)}`))).toEqual({
      ok: false,
      reason: "unsupported",
    });
  });

  it("pads to 60 bytes (64 when tagged) and round-trips", () => {
    const payload = hex("0102030405");
    const frame = encodeEthernet({ dst: PEER_MAC, src: OUR_MAC, ethertype: ETHERTYPE_ARP, payload });
    expect(frame.length).toBe(60);
    expect(frame.subarray(0, 19)).toEqual(hex("00005e005301 00005e0053aa 0806 0102030405"));
    expect(frame.subarray(19).every((b) => b === 0)).toBe(true);
    const tagged = encodeEthernet({
      dst: PEER_MAC,
      src: OUR_MAC,
      ethertype: ETHERTYPE_ARP,
      payload,
      vlan: 7,
    });
    expect(tagged.length).toBe(64);
    const r = parseEthernet(tagged);
    expect(r.ok && r.value.vlan === 7 && r.value.payload.subarray(0, 5).equals(payload)).toBe(true);
  });

  it("does not pad frames that are already long enough", () => {
    const payload = Buffer.alloc(100, 0xab);
    expect(encodeEthernet({ dst: PEER_MAC, src: OUR_MAC, ethertype: 0x88b5, payload }).length).toBe(114);
  });

  it("throws on invalid encoder arguments", () => {
    const payload = Buffer.alloc(0);
    expect(() => encodeEthernet({ dst: "nope", src: OUR_MAC, ethertype: ETHERTYPE_ARP, payload })).toThrow(
      TypeError,
    );
    expect(() => encodeEthernet({ dst: PEER_MAC, src: OUR_MAC, ethertype: 0x05dc, payload })).toThrow(
      RangeError,
    );
    expect(() =>
      encodeEthernet({ dst: PEER_MAC, src: OUR_MAC, ethertype: 0x0800, payload, vlan: 4096 }),
    ).toThrow(RangeError);
  });

  it("accepts a plain Uint8Array", () => {
    const r = parseEthernet(new Uint8Array(ARP_REQUEST));
    expect(r.ok).toBe(true);
  });
});
