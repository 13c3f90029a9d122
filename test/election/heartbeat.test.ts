import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  announcedDigest,
  decodeHeartbeat,
  encodeHeartbeat,
  MAX_DATAGRAM,
  MAX_SEQ,
  nameHash,
  summarizeCarrier,
  type Heartbeat,
} from "../../src/election/heartbeat.js";

const key = Buffer.from("a shared secret from the chart's Secret");
const hb: Heartbeat = {
  from: "master-0",
  boot: "0123456789abcdef",
  seq: 42,
  timeoutMs: 200,
  echo: { boot: "fedcba9876543210", seq: 7 },
  leaving: false,
  ready: true,
  quorum: true,
  peers: [
    { hash: nameHash("master-1"), ageMs: 12, direct: true, alive: true, eligible: true, leaving: false },
  ],
  announcedCount: 1,
  announcedDigest: announcedDigest(["203.0.113.50"]),
  acquired: ["203.0.113.50", "2001:db8::5"],
  carrier: { ens3: true, ens4: false },
};

describe("heartbeat wire v2", () => {
  it("round-trips", () => {
    const complete = { ...hb, acquiredComplete: true };
    expect(decodeHeartbeat(encodeHeartbeat(hb, key), key)).toEqual({ ok: true, heartbeat: complete });
    const { echo: _, ...noEcho } = complete;
    expect(decodeHeartbeat(encodeHeartbeat(noEcho, key), key)).toEqual({ ok: true, heartbeat: noEcho });
  });

  it("relays each member's carrier as all, some, none or not known", () => {
    const peers = (["all", "some", "none", undefined] as const).map((carrier, i) => ({
      ...hb.peers[0]!,
      hash: nameHash(`node-${i}`),
      ...(carrier ? { carrier } : {}),
    }));
    const decoded = decodeHeartbeat(encodeHeartbeat({ ...hb, peers }, key), key);
    expect(decoded.ok && decoded.heartbeat.peers).toEqual(peers);
    expect(summarizeCarrier({ ens3: true, ens4: true })).toBe("all");
    expect(summarizeCarrier({ ens3: true, ens4: false })).toBe("some");
    expect(summarizeCarrier({ ens3: false })).toBe("none");
    expect(summarizeCarrier({})).toBe("none");
  });

  it("drops forged, tampered and wrong-key packets as unauthenticated", () => {
    const other = Buffer.from("the next key");
    expect(decodeHeartbeat(encodeHeartbeat(hb, other), key)).toEqual({
      ok: false,
      reason: "unauthenticated",
    });
    const packet = encodeHeartbeat(hb, key);
    packet[packet.length - 3]! ^= 1;
    expect(decodeHeartbeat(packet, key)).toEqual({ ok: false, reason: "unauthenticated" });
  });

  it("drops oversized, truncated and foreign packets", () => {
    expect(decodeHeartbeat(Buffer.alloc(MAX_DATAGRAM + 1), key)).toEqual({ ok: false, reason: "oversized" });
    expect(decodeHeartbeat(Buffer.from("FIP2"), key)).toEqual({ ok: false, reason: "truncated" });
    expect(decodeHeartbeat(Buffer.alloc(100), key)).toEqual({ ok: false, reason: "bad-magic" });
  });

  it("carries an incarnation of 2^53-1 but nothing above (no precision games)", () => {
    const max = { ...hb, seq: MAX_SEQ, acquiredComplete: true };
    expect(decodeHeartbeat(encodeHeartbeat(max, key), key)).toEqual({ ok: true, heartbeat: max });
  });

  it("fits one 1,200-byte datagram with 5,000 announced IPs and 500 peers", () => {
    const ips = Array.from({ length: 5000 }, (_, i) => `2001:db8::${i.toString(16)}`);
    const big: Heartbeat = {
      ...hb,
      peers: Array.from({ length: 500 }, (_, i) => ({ ...hb.peers[0]!, hash: nameHash(`node-${i}`) })),
      announcedCount: ips.length,
      announcedDigest: announcedDigest(ips),
      acquired: ips,
    };
    const packet = encodeHeartbeat(big, key);
    expect(packet.length).toBeLessThanOrEqual(MAX_DATAGRAM);
    const decoded = decodeHeartbeat(packet, key);
    expect(decoded.ok && decoded.heartbeat.announcedCount).toBe(5000);
    expect(decoded.ok && decoded.heartbeat.acquired.length).toBeGreaterThan(0);
  });

  it("never throws on hostile input, authenticated or not", () => {
    const mac = (body: Buffer) => {
      // Authenticate garbage with the right key: the parser itself must hold.
      const packet = encodeHeartbeat(hb, key);
      const header = packet.subarray(0, 36);
      return Buffer.concat([header, body]);
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1300 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(decodeHeartbeat(b, key).ok).toBe(false);
        decodeHeartbeat(mac(b), key);
      }),
    );
  });

  it("rejects an authenticated body that is malformed", async () => {
    const { createHmac } = await import("node:crypto");
    for (const body of [Buffer.from([0]), Buffer.from([3, 0x61, 0x62]), Buffer.alloc(40, 0xff)]) {
      const tag = createHmac("sha256", key).update(body).digest();
      expect(decodeHeartbeat(Buffer.concat([Buffer.from("FIP2"), tag, body]), key)).toEqual({
        ok: false,
        reason: "malformed",
      });
    }
  });
});
