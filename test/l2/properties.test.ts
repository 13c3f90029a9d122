// Property and fuzz tests: hostile input never throws, never yields a reply for an address we do not own,
// and every encoder round-trips through its parser.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ARP_PACKET_LEN,
  buildArpRequest,
  encodeArp,
  encodeArpFrame,
  parseArp,
  type ArpPacket,
} from "../../src/l2/arp.js";
import { icmpv6Checksum } from "../../src/l2/checksum.js";
import { encodeEthernet, ETHERTYPE_QINQ, ETHERTYPE_VLAN, parseEthernet } from "../../src/l2/ethernet.js";
import { canonicalIP, formatIpv6 } from "../../src/api/ip.js";
import { formatMac, isMulticastMac } from "../../src/l2/mac.js";
import {
  ALL_NODES_MAC,
  buildNeighborSolicitation,
  encodeNdp,
  parseNdp,
  solicitedNodeAddress,
  type NdpMessage,
} from "../../src/l2/ndp.js";
import { respond, type ResponderDecision } from "../../src/l2/responder.js";
import {
  ARP_REQUEST,
  IFACE,
  NA_REPLY,
  NS_MULTICAST,
  OUR_MAC,
  PEER4,
  PEER6,
  PEER_MAC,
  VIP4,
  VIP6,
} from "./vectors.js";

const RUNS = { numRuns: 3000 };
const OWNED: ReadonlySet<string> = new Set([VIP4, VIP6]);
const NOTHING = () => false;

// ---- arbitraries ------------------------------------------------------------------------------------

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => formatMac(b));
const ipv4Arb = fc.ipV4();
const ipv6Arb = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIpv6(b)),
  fc.ipV6().map((s) => canonicalIP(s) ?? "::1"),
  fc.constantFrom("::", "2001:db8::10", "fe80::1", "::ffff:203.0.113.1").map((s) => canonicalIP(s) ?? "::1"),
);
/** Not multicast: valid as an ND source or target. */
const ipv6UnicastArb = ipv6Arb.filter((ip) => !ip.startsWith("ff"));

const arpArb: fc.Arbitrary<ArpPacket> = fc.record({
  op: fc.integer({ min: 0, max: 0xffff }),
  senderMac: macArb,
  senderIp: ipv4Arb,
  targetMac: macArb,
  targetIp: ipv4Arb,
});

const nsArb: fc.Arbitrary<NdpMessage> = fc
  .record({ src: ipv6UnicastArb, dst: ipv6Arb, target: ipv6UnicastArb, lla: fc.option(macArb) })
  .map(({ src, dst, target, lla }) =>
    src === "::"
      ? { type: "ns", src, dst: solicitedNodeAddress(target), hopLimit: 255, target, sourceLinkAddr: null }
      : { type: "ns", src, dst, hopLimit: 255, target, sourceLinkAddr: lla },
  );

const naArb: fc.Arbitrary<NdpMessage> = fc
  .record({
    src: ipv6UnicastArb,
    dst: ipv6Arb,
    target: ipv6UnicastArb,
    lla: fc.option(macArb),
    router: fc.boolean(),
    solicited: fc.boolean(),
    override: fc.boolean(),
  })
  .map(({ src, dst, target, lla, router, solicited, override }) => ({
    type: "na",
    src,
    dst,
    hopLimit: 255,
    target,
    router,
    solicited: solicited && !dst.startsWith("ff"), // a solicited NA to multicast is invalid
    override,
    targetLinkAddr: lla,
  }));

const ndpArb = fc.oneof(nsArb, naArb);

/** Valid questions we would answer, so mutations start from deep inside the accepting path. */
const SEEDS: readonly Buffer[] = [
  ARP_REQUEST,
  buildArpRequest({ srcMac: PEER_MAC, srcIp: "0.0.0.0", targetIp: VIP4 }),
  buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER4, targetIp: VIP4, dstMac: OUR_MAC }),
  NS_MULTICAST,
  buildNeighborSolicitation({ srcMac: PEER_MAC, srcIp: "::", target: VIP6 }),
  buildNeighborSolicitation({ srcMac: PEER_MAC, srcIp: PEER6, target: VIP6, dstIp: VIP6, dstMac: OUR_MAC }),
  NA_REPLY,
];

type Mutation =
  | { op: "set"; at: number; value: number }
  | { op: "xor"; at: number; mask: number }
  | { op: "truncate"; at: number }
  | { op: "append"; bytes: Uint8Array }
  | { op: "insert"; at: number; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(120), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("xor" as const), at: fc.nat(120), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat(120) }),
  fc.record({ op: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(120), bytes: fc.uint8Array({ maxLength: 16 }) }),
);

function mutate(seed: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of mutations) {
    switch (m.op) {
      case "set":
        if (m.at < b.length) b[m.at] = m.value;
        break;
      case "xor":
        if (m.at < b.length) b[m.at] = (b[m.at] ?? 0) ^ m.mask;
        break;
      case "truncate":
        b = b.subarray(0, m.at);
        break;
      case "append":
        b = Buffer.concat([b, m.bytes]);
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, m.at), m.bytes, b.subarray(m.at)]);
        break;
    }
  }
  return b;
}

/** Re-seal the ICMPv6 checksum of an untagged frame (if it looks like one) so mutations get past it. */
function resealChecksum(frame: Buffer): Buffer {
  if (frame.length < 14 + 40 + 4 || frame.readUInt16BE(12) !== 0x86dd || frame[14 + 6] !== 58) return frame;
  const ip = frame.subarray(14);
  const icmp = ip.subarray(40, Math.min(ip.length, 40 + ip.readUInt16BE(4)));
  if (icmp.length < 4) return frame;
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(icmpv6Checksum(ip.subarray(8, 24), ip.subarray(24, 40), icmp), 2);
  return frame;
}

const mutatedArb = fc
  .record({
    seed: fc.constantFrom(...SEEDS),
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
    reseal: fc.boolean(),
  })
  .map(({ seed, mutations, reseal }) => {
    const frame = mutate(seed, mutations);
    return reseal ? resealChecksum(frame) : frame;
  });

/** Random bytes behind a plausible Ethernet header, so fuzzing reaches the ARP and ND parsers. */
const headedNoiseArb = fc
  .record({
    dst: fc.constantFrom("ffffffffffff", "00005e0053aa", "3333ff000010", "00005e005302"),
    type: fc.constantFrom("0806", "86dd", "8100", "0800"),
    body: fc.uint8Array({ maxLength: 120 }),
  })
  .map(({ dst, type, body }) => Buffer.concat([Buffer.from(dst + "00005e005301" + type, "hex"), body]));

const anyFrameArb = fc.oneof(fc.uint8Array({ maxLength: 200 }), mutatedArb, headedNoiseArb);

// ---- invariants on a decision -------------------------------------------------------------------------

/** A reply is only ever for an owned IP, and is itself a well-formed answer from our MAC. */
function checkDecision(d: ResponderDecision, owned: (ip: string) => boolean): void {
  if (d.kind === "ignore") {
    expect(typeof d.reason).toBe("string");
    return;
  }
  expect(owned(d.ip)).toBe(true);
  const eth = parseEthernet(d.frame);
  if (!eth.ok) throw new Error("reply frame does not parse");
  expect(eth.value.src).toBe(OUR_MAC);
  expect(eth.value.vlan).toBeNull();
  expect(d.frame.length).toBeGreaterThanOrEqual(60);
  if (d.family === "IPv4") {
    expect(isMulticastMac(eth.value.dst)).toBe(false);
    const arp = parseArp(eth.value.payload);
    expect(arp).toMatchObject({ ok: true, value: { op: 2, senderMac: OUR_MAC, senderIp: d.ip } });
  } else {
    expect(isMulticastMac(eth.value.dst) ? eth.value.dst === ALL_NODES_MAC : true).toBe(true);
    const na = parseNdp(eth.value.payload);
    expect(na).toMatchObject({
      ok: true,
      value: { type: "na", target: d.ip, targetLinkAddr: OUR_MAC, override: true },
    });
  }
}

// ---- properties -----------------------------------------------------------------------------------------

describe("fuzz: hostile frames", () => {
  it("parsers never throw and always return a discriminated result", () => {
    fc.assert(
      fc.property(anyFrameArb, (frame) => {
        for (const r of [
          parseEthernet(frame),
          parseArp(frame),
          parseNdp(frame),
          parseArp(frame.subarray(14)),
        ]) {
          expect(typeof r.ok).toBe("boolean");
        }
        const ndp = parseNdp(frame.subarray(14));
        if (ndp.ok) expect(ndp.value.hopLimit).toBe(255);
      }),
      RUNS,
    );
  });

  it("respond never throws and never replies when nothing is owned", () => {
    fc.assert(
      fc.property(anyFrameArb, (frame) => {
        const d = respond(frame, IFACE, NOTHING);
        expect(d.kind).toBe("ignore");
      }),
      RUNS,
    );
  });

  it("respond only ever replies for owned IPs, with a well-formed answer", () => {
    let replies = 0;
    fc.assert(
      fc.property(anyFrameArb, (frame) => {
        const d = respond(frame, IFACE, OWNED);
        if (d.kind === "reply") replies++;
        checkDecision(d, (ip) => OWNED.has(ip));
      }),
      RUNS,
    );
    // Sanity check that the mutator really exercises the reply path (some mutations are harmless).
    expect(replies).toBeGreaterThan(0);
  });

  it("respond with an owns-everything predicate still produces only well-formed replies", () => {
    fc.assert(
      fc.property(anyFrameArb, (frame) => {
        checkDecision(
          respond(frame, IFACE, () => true),
          () => true,
        );
      }),
      RUNS,
    );
  });

  it("does not mutate its input", () => {
    fc.assert(
      fc.property(mutatedArb, (frame) => {
        const copy = Buffer.from(frame);
        respond(frame, IFACE, OWNED);
        expect(frame.equals(copy)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("properties: round trips", () => {
  it("ARP encode -> parse", () => {
    fc.assert(
      fc.property(arpArb, (pkt) => {
        expect(parseArp(encodeArp(pkt))).toEqual({ ok: true, value: pkt });
      }),
      RUNS,
    );
  });

  it("ARP in Ethernet encode -> parse", () => {
    fc.assert(
      fc.property(macArb, macArb, arpArb, (dst, src, pkt) => {
        const eth = parseEthernet(encodeArpFrame(dst, src, pkt));
        if (!eth.ok) throw new Error(eth.reason);
        expect(eth.value).toMatchObject({ dst, src, ethertype: 0x0806, vlan: null });
        expect(parseArp(eth.value.payload)).toEqual({ ok: true, value: pkt });
      }),
      RUNS,
    );
  });

  it("Ethernet encode -> parse", () => {
    const ethertypeArb = fc
      .integer({ min: 0x0600, max: 0xffff })
      .filter((t) => t !== ETHERTYPE_VLAN && t !== ETHERTYPE_QINQ);
    fc.assert(
      fc.property(
        macArb,
        macArb,
        ethertypeArb,
        fc.option(fc.integer({ min: 0, max: 4095 }), { nil: undefined }),
        fc.uint8Array({ maxLength: 100 }),
        (dst, src, ethertype, vlan, payload) => {
          const frame = encodeEthernet({
            dst,
            src,
            ethertype,
            payload,
            ...(vlan === undefined ? {} : { vlan }),
          });
          const r = parseEthernet(frame);
          if (!r.ok) throw new Error(r.reason);
          expect(r.value).toMatchObject({ dst, src, ethertype, vlan: vlan ?? null });
          expect(Buffer.from(r.value.payload.subarray(0, payload.length))).toEqual(Buffer.from(payload));
          expect(r.value.payload.subarray(payload.length).every((b) => b === 0)).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it("NS/NA encode -> parse", () => {
    fc.assert(
      fc.property(ndpArb, (msg) => {
        expect(parseNdp(encodeNdp(msg))).toEqual({ ok: true, value: msg });
      }),
      RUNS,
    );
  });
});

describe("properties: truncation", () => {
  it("every proper prefix of an ARP packet fails", () => {
    fc.assert(
      fc.property(arpArb, (pkt) => {
        const bytes = encodeArp(pkt);
        for (let n = 0; n < ARP_PACKET_LEN; n++) expect(parseArp(bytes.subarray(0, n)).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("every proper prefix of an NS/NA packet fails", () => {
    fc.assert(
      fc.property(ndpArb, (msg) => {
        const bytes = encodeNdp(msg);
        for (let n = 0; n < bytes.length; n++) expect(parseNdp(bytes.subarray(0, n)).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("every truncation of an answerable frame inside its headers is ignored", () => {
    for (const seed of SEEDS) {
      // ARP frames carry 18 bytes of optional padding after the 42 meaningful ones.
      const meaningful = seed.readUInt16BE(12) === 0x0806 ? 14 + ARP_PACKET_LEN : seed.length;
      for (let n = 0; n < meaningful; n++) {
        const d = respond(seed.subarray(0, n), IFACE, OWNED);
        expect(d.kind, `length ${n}`).toBe("ignore");
      }
    }
  });
});
