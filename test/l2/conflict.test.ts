import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildArpReply, buildArpRequest, buildGratuitousArp } from "../../src/l2/arp.js";
import { detectConflict } from "../../src/l2/conflict.js";
import { buildUnsolicitedNA } from "../../src/l2/ndp.js";

const OURS = "02:00:00:00:00:01";
const OTHER = "02:00:00:00:00:66";
const VIP = "203.0.113.50";
const VIP6 = "2001:db8:1::50";
const CLIENT = "203.0.113.100";
const owns = (ip: string) => ip === VIP || ip === VIP6;

describe("detectConflict: another MAC claims our IP", () => {
  it("a gratuitous ARP for our IP from another MAC", () => {
    for (const op of ["request", "reply"] as const) {
      expect(detectConflict(buildGratuitousArp(OTHER, VIP, op), OURS, owns)).toEqual({
        ip: VIP,
        mac: OTHER,
        kind: op === "reply" ? "arp-reply" : "gratuitous-arp",
      });
    }
  });

  it("not from a frame of another VLAN (its tag stripped by the kernel, reported beside it)", () => {
    const frame = buildGratuitousArp(OTHER, VIP, "request");
    expect(detectConflict(frame, OURS, owns, { vlan: 20 })).toBeUndefined();
    expect(detectConflict(frame, OURS, owns, { vlan: undefined })?.kind).toBe("gratuitous-arp");
  });

  it("an ARP reply for our IP from another MAC", () => {
    const frame = buildArpReply({ srcMac: OTHER, srcIp: VIP, dstMac: "02:00:00:00:00:aa", dstIp: CLIENT });
    expect(detectConflict(frame, OURS, owns)).toEqual({ ip: VIP, mac: OTHER, kind: "arp-reply" });
  });

  it("another MAC asking with our IP as its own", () => {
    const frame = buildArpRequest({ srcMac: OTHER, srcIp: VIP, targetIp: CLIENT });
    expect(detectConflict(frame, OURS, owns)).toEqual({ ip: VIP, mac: OTHER, kind: "arp-sender" });
  });

  it("an unsolicited neighbor advertisement for our IPv6 address", () => {
    expect(detectConflict(buildUnsolicitedNA(OTHER, VIP6), OURS, owns)).toEqual({
      ip: VIP6,
      mac: OTHER,
      kind: "neighbor-advertisement",
    });
  });

  it("not: our own announcements, questions about our IP, probes, other IPs", () => {
    expect(detectConflict(buildGratuitousArp(OURS, VIP, "request"), OURS, owns)).toBeUndefined();
    expect(detectConflict(buildUnsolicitedNA(OURS, VIP6), OURS, owns)).toBeUndefined();
    expect(
      detectConflict(buildArpRequest({ srcMac: OTHER, srcIp: CLIENT, targetIp: VIP }), OURS, owns),
    ).toBeUndefined();
    expect(
      detectConflict(buildArpRequest({ srcMac: OTHER, srcIp: "0.0.0.0", targetIp: VIP }), OURS, owns),
    ).toBeUndefined();
    expect(detectConflict(buildGratuitousArp(OTHER, "203.0.113.51", "request"), OURS, owns)).toBeUndefined();
  });

  it("never throws on any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        detectConflict(bytes, OURS, owns);
      }),
    );
  });
});
