import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  repeatInto,
  type Heartbeat,
  type PeerReport,
} from "../../src/election/heartbeat.js";

const key = Buffer.from("a shared secret from the chart's Secret");
const hex8 = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString("hex"));
const report: fc.Arbitrary<PeerReport> = fc.record(
  {
    hash: fc.nat({ max: 0xffffffff }),
    ageMs: fc.nat({ max: 0xffff }),
    direct: fc.boolean(),
    alive: fc.boolean(),
    eligible: fc.boolean(),
    leaving: fc.boolean(),
    carrier: fc.constantFrom("all" as const, "some" as const, "none" as const),
  },
  { requiredKeys: ["hash", "ageMs", "direct", "alive", "eligible", "leaving"] },
);
const heartbeat: fc.Arbitrary<Heartbeat> = fc.record(
  {
    from: fc.constantFrom("master-0", "worker-12", "n"),
    boot: hex8,
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
    echo: fc.record({ boot: hex8, seq: fc.integer({ min: 0, max: 2 ** 40 }) }),
    timeoutMs: fc.nat({ max: 0xffff }),
    leaving: fc.boolean(),
    ready: fc.boolean(),
    quorum: fc.boolean(),
    peers: fc.array(report, { maxLength: 8 }),
    announcedCount: fc.nat({ max: 5000 }),
    announcedDigest: hex8,
    acquired: fc.array(fc.constantFrom("203.0.113.5", "2001:db8::7", "192.0.2.1"), { maxLength: 3 }),
    carrier: fc.dictionary(fc.constantFrom("eth0", "ens3"), fc.boolean()),
  },
  {
    requiredKeys: [
      "from",
      "boot",
      "seq",
      "timeoutMs",
      "leaving",
      "ready",
      "quorum",
      "peers",
      "announcedCount",
      "announcedDigest",
      "acquired",
      "carrier",
    ],
  },
);
/** What may change between two heartbeats of the same content: sequence, echo, report ages. */
const next = fc.record({
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  echo: fc.option(fc.record({ boot: hex8, seq: fc.integer({ min: 0, max: 2 ** 40 }) }), { nil: undefined }),
  ages: fc.array(fc.nat({ max: 0xffff }), { minLength: 8, maxLength: 8 }),
});

const decode = (hb: Heartbeat): Heartbeat => {
  const d = decodeHeartbeat(encodeHeartbeat(hb, key), key);
  if (!d.ok) throw new Error(d.reason);
  return d.heartbeat;
};

describe("a repeated heartbeat (same content, new sequence, echo and ages)", () => {
  it("writes into the previous heartbeat exactly what a full decode of the new packet gives", () => {
    fc.assert(
      fc.property(heartbeat, next, (first, change) => {
        const { echo: _, ...rest } = first;
        const second: Heartbeat = {
          ...rest,
          seq: change.seq,
          ...(change.echo ? { echo: change.echo } : {}),
          peers: first.peers.map((p, i) => ({ ...p, ageMs: change.ages[i]! })),
        };
        const packet = encodeHeartbeat(second, key);
        const hb = decode(first);
        expect(repeatInto(hb, packet)).toBe(true);
        expect(hb).toEqual(decode(second));
      }),
      { numRuns: 500 },
    );
  });

  it("refuses, untouched, a body whose report count differs from the previous heartbeat's", () => {
    fc.assert(
      fc.property(heartbeat, report, (first, extra) => {
        const packet = encodeHeartbeat({ ...first, peers: [...first.peers, extra] }, key);
        const hb = decode(first);
        expect(repeatInto(hb, packet)).toBe(false);
        expect(hb).toEqual(decode(first)); // untouched
      }),
    );
  });
});
