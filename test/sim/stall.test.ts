import { describe, expect, it } from "vitest";
import type { OwnershipMode } from "../../src/election/ranking.js";
import type { Fault, Schedule, ScheduledFault } from "./schedule.js";
import { World } from "./world.js";
import { TIMING } from "./node.js";

/**
 * The double fault of test/sim/README.md: the owner's outgoing heartbeats are dropped (the issue's
 * reproduction), so the two healthy nodes are a bare majority, and the successor's event loop is
 * starved too (every JavaScript step late by up to 250 or 900 ms; the heartbeat pump's thread keeps
 * sending, test/sim/README.md). Measured over the fault, once the IP has moved: the share of time
 * nobody answers it, and how often it changes hands.
 */
const IP = "203.0.113.50";
const FAULT_AT = 3000;
const FAULT_MS = 20_000;
// The first move (owner → successor) takes a suspicion timeout; measured from then on.
const BOUND_MS = 500;

function schedule(ownership: OwnershipMode, seed: number, faults: (Fault | ScheduledFault)[]): Schedule {
  return {
    seed,
    nodes: ["node-0", "node-1", "node-2"],
    ips: [IP],
    ownership,
    faults: faults.map((f) => ("fault" in f ? f : { at: FAULT_AT, durationMs: FAULT_MS, fault: f })),
    faultsEndAt: FAULT_AT + FAULT_MS,
    endAt: FAULT_AT + FAULT_MS + 6000,
  };
}

/** The single node answering at `at` in a run with only `faults` (who owns, who takes over). */
function answererAt(ownership: OwnershipMode, seed: number, faults: Fault[], at: number): string {
  let who = "";
  new World(schedule(ownership, seed, faults)).run((w) => {
    if (w.now < at) who = w.answering(IP).join(",");
  });
  return who;
}

interface Measured {
  unansweredPct: number;
  /** Changes of the answering node during the fault (the first move to the successor included). */
  moves: number;
  violations: number;
}

/** `leadMs`: the successor was starved that long before the owner's heartbeats were dropped. */
function measure(ownership: OwnershipMode, stallMs: number, seed: number, leadMs = 0): Measured {
  const owner = answererAt(ownership, seed, [], FAULT_AT);
  const others = ["node-0", "node-1", "node-2"].filter((n) => n !== owner);
  const block = others.map((to) => ({ kind: "block", from: owner, to }) as Fault);
  const successor = answererAt(ownership, seed, block, FAULT_AT + 2000);
  const stall: Fault = { kind: "stall", node: successor, maxMs: stallMs };
  const faults = [...block, { at: FAULT_AT - leadMs, durationMs: FAULT_MS + leadMs, fault: stall }];
  let last = FAULT_AT;
  let unanswered = 0;
  let holder = owner;
  let moves = 0;
  const result = new World(schedule(ownership, seed, faults)).run((w) => {
    const end = Math.min(w.now, FAULT_AT + FAULT_MS);
    const answering = w.answering(IP);
    if (answering.length === 0) {
      // Time-weighted, within the window: the state since the previous event held until now.
      unanswered += Math.max(0, end - Math.max(last, FAULT_AT + BOUND_MS));
    }
    if (w.now < FAULT_AT + FAULT_MS && answering.length === 1 && answering[0] !== holder) {
      holder = answering[0]!;
      if (w.now >= FAULT_AT) moves++;
    }
    last = w.now;
  });
  return {
    unansweredPct: (100 * unanswered) / (FAULT_MS - BOUND_MS),
    moves,
    violations: result.violations.length,
  };
}

const SEEDS = [7, 8, 9];
/**
 * With the heartbeat pump (1 s backstop, 2 s watchdog): 0 % at 250 ms, 0.6 % at 900 ms (0.5 %
 * starved 1.5 s ahead): a step late by up to 900 ms never trips the watchdog. With a 500 ms backstop
 * and a 1 s watchdog it did (5.8 / 6.4 %, 5.4 / 4.4 %); with the 40 ms JavaScript tick sending the
 * heartbeats: 0 %, 3.8 / 2.9 % and 6.2 / 6.3 %.
 */
const MAX_UNANSWERED_PCT: Record<number, number> = { 250: 1, 900: 2 };

function average(ownership: OwnershipMode, stallMs: number, leadMs = 0): Measured {
  const runs = SEEDS.map((seed) => measure(ownership, stallMs, seed, leadMs));
  const sum = (f: (m: Measured) => number) => runs.reduce((s, m) => s + f(m), 0);
  return {
    unansweredPct: Math.round((10 * sum((m) => m.unansweredPct)) / runs.length) / 10,
    moves: sum((m) => m.moves) / runs.length,
    violations: sum((m) => m.violations),
  };
}

describe("owner's outgoing heartbeats dropped and the successor starved (simulated)", () => {
  for (const ownership of ["strict", "sticky"] as const) {
    for (const stallMs of [250, 900]) {
      it(`${ownership}, ticks late by up to ${stallMs} ms: answered, and no flap`, () => {
        const m = average(ownership, stallMs);
        console.log(`stall ${ownership} ${stallMs} ms: ${JSON.stringify(m)}`);
        expect(m.violations).toBe(0);
        // Before the stall fix (README): 13–14 % unanswered at 250 ms, 74–82 % at 900 ms (these seeds).
        expect(m.unansweredPct).toBeLessThanOrEqual(MAX_UNANSWERED_PCT[stallMs]!);
        expect(m.moves).toBe(1);
      });
    }
    it(`${ownership}, the successor already starved (900 ms) 1.5 s before: answered, and no flap`, () => {
      const m = average(ownership, 900, 1500);
      console.log(`stall ${ownership} 900 ms, 1.5 s ahead: ${JSON.stringify(m)}`);
      expect(m.violations).toBe(0);
      expect(m.unansweredPct).toBeLessThanOrEqual(MAX_UNANSWERED_PCT[900]!);
      expect(m.moves).toBe(1);
    });
  }
});

/** How long after the owner crashes another node answers: without a stall, and after one. */
function takeoverMs(ownership: OwnershipMode, stallBeforeMs: number | undefined, seed: number): number {
  const owner = answererAt(ownership, seed, [], FAULT_AT);
  const crashAt = FAULT_AT + 10_000;
  const faults: { at: number; durationMs: number; fault: Fault }[] = [
    { at: crashAt, durationMs: 3000, fault: { kind: "crash", node: owner } },
  ];
  // The owner's loop starved for 5 s, ending 5 s before it crashes.
  if (stallBeforeMs !== undefined)
    faults.push({
      at: FAULT_AT,
      durationMs: 5000,
      fault: { kind: "stall", node: owner, maxMs: stallBeforeMs },
    });
  const base = schedule(ownership, seed, []);
  let taken = Infinity;
  new World({ ...base, faults, faultsEndAt: crashAt + 3000, endAt: crashAt + 5000 }).run((w) => {
    if (w.now > crashAt && taken === Infinity && w.answering(IP).some((n) => n !== owner)) taken = w.now;
  });
  return taken - crashAt;
}

describe("crash detection after a stall (simulated)", () => {
  it("an owner that never stalled is replaced as fast as before (< 300 ms)", () => {
    for (const seed of SEEDS) expect(takeoverMs("strict", undefined, seed)).toBeLessThan(300);
  });

  it("an owner that stalled (900 ms) 5 s before it crashes is replaced within its peers' longer timeout", () => {
    const ms = SEEDS.map((seed) => takeoverMs("strict", 900, seed));
    console.log(`takeover after a crash 5 s after 900 ms stalls: ${ms.map(Math.round).join(", ")} ms`);
    // The timeout (≤ 1 s) and a tick. Only a stall past the watchdog silences the pump (and raises
    // the peers' timeout): 162, 899 and 188 ms with the pump, 1,017, 991 and 1,004 ms before.
    for (const t of ms) expect(t).toBeLessThan(TIMING.maxSuspectAfterMs + 2 * TIMING.heartbeatIntervalMs);
  });

  it("an owner whose JavaScript stalled (250 ms, below the watchdog) is replaced as fast as one that never did", () => {
    const ms = SEEDS.map((seed) => takeoverMs("strict", 250, seed));
    console.log(`takeover after a crash 5 s after 250 ms stalls: ${ms.map(Math.round).join(", ")} ms`);
    for (const t of ms) expect(t).toBeLessThan(300);
  });
});
