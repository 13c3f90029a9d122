import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  encodeHeartbeatBody,
  nameHash,
  type Heartbeat,
  type PeerReport,
} from "../../src/election/heartbeat.js";
import { PumpCore, type PumpConfig } from "../../src/election/pump.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

const key = Buffer.from("a shared secret");
const OUR_BOOT = "00000000000000aa";
const PEER_BOOT = "00000000000000bb";
const config: PumpConfig = { boot: OUR_BOOT, key, intervalMs: 40, freshnessMs: 1000, watchdogMs: 1000 };

/** A pump at t=0 with peer "b" (address "b", port 1) registered, with a template. */
function pump(extra: Partial<PumpConfig> = {}): PumpCore {
  const p = new PumpCore({ ...config, ...extra }, 0);
  p.setPeer("b", nameHash("b"), "b", 1);
  p.setTemplate("b", encodeHeartbeatBody(emptyHeartbeat("a")), 0);
  return p;
}

/** A heartbeat from "b" to us: echoing our round `echo` (undefined: no echo). */
function fromB(seq: number, echo: number | undefined, over: Partial<Heartbeat> = {}): Buffer {
  return encodeHeartbeat(
    emptyHeartbeat("b", {
      boot: PEER_BOOT,
      seq,
      ...(echo !== undefined ? { echo: { boot: OUR_BOOT, seq: echo } } : {}),
      ...over,
    }),
    key,
  );
}

const report = (name: string, ageMs: number): PeerReport => ({
  hash: nameHash(name),
  ageMs,
  direct: true,
  alive: true,
  eligible: true,
  leaving: false,
});

describe("PumpCore rounds", () => {
  it("patches seq, echo and ages into the template, signed: decodes to the template with those replaced", () => {
    const arb = fc.record({
      seq: fc.integer({ min: 1, max: 1000 }),
      builtAge: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constant(0xffff)),
      late: fc.integer({ min: 0, max: 30 }),
      heard: fc.boolean(),
      peerSeq: fc.integer({ min: 1, max: 2 ** 40 }),
      ips: fc.array(fc.constantFrom("203.0.113.7", "2001:db8::1"), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(arb, ({ seq, builtAge, late, heard, peerSeq, ips }) => {
        const p = new PumpCore({ ...config, firstSeq: seq }, 0);
        p.setPeer("b", nameHash("b"), "b", 1);
        p.setPeer("c", nameHash("c"), "c", 1);
        const template = emptyHeartbeat("a", {
          boot: OUR_BOOT,
          seq: 99,
          echo: { boot: "1111111111111111", seq: 5 },
          peers: [report("b", 3), report("c", 4), report("stranger", Math.min(builtAge, 0xffff))],
          acquired: ips,
        });
        p.setTemplate("b", encodeHeartbeatBody(template), 0);
        // b's round 1 echoes nothing yet; its datagram (arrived at 10) makes it known and accepted.
        p.round(0);
        if (heard) p.receive(fromB(peerSeq, seq), "b", 1, 10);
        const now = 40 + late;
        const [packet] = p.round(now);
        const decoded = decodeHeartbeat(packet!.data, key);
        expect(decoded.ok).toBe(true);
        const hb = decoded.ok ? decoded.heartbeat : undefined;
        // The encoder caps ages at 65535 ("never"): left as it is; the rest grow with the template's age.
        const built = Math.min(builtAge, 0xffff);
        const strangerAge = built === 0xffff ? 0xffff : Math.min(0xfffe, built + now);
        const expected: Heartbeat = {
          ...template,
          seq: seq + 1,
          peers: [
            report("b", heard ? now - 10 : Math.min(0xfffe, 3 + now)),
            report("c", 4 + now),
            report("stranger", strangerAge),
          ],
          acquiredComplete: true,
        };
        if (heard) expected.echo = { boot: PEER_BOOT, seq: peerSeq };
        else delete expected.echo;
        expect(hb).toEqual(expected);
      }),
    );
  });

  it("numbers rounds from firstSeq, logs them for the drain, and keeps the rhythm", () => {
    const p = pump({ firstSeq: 7 });
    p.setTemplate("b", encodeHeartbeatBody(emptyHeartbeat("a")), 0);
    expect(p.round(0)).toHaveLength(1);
    expect(p.nextRoundAt()).toBe(40);
    p.round(45);
    expect(p.nextRoundAt()).toBe(80);
    expect(p.drain()).toMatchObject({
      sent: [
        { seq: 7, at: 0 },
        { seq: 8, at: 45 },
      ],
      stalledMs: 0,
    });
    expect(p.drain().sent).toEqual([]);
  });

  it("a round more than an interval late restarts the rhythm from now and reports the stall", () => {
    const p = pump();
    p.round(0);
    p.round(500);
    expect(p.nextRoundAt()).toBe(540);
    expect(p.drain().stalledMs).toBe(460);
  });

  it("sends nothing to a peer without a template; with none, a round uses no sequence number", () => {
    const p = pump();
    p.setTemplate("b", undefined, 0);
    expect(p.round(0)).toEqual([]);
    expect(p.drain().sent).toEqual([]);
    p.setTemplate("b", encodeHeartbeatBody(emptyHeartbeat("a")), 0);
    expect(p.round(40).map((x) => [x.peer, x.address, x.port])).toEqual([["b", "b", 1]]);
    p.setTemplate("b", undefined, 40);
    expect(p.round(80)).toEqual([]);
  });

  it("stops sending (and numbering) while the watchdog has expired, until the next arm()", () => {
    const p = pump();
    p.setTemplate("b", encodeHeartbeatBody(emptyHeartbeat("a")), 0);
    p.arm({ peers: [] }, 0);
    expect(p.round(1000)).toHaveLength(1);
    expect(p.round(1040)).toEqual([]);
    p.arm({ peers: [] }, 1070);
    expect(p.round(1080)).toHaveLength(1);
    const d = p.drain();
    expect(d.watchdogStops).toBe(1);
    expect(d.sent.map((r) => r.seq)).toEqual([1, 2]);
  });
});

describe("PumpCore receiving", () => {
  it("queues every datagram for the drain, in order, with arrival time and address", () => {
    const p = pump();
    p.receive(Buffer.from("junk"), "x", 9, 1);
    p.receive(fromB(1, undefined), "b", 1, 2);
    expect(p.drain().datagrams.map((d) => [d.address, d.port, d.arrivedAt])).toEqual([
      ["x", 9, 1],
      ["b", 1, 2],
    ]);
  });

  it("accepts an echo of a recent round of ours; not a stale one, a replay, another boot's, or from elsewhere", () => {
    const p = pump();
    p.round(0); // seq 1 at 0
    p.receive(fromB(5, 1), "c", 1, 10); // wrong address
    expect(p.peer("b")?.lastAccepted).toBeUndefined();
    p.receive(fromB(5, 1), "b", 1, 10);
    expect(p.peer("b")).toEqual(expect.objectContaining({ lastAccepted: 10, confirmedAt: 0 }));
    p.receive(fromB(5, 1), "b", 1, 20); // replay
    p.receive(fromB(4, 1), "b", 1, 20); // reordered
    p.receive(fromB(6, 99), "b", 1, 20); // never sent
    p.receive(fromB(7, undefined), "b", 1, 20); // no echo
    expect(p.peer("b")?.lastAccepted).toBe(10);
    p.receive(fromB(8, 1), "b", 1, 1001); // our round 1 is older than the freshness
    expect(p.peer("b")?.lastAccepted).toBe(10);
    const otherBoot = encodeHeartbeat(
      emptyHeartbeat("b", { boot: PEER_BOOT, seq: 9, echo: { boot: "00000000000000cc", seq: 1 } }),
      key,
    );
    p.receive(otherBoot, "b", 1, 30);
    expect(p.peer("b")?.lastAccepted).toBe(10);
    // A restart of the peer (new boot) with a lower seq is accepted.
    p.receive(fromB(1, 1, { boot: "00000000000000dd" }), "b", 1, 40);
    expect(p.peer("b")?.lastAccepted).toBe(40);
  });

  it("never accepts a replayed or stale-echo datagram (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ seq: fc.integer({ min: 1, max: 20 }), echo: fc.integer({ min: 0, max: 30 }) }), {
          maxLength: 30,
        }),
        (packets) => {
          const p = pump();
          const sentAt = new Map<number, number>();
          let now = 0;
          let best = 0;
          for (const { seq, echo } of packets) {
            now += 40;
            p.round(now);
            sentAt.set(sentAt.size + 1, now);
            const before = p.peer("b")?.lastAccepted;
            p.receive(fromB(seq, echo), "b", 1, now + 1);
            const accepted = p.peer("b")?.lastAccepted !== before;
            const fresh = sentAt.has(echo) && now + 1 - sentAt.get(echo)! <= config.freshnessMs;
            expect(accepted).toBe(seq > best && fresh);
            if (accepted) best = seq;
          }
        },
      ),
    );
  });

  it("echoes the latest authenticated heartbeat of the peer's current process, accepted or not", () => {
    const p = pump();
    p.setTemplate("b", encodeHeartbeatBody(emptyHeartbeat("a")), 0);
    const echoOf = (now: number) => {
      const hb = decodeHeartbeat(p.round(now)[0]!.data, key);
      return hb.ok ? hb.heartbeat.echo : "bad";
    };
    expect(echoOf(0)).toBeUndefined();
    p.receive(fromB(5, undefined), "b", 1, 1);
    expect(echoOf(40)).toEqual({ boot: PEER_BOOT, seq: 5 });
    p.receive(fromB(3, undefined), "b", 1, 41);
    expect(echoOf(80)).toEqual({ boot: PEER_BOOT, seq: 5 });
    p.receive(fromB(2, undefined, { boot: "00000000000000dd" }), "b", 1, 81);
    expect(echoOf(120)).toEqual({ boot: "00000000000000dd", seq: 2 });
    p.receive(encodeHeartbeat(emptyHeartbeat("b", { seq: 50 }), Buffer.from("wrong")), "b", 1, 121);
    expect(echoOf(160)).toEqual({ boot: "00000000000000dd", seq: 2 });
  });
});

describe("PumpCore wakes", () => {
  it("a content wake iff the body changed beyond seq, echo and ages (property)", () => {
    const arb = fc.record({
      ready: fc.boolean(),
      quorum: fc.boolean(),
      timeoutMs: fc.constantFrom(200, 300),
      age: fc.integer({ min: 0, max: 5000 }),
      echo: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      acquired: fc.subarray(["203.0.113.1", "203.0.113.2"]),
    });
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 8 }), (bodies) => {
        const p = pump();
        let previous: string | undefined;
        bodies.forEach((b, i) => {
          const packet = fromB(i + 1, b.echo, {
            ready: b.ready,
            quorum: b.quorum,
            timeoutMs: b.timeoutMs,
            peers: [report("a", b.age)],
            acquired: b.acquired,
          });
          const content = JSON.stringify([b.ready, b.quorum, b.timeoutMs, b.acquired]);
          const wake = p.receive(packet, "b", 1, i);
          expect(wake === "content").toBe(content !== previous);
          previous = content;
          p.drain();
        });
      }),
    );
  });

  it("a content wake fires at most once between two drains", () => {
    const p = pump();
    expect(p.receive(fromB(1, undefined, { ready: true }), "b", 1, 1)).toBe("content");
    expect(p.receive(fromB(2, undefined, { ready: false }), "b", 1, 2)).toBeUndefined();
    p.drain();
    expect(p.receive(fromB(3, undefined, { ready: true }), "b", 1, 3)).toBe("content");
  });

  it("fires once at the first armed trigger: deadline, silence, lapsing confirmation", () => {
    const p = pump();
    p.round(0);
    p.receive(fromB(1, 1), "b", 1, 10);
    p.arm({ wakeAt: 500, peers: [{ name: "b", silenceMs: 201, confirmMs: 116 }] }, 20);
    expect(p.nextTriggerAt()).toBe(116);
    expect(p.due(115)).toBeUndefined();
    expect(p.due(116)).toBe("confirm");
    expect(p.due(300)).toBeUndefined(); // fired: nothing until the next arm()
    expect(p.nextTriggerAt()).toBe(Infinity);
    p.arm({ wakeAt: 500, peers: [{ name: "b", silenceMs: 201 }] }, 120);
    expect(p.due(211)).toBe("silence");
    p.arm({ wakeAt: 500, peers: [] }, 220);
    expect(p.due(499)).toBeUndefined();
    expect(p.due(500)).toBe("deadline");
  });

  it("wakes on an accepted datagram from a peer armed wakeOnAccept, not on one that is not accepted", () => {
    const p = pump();
    p.round(0);
    p.receive(fromB(1, undefined), "b", 1, 1);
    p.drain();
    p.arm({ peers: [{ name: "b", wakeOnAccept: true }] }, 2);
    expect(p.receive(fromB(2, undefined), "b", 1, 3)).toBeUndefined();
    expect(p.receive(fromB(3, 1), "b", 1, 4)).toBe("accept");
  });

  it("wakes at once when armed wakeOnAccept for a peer accepted since the drain (during the step)", () => {
    const p = pump();
    p.round(0);
    p.drain();
    p.receive(fromB(1, 1), "b", 1, 1);
    p.arm({ peers: [{ name: "b", wakeOnAccept: true }] }, 2);
    expect(p.nextTriggerAt()).toBe(-Infinity);
    expect(p.due(2)).toBe("accept");
  });

  it("drops datagrams beyond the queue limit (counted, not looked at) and wakes when it is half full", () => {
    const p = pump({ queueLimit: 4 });
    p.round(0);
    p.receive(Buffer.from("x"), "x", 1, 1);
    expect(p.receive(Buffer.from("x"), "x", 1, 2)).toBe("queue");
    p.receive(Buffer.from("x"), "x", 1, 3);
    p.receive(Buffer.from("x"), "x", 1, 4);
    p.receive(fromB(1, 1), "b", 1, 5);
    expect(p.peer("b")?.lastAccepted).toBeUndefined();
    const d = p.drain();
    expect(d.datagrams).toHaveLength(4);
    expect(d.overflow).toBe(1);
  });

  it("signs with a new key after setKey, and checks datagrams with it", () => {
    const p = pump();
    p.setTemplate("b", encodeHeartbeatBody(emptyHeartbeat("a")), 0);
    const other = Buffer.from("the next key");
    p.setKey(other);
    expect(decodeHeartbeat(p.round(0)[0]!.data, other).ok).toBe(true);
    p.receive(fromB(1, 1), "b", 1, 1);
    expect(p.peer("b")?.lastAccepted).toBeUndefined();
  });
});
