import { describe, expect, it } from "vitest";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  encodeHeartbeatBody,
  nameHash,
  type Heartbeat,
} from "../../src/election/heartbeat.js";
import { NativePumpCore } from "../../src/native/pump.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

// The pump's logic (the code its thread runs) with explicit times: byte-exact and deterministic.
const key = Buffer.from("the pump core test's key");
const A = "aaaaaaaaaaaaaaaa";
const B = "bbbbbbbbbbbbbbbb";
const UNRELATED = 0x0badcafe;
const B_AT = { address: "127.0.0.2", port: 7946 };

const report = (hash: number, ageMs: number, direct: boolean) => ({
  hash,
  ageMs,
  direct,
  alive: true,
  eligible: true,
  leaving: false,
});
const ours = emptyHeartbeat("a", {
  boot: A,
  peers: [report(nameHash("b"), 65535, false), report(UNRELATED, 100, true)],
});

function core(): NativePumpCore {
  const c = new NativePumpCore({
    key,
    boot: A,
    firstSeq: 100,
    intervalMs: 40,
    freshnessMs: 1000,
    watchdogMs: 1000,
    now: 0,
  });
  c.setPeer("b", nameHash("b"), B_AT.address, B_AT.port);
  c.setTemplate("b", encodeHeartbeatBody(ours), 0);
  c.arm(0, { peers: [] });
  return c;
}

/** b's heartbeat to a, signed, arriving at `at` (from b's address unless told). */
function fromB(c: NativePumpCore, at: number, hb: Partial<Heartbeat>, address = B_AT.address): void {
  const data = encodeHeartbeat(emptyHeartbeat("b", { boot: B, ...hb }), key);
  c.receive({ data, address, port: B_AT.port, arrivedAt: at });
}

/** The round due at `now`: the one packet to b, decoded. */
function round(c: NativePumpCore, now: number): Heartbeat {
  const packets = c.tick(now);
  expect(packets.map((p) => p.peer)).toEqual(["b"]);
  const d = decodeHeartbeat(packets[0]!.data, key);
  if (!d.ok) throw new Error(d.reason);
  return d.heartbeat;
}
const ageOfB = (hb: Heartbeat) => hb.peers.find((p) => p.hash === nameHash("b"))!.ageMs;

describe("the native pump's logic", () => {
  it("patches sequence, echo and ages into the template and signs it, byte for byte", () => {
    const c = core();
    const expected = (seq: number, echo: Heartbeat["echo"], ageB: number, ageUnrelated: number) =>
      encodeHeartbeat(
        {
          ...ours,
          seq,
          ...(echo ? { echo } : {}),
          peers: [report(nameHash("b"), ageB, false), report(UNRELATED, ageUnrelated, true)],
        },
        key,
      );
    expect(c.tick(0)).toEqual([{ peer: "b", data: expected(100, undefined, 65535, 100) }]);
    expect(c.tick(39.9)).toEqual([]); // not due
    fromB(c, 10, { seq: 7, echo: { boot: A, seq: 100 } });
    expect(c.tick(40)).toEqual([{ peer: "b", data: expected(101, { boot: B, seq: 7 }, 30, 140) }]);
    // Math.round: 70.5 -> 71, 80.5 -> 81.
    expect(c.tick(80.5)).toEqual([{ peer: "b", data: expected(102, { boot: B, seq: 7 }, 71, 181) }]);
    expect(c.drain().sent).toEqual([
      { seq: 100, at: 0 },
      { seq: 101, at: 40 },
      { seq: 102, at: 80.5 },
    ]);
  });

  it("accepts only a fresh echo of a round it sent, from the registered address, never a replay", () => {
    const c = core();
    round(c, 0); // seq 100 at 0
    fromB(c, 10, { seq: 7, echo: { boot: A, seq: 100 } }, "127.0.0.3"); // a stranger: ignored
    const data = encodeHeartbeat(emptyHeartbeat("b", { boot: B, seq: 7, echo: { boot: A, seq: 100 } }), key);
    c.receive({ data, address: B_AT.address, port: B_AT.port + 1, arrivedAt: 10 }); // another port: ignored
    let hb = round(c, 40); // seq 101
    expect([hb.echo, ageOfB(hb)]).toEqual([undefined, 65535]);
    fromB(c, 45, { seq: 7, echo: { boot: A, seq: 999 } }); // a round never sent: echo only
    hb = round(c, 80); // seq 102
    expect([hb.echo, ageOfB(hb)]).toEqual([{ boot: B, seq: 7 }, 65535]);
    fromB(c, 85, { seq: 8, echo: { boot: A, seq: 101 } }); // accepted
    expect(ageOfB(round(c, 120))).toBe(35); // seq 103
    fromB(c, 125, { seq: 8, echo: { boot: A, seq: 103 } }); // a replay of seq 8
    expect(ageOfB(round(c, 160))).toBe(75); // seq 104
    fromB(c, 165, { seq: 9 }); // no echo
    hb = round(c, 200); // seq 105
    expect([hb.echo, ageOfB(hb)]).toEqual([{ boot: B, seq: 9 }, 115]);
    fromB(c, 1201, { seq: 10, echo: { boot: A, seq: 105 } }); // 1,001 ms after it was sent: stale
    c.arm(1230, { peers: [] }); // feeds the watchdog
    hb = round(c, 1240); // seq 106, 1,000 ms late
    expect([hb.seq, ageOfB(hb)]).toEqual([106, 1155]);
    expect(c.drain()).toMatchObject({ stalledMs: 1000 });
    fromB(c, 1245, { boot: "cccccccccccccccc", seq: 1, echo: { boot: A, seq: 106 } }); // restarted: new boot
    hb = round(c, 1280);
    expect([hb.echo, ageOfB(hb)]).toEqual([{ boot: "cccccccccccccccc", seq: 1 }, 35]);
  });

  it("wakes at wakeAt, then not again until armed; reports the deadline", () => {
    const c = core();
    c.tick(0);
    c.arm(0, { wakeAt: 100, peers: [] });
    expect(c.nextDeadline()).toBe(40);
    expect(c.tick(40)).toHaveLength(1);
    expect([c.checkTriggers(99.9), c.nextDeadline()]).toEqual([false, 80]);
    c.tick(80);
    expect(c.nextDeadline()).toBe(100);
    expect(c.checkTriggers(100)).toBe(true);
    expect([c.checkTriggers(101), c.nextDeadline()]).toEqual([false, 120]);
  });

  it("wakes on content, not on seq, echo or ages; once between two drains", () => {
    const c = core();
    c.tick(0);
    const content = { peers: [report(UNRELATED, 5, true)] };
    fromB(c, 1, { seq: 1, ...content });
    expect(c.checkTriggers(1)).toBe(true); // the first heartbeat is news
    c.drain();
    c.arm(2, { peers: [] });
    fromB(c, 3, { seq: 2, echo: { boot: A, seq: 100 }, peers: [report(UNRELATED, 999, true)] });
    expect(c.checkTriggers(3)).toBe(false);
    fromB(c, 4, { seq: 3, ...content, timeoutMs: 300 });
    expect(c.checkTriggers(4)).toBe(true);
    fromB(c, 5, { seq: 4, ...content, timeoutMs: 400 });
    expect(c.checkTriggers(5)).toBe(false); // once between two drains, armed or not
    c.drain();
    fromB(c, 7, { seq: 6, ...content, timeoutMs: 600 });
    expect(c.checkTriggers(7)).toBe(true);
  });

  it("wakes on silence, on confirmation age and on acceptance, per peer", () => {
    const c = core();
    c.tick(0); // seq 100
    fromB(c, 10, { seq: 1, echo: { boot: A, seq: 100 } }); // accepted: lastAccepted 10, confirmedAt 0
    expect(c.checkTriggers(10)).toBe(true); // news
    c.drain();
    c.arm(11, { peers: [{ name: "b", silenceMs: 200, confirmMs: 150 }] });
    expect(c.nextDeadline()).toBe(40);
    c.tick(40);
    c.tick(80);
    c.tick(120);
    expect(c.nextDeadline()).toBe(150); // confirmedAt 0 + 150
    expect(c.checkTriggers(149)).toBe(false);
    expect(c.checkTriggers(150)).toBe(true);
    c.drain();
    c.arm(151, { peers: [{ name: "b", silenceMs: 200 }] });
    c.tick(160);
    c.tick(200);
    expect([c.checkTriggers(209), c.nextDeadline()]).toEqual([false, 210]);
    expect(c.checkTriggers(210)).toBe(true);
    c.drain();
    c.arm(211, { peers: [{ name: "b", wakeOnAccept: true }] });
    fromB(c, 215, { seq: 2, echo: { boot: B, seq: 1 } }); // echoes someone else: not accepted
    expect(c.checkTriggers(215)).toBe(false);
    fromB(c, 216, { seq: 3, echo: { boot: A, seq: 105 } }); // seq 105 sent at 200
    expect(c.checkTriggers(216)).toBe(true);
  });

  it("wakes once when the queue is half full and counts what a full queue drops", () => {
    const c = core();
    const junk = { data: Buffer.from("junk"), ...B_AT, arrivedAt: 1 };
    for (let i = 0; i < 2047; i++) c.receive(junk);
    expect(c.checkTriggers(1)).toBe(false);
    c.receive(junk);
    expect(c.checkTriggers(1)).toBe(true);
    for (let i = 0; i < 2049; i++) c.receive(junk); // full, then one dropped
    expect(c.checkTriggers(1)).toBe(false); // once between two drains
    const d = c.drain();
    expect([d.datagrams.length, d.overflow]).toEqual([4096, 1]);
  });

  it("stops sending after watchdogMs without arm() and resumes with the next sequence", () => {
    const c = core(); // armed at 0
    expect(round(c, 0).seq).toBe(100);
    for (let t = 40; t <= 1000; t += 40) c.tick(t);
    expect(c.tick(1040)).toEqual([]); // 1,040 ms since the last arm()
    expect(c.tick(1080)).toEqual([]);
    c.arm(1100, { peers: [] });
    expect(round(c, 1120).seq).toBe(126);
    expect(c.drain()).toMatchObject({ watchdogStops: 2 }); // rounds not sent
  });

  it("signs and checks with a rotated key from setKey() on", () => {
    const c = core();
    const rotated = Buffer.from("the rotated key");
    c.setKey(rotated);
    const packets = c.tick(0);
    expect(decodeHeartbeat(packets[0]!.data, rotated).ok).toBe(true);
    expect(decodeHeartbeat(packets[0]!.data, key).ok).toBe(false);
    fromB(c, 10, { seq: 1, echo: { boot: A, seq: 100 } }); // the old key: not authenticated
    expect(c.checkTriggers(10)).toBe(false);
    const data = encodeHeartbeat(
      emptyHeartbeat("b", { boot: B, seq: 2, echo: { boot: A, seq: 100 } }),
      rotated,
    );
    c.receive({ data, ...B_AT, arrivedAt: 11 });
    expect(c.checkTriggers(11)).toBe(true); // its first content
  });

  it("takes datagrams signed with the second key of a rotation, and signs only with the first", () => {
    const c = core();
    const next = Buffer.from("the next key of a rotation");
    c.setKey(key, next);
    expect(decodeHeartbeat(c.tick(0)[0]!.data, key).ok).toBe(true);
    const data = encodeHeartbeat(emptyHeartbeat("b", { boot: B, seq: 2, echo: { boot: A, seq: 100 } }), next);
    c.receive({ data, ...B_AT, arrivedAt: 11 });
    expect(c.checkTriggers(11)).toBe(true); // authenticated: its first content
    c.setKey(key); // the rotation's last step: the second key is gone
    const later = encodeHeartbeat(emptyHeartbeat("b", { boot: B, seq: 3, timeoutMs: 300 }), next);
    c.receive({ data: later, ...B_AT, arrivedAt: 50 });
    expect(c.checkTriggers(50)).toBe(false);
  });

  it("sends nothing and numbers no round without a template", () => {
    const c = core();
    c.setTemplate("b", undefined, 0);
    expect(c.tick(0)).toEqual([]);
    c.setTemplate("b", encodeHeartbeatBody(ours), 0);
    expect(round(c, 40).seq).toBe(100);
    c.setTemplate("nobody", encodeHeartbeatBody(ours), 0); // removed in between: nothing to send
    expect(() => c.setTemplate("b", Buffer.from([5, 1, 2]), 0)).toThrow(/not a heartbeat body/);
  });
});
