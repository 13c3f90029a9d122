import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { answerUntil, confirmWindowMs, majorityOf } from "../../src/election/fence.js";
import { Membership } from "../../src/election/membership.js";
import { decodeHeartbeat, encodeHeartbeat } from "../../src/election/heartbeat.js";
import { SILENCE_MEMORY_MS } from "../../src/election/peers.js";

const TIMING = { heartbeatIntervalMs: 40, suspectAfterMs: 200, maxSuspectAfterMs: 1000 };
const key = Buffer.from("k");

describe("majorityOf", () => {
  it("is the last moment at which enough peers' windows are still open", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 6, maxLength: 6 }),
        (confirmed, told) => {
          const peers = confirmed.map(
            (at, i) => [`p${i}`, { confirmedAt: at, timeoutForUs: told[i] }] as [string, object],
          );
          const members = peers.length + 1;
          const { until, heardAt } = majorityOf("self", peers, undefined, members, TIMING);
          // Brute force: the side at τ is us plus the peers whose window is open at τ.
          const sideAt = (t: number) =>
            1 +
            confirmed.filter(
              (at, i) => at !== undefined && t - at <= confirmWindowMs({ timeoutForUs: told[i] }, TIMING),
            ).length;
          const majority = (t: number) => 2 * sideAt(t) > members;
          if (until === -Infinity) {
            // Either we need no peer (a single member) or no moment has enough windows open.
            expect(members === 1 || !majority(Math.max(0, ...confirmed.map((a) => a ?? 0)))).toBe(true);
          } else {
            expect(majority(until)).toBe(true);
            expect(majority(until + 0.001)).toBe(false);
            // A majority had heard us at heardAt or later.
            const heardBy = confirmed.filter((at) => at !== undefined && at >= heardAt).length;
            expect(2 * (1 + heardBy)).toBeGreaterThan(members);
          }
        },
      ),
    );
  });

  it("counts only the voters with a sparse fan-out", () => {
    const peers: [string, { confirmedAt: number; timeoutForUs: number }][] = [
      ["v1", { confirmedAt: 100, timeoutForUs: 200 }],
      ["x", { confirmedAt: 900, timeoutForUs: 1000 }],
    ];
    // Voters self and v1: a majority of 2 needs v1; x (no voter) extends nothing.
    expect(majorityOf("self", peers, new Set(["self", "v1"]), 3, TIMING)).toEqual({
      until: 100 + 115,
      heardAt: 100,
    });
  });
});

describe("answerUntil", () => {
  const none = { until: -Infinity, heardAt: -Infinity };
  it("is the floor past the step unless the majority lasts longer, and never after a write-off", () => {
    expect(answerUntil(1000, TIMING, { until: 1100, heardAt: 960 }, false)).toBe(1200);
    expect(answerUntil(1000, TIMING, { until: 1900, heardAt: 1000 }, false)).toBe(1900);
    expect(answerUntil(1000, TIMING, { until: 1900, heardAt: 1000 }, true)).toBe(1200);
    // No majority (an API tie-break, say): the floor, as before.
    expect(answerUntil(1000, TIMING, none, false)).toBe(1200);
    expect(answerUntil(1000, TIMING, { until: 900, heardAt: 10 }, false)).toBe(1200);
  });

  it("never reaches past the ceiling after a majority last heard us", () => {
    // A step late in a long window (heard at 100, window till 1015), then nothing: 1100, not 1200.
    expect(answerUntil(1000, TIMING, { until: 1015, heardAt: 100 }, false)).toBe(1100);
    // Where the ceiling is the floor, two floors: a healthy node's fence is never cut.
    const flat = { ...TIMING, maxSuspectAfterMs: 200 };
    expect(answerUntil(1000, flat, { until: 1075, heardAt: 885 }, false)).toBe(1200);
  });
});

function member(self: string, boot: string): Membership {
  const m = new Membership({ self, boot, ...TIMING, rejoinAfterMs: 1000, acquiredTtlMs: 4000 }, 0);
  for (const peer of ["a", "b", "c"])
    if (peer !== self) m.observeLease(peer, { observedRenewAt: 0, durationMs: 600_000 });
  return m;
}

/**
 * Three members, a round every 40 ms until `end`; `silent(node, t)`: the node does not send (its
 * loop is starved), `lost(from, to, t)`: it sends and the packet is lost. Returns a after each round.
 */
function run(
  end: number,
  opts: {
    silent?: (node: string, t: number) => boolean;
    lost?: (from: string, to: string, t: number) => boolean;
    /** The node is frozen: it neither sends nor reads; what arrives meanwhile is read after. */
    frozen?: (node: string, t: number) => boolean;
    each?: (t: number, ms: Map<string, Membership>) => void;
  },
) {
  const ms = new Map(["a", "b", "c"].map((n, i) => [n, member(n, `${i + 1}`.repeat(16))]));
  const queued = new Map<string, Buffer[]>();
  for (let t = 0; t <= end; t += 40) {
    for (const [from, m] of ms) {
      if (opts.frozen?.(from, t)) continue;
      for (const packet of queued.get(from)?.splice(0) ?? []) {
        const decoded = decodeHeartbeat(packet, key);
        if (decoded.ok) m.observeHeartbeat(decoded.heartbeat, t);
      }
      if (opts.silent?.(from, t)) continue;
      m.advance(t);
      m.beginRound(t);
      for (const to of ms.keys()) {
        if (to === from || opts.lost?.(from, to, t)) continue;
        const packet = encodeHeartbeat(m.heartbeatFor(to, t), key);
        if (opts.frozen?.(to, t)) queued.set(to, [...(queued.get(to) ?? []), packet]);
        const decoded = decodeHeartbeat(packet, key);
        if (decoded.ok && !opts.frozen?.(to, t)) ms.get(to)!.observeHeartbeat(decoded.heartbeat, t + 1);
      }
    }
    opts.each?.(t, ms);
  }
  return ms;
}

describe("a peer's silence beyond the timeout", () => {
  // 480 ms without b's heartbeats, once 200 gaps are on record (p99 is then not the longest).
  const gap = (t: number) => t >= 8000 && t < 8480;
  const END = 11_000; // b was written off at 8.5 s and is ready again (rejoin) by 10.5 s

  it("is remembered when b did not send (the next packet follows on): the timeout covers 1.5 × it", () => {
    const ms = run(END, { silent: (n, t) => n === "b" && gap(t) });
    // The silence as measured: from the packet before it to the one after (8481 − 7961 ms).
    expect(ms.get("a")!.suspectAfterFor("b")).toBe(1.5 * 520);
    expect(ms.get("c")!.suspectAfterFor("b")).toBe(1.5 * 520);
  });

  it("is not when b's packets were lost on the way (a gap in the sequence): loss is no stall", () => {
    const ms = run(END, { lost: (from, _to, t) => from === "b" && gap(t) });
    expect(ms.get("a")!.suspectAfterFor("b")).toBe(200);
  });

  it("is ours, not the peers', when we were frozen: read late, their packets say nothing of them", () => {
    const ms = run(END, { frozen: (n, t) => n === "a" && gap(t) });
    expect(ms.get("a")!.suspectAfterFor("b")).toBe(200);
    expect(ms.get("a")!.suspectAfterFor("c")).toBe(200);
    // ... while a itself went silent for its peers: they remember that.
    expect(ms.get("b")!.suspectAfterFor("a")).toBeGreaterThan(200);
  });

  it("a node that never stalled is judged as before, and answers a floor past its step", () => {
    const ms = run(END, { silent: (n, t) => n === "b" && gap(t) });
    expect(ms.get("b")!.suspectAfterFor("a")).toBe(200);
    expect(ms.get("a")!.suspectAfterFor("c")).toBe(200);
    // a's peers time it out at 200 ms: its fence is the floor, as before.
    expect(ms.get("a")!.answerUntil(END)).toBe(END + 200);
  });

  it("the stalled node answers until its majority lapses, not 200 ms past its step", () => {
    const ms = run(END, { silent: (n, t) => n === "b" && gap(t) });
    // c (after b in each round) echoed b's round at END; c waits 780 ms for b, so b's window with c
    // ends 780 − 2 intervals − 5 ms after it.
    expect(ms.get("b")!.answerUntil(END)).toBe(END + 780 - 85);
  });

  it(`is forgotten ${SILENCE_MEMORY_MS / 1000} s later; the timeout then shrinks back step by step`, () => {
    let back = Infinity;
    run(SILENCE_MEMORY_MS + 150_000, {
      silent: (n, t) => n === "b" && gap(t),
      each: (t, ms) => {
        if (back === Infinity && t > 8480 && ms.get("a")!.suspectAfterFor("b") === 200) back = t;
      },
    });
    // Measured: the README quotes it (how long a stall slows the detection of that node's crash).
    console.log(`timeout for b back at the floor ${((back - 8480) / 1000).toFixed(1)} s after the stall`);
    expect(back - 8480).toBeGreaterThan(SILENCE_MEMORY_MS);
    expect(back - 8480).toBeLessThan(SILENCE_MEMORY_MS + 150_000);
  });
});
