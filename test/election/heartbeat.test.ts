import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeHeartbeat, encodeHeartbeat } from "../../src/election/heartbeat.js";
import type { HeartbeatInfo } from "../../src/election/membership.js";

const hb: HeartbeatInfo = {
  from: "master-0",
  incarnation: 1732600000000,
  seq: 42,
  leaving: false,
  ready: true,
  heard: { "master-1": 12 },
  announcing: ["203.0.113.50"],
  carrier: { ens3: true },
};
const key = Buffer.from("a shared secret from the chart's Secret");

describe("heartbeat codec", () => {
  it("round-trips with and without a key", () => {
    expect(decodeHeartbeat(encodeHeartbeat(hb))).toEqual({ ok: true, heartbeat: hb });
    expect(decodeHeartbeat(encodeHeartbeat(hb, key), key)).toEqual({ ok: true, heartbeat: hb });
  });

  it("rejects a forged or tampered heartbeat when a key is set", () => {
    expect(decodeHeartbeat(encodeHeartbeat(hb), key)).toEqual({ ok: false, reason: "bad-mac" });
    const packet = encodeHeartbeat(hb, key);
    packet.writeUInt8(packet.readUInt8(packet.length - 3) ^ 1, packet.length - 3);
    expect(decodeHeartbeat(packet, key)).toEqual({ ok: false, reason: "bad-mac" });
  });

  it("rejects mistyped fields", () => {
    const bad = { ...hb, heard: { "master-1": "soon" } } as unknown as HeartbeatInfo;
    expect(decodeHeartbeat(encodeHeartbeat(bad))).toEqual({ ok: false, reason: "bad-heard" });
  });

  it("never throws on hostile input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const withMagic = Buffer.concat([Buffer.from("FIP1"), Buffer.alloc(32), Buffer.from(bytes)]);
        expect(decodeHeartbeat(Buffer.from(bytes)).ok).toBe(false);
        decodeHeartbeat(withMagic);
      }),
    );
  });
});
