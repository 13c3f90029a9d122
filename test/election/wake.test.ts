import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Membership, type ClusterView } from "../../src/election/membership.js";
import { nameHash, type Heartbeat } from "../../src/election/heartbeat.js";
import { BACKSTOP_MS, wakePolicy, type WakeInput } from "../../src/election/wake.js";
import type { Arm } from "../../src/election/pump.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

const BOOT = "00000000000000aa";
const CONFIG = {
  self: "a",
  boot: BOOT,
  heartbeatIntervalMs: 40,
  suspectAfterMs: 200,
  maxSuspectAfterMs: 1000,
  rejoinAfterMs: 1000,
  acquiredTtlMs: 4000,
};
const PEERS = ["b", "c"];

function member(listOwned = false): Membership {
  const m = new Membership({ ...CONFIG, listOwned }, 0);
  for (const p of PEERS) m.observeLease(p, { observedRenewAt: 0, durationMs: 6000 });
  return m;
}

/** A heartbeat from `from` echoing our round `echo`, reporting direct contact with the other peer. */
function hb(from: string, seq: number, echo: number, over: Partial<Heartbeat> = {}): Heartbeat {
  const other = PEERS.find((p) => p !== from)!;
  return emptyHeartbeat(from, {
    boot: from === "b" ? "00000000000000bb" : "00000000000000cc",
    seq,
    echo: { boot: BOOT, seq: echo },
    peers: [
      { hash: nameHash(other), ageMs: 5, direct: true, alive: true, eligible: true, leaving: false },
      { hash: nameHash("a"), ageMs: 5, direct: true, alive: true, eligible: true, leaving: false },
    ],
    carrier: { eth1: true },
    ...over,
  });
}

function arm(m: Membership, now: number, over: Partial<WakeInput> = {}): Arm {
  const view = m.advance(now);
  return wakePolicy(m.wakeState(), {
    now,
    view,
    held: new Map(),
    handoverTimeoutMs: 3000,
    unconfirmableGraceMs: 300,
    ...over,
  });
}

/** Both peers heard every round, echoing us, from 0 to `until`. */
function steady(m: Membership, until: number): void {
  for (let t = 0, seq = 1; t <= until; t += 40, seq++) {
    m.beginRound(t);
    for (const p of PEERS) m.observeHeartbeat(hb(p, seq, seq), t + 2);
  }
}

describe("wake policy", () => {
  it("steady cluster: only the backstop, the peers' silence and confirmation", () => {
    const m = member();
    steady(m, 2000);
    const a = arm(m, 2010);
    expect(a.wakeAt).toBe(2010 + BACKSTOP_MS);
    expect(a.peers).toEqual(PEERS.map((name) => ({ name, silenceMs: 201, confirmMs: 200 - 80 - 5 + 1 })));
  });

  it("a peer never heard: wake on its first accepted heartbeat", () => {
    const m = member();
    const a = arm(m, 10);
    expect(a.peers.every((p) => p.wakeOnAccept && p.silenceMs === undefined)).toBe(true);
  });

  it("the warm-up ends: a deadline", () => {
    const m = member();
    steady(m, 800);
    expect(arm(m, 810).wakeAt).toBe(1000);
  });

  it("a handover: the 300 ms rule and its timeout", () => {
    const held = new Map([["203.0.113.1", { handoverSince: 1900 }]]);
    const at = (now: number) => {
      const m = member();
      steady(m, now - 10);
      return arm(m, now, { held }).wakeAt;
    };
    expect(at(2010)).toBe(2200);
    expect(at(2210)).toBe(2210 + BACKSTOP_MS);
    expect(at(4700)).toBe(4900);
  });

  it("paged templates rotate every round; the caller's deadlines count", () => {
    const m = member();
    steady(m, 2000);
    expect(arm(m, 2010, { paged: true }).wakeAt).toBe(2050);
    expect(arm(m, 2010, { deadlines: [2100, 1000] }).wakeAt).toBe(2100);
  });

  it("a lost quorum is announced after two intervals", () => {
    const m = member();
    steady(m, 2000);
    arm(m, 2000 + 200); // windows lapsed: no quorum since now
    expect(arm(m, 2201).wakeAt).toBe(2200 + 80);
  });

  /**
   * The policy's promise: until the first trigger (wakeAt, a peer's silence or confirmation as the
   * pump measures them) and without new input, the view the planner reads does not change.
   */
  it("the view does not change before the first trigger (property)", () => {
    const event = fc.record({
      dt: fc.integer({ min: 1, max: 400 }),
      from: fc.constantFrom("b", "c", "-"),
      echoBack: fc.integer({ min: 0, max: 30 }),
      ready: fc.boolean(),
      quorum: fc.boolean(),
      direct: fc.boolean(),
      age: fc.integer({ min: 0, max: 1500 }),
      acquired: fc.subarray(["203.0.113.1", "203.0.113.2"]),
      advance: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (events, listOwned, where) => {
          const m = member(listOwned);
          const seqs = { b: 0, c: 0 };
          let now = 0;
          let round = 0;
          for (const e of events) {
            now += e.dt;
            m.beginRound(now);
            round++;
            if (e.from !== "-") {
              const other = e.from === "b" ? "c" : "b";
              const report = { hash: nameHash(other), ageMs: e.age, direct: e.direct, alive: true };
              const beat = hb(e.from, ++seqs[e.from], Math.max(1, round - e.echoBack), {
                ready: e.ready,
                quorum: e.quorum,
                acquired: e.acquired,
                peers: [{ ...report, eligible: e.ready, leaving: false }],
              });
              m.observeHeartbeat(beat, now + 1);
            }
            if (e.advance) m.advance(now + 1);
          }
          now += 2;
          const a = arm(m, now);
          const first = firstTrigger(m, a);
          expect(first).toBeGreaterThan(now);
          // Triggers fire 1 ms past a boundary (views turn on strict comparisons): up to then.
          const t = now + where * Math.max(0, first - 1 - now);
          expect(planned(m.view(t))).toEqual(planned(m.view(now)));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** The first moment the pump would wake us, from what membership knows (the pump knows the same). */
function firstTrigger(m: Membership, a: Arm): number {
  let first = a.wakeAt ?? Infinity;
  const { table } = m.wakeState();
  for (const t of a.peers) {
    const s = table.get(t.name)!;
    if (t.silenceMs !== undefined && s.lastDirect !== undefined)
      first = Math.min(first, s.lastDirect + t.silenceMs);
    if (t.confirmMs !== undefined && s.confirmedAt !== undefined)
      first = Math.min(first, s.confirmedAt + t.confirmMs);
  }
  return first;
}

/** What the planner reads of a view (plan.ts, plan-memo.ts). */
function planned(v: ClusterView): unknown {
  return {
    isolated: v.isolated,
    claimsKnown: v.claimsKnown,
    members: [...v.members.values()].map((x) => ({
      node: x.node,
      alive: x.alive,
      eligible: x.eligible,
      leaving: x.leaving,
      direct: x.direct,
      carrier: x.carrier,
      announcing: [...x.announcing].sort(),
    })),
  };
}
