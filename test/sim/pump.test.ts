import { describe, expect, it } from "vitest";
import type { Fault, Schedule } from "./schedule.js";
import { World } from "./world.js";

/**
 * What the heartbeat pump (src/election/pump.ts) changes, measured in the simulation: JavaScript
 * steps only when woken (an idle node: the backstop, ~2 per second), a crashed owner is still taken
 * over within 300 ms, and a starved event loop no longer silences the heartbeats.
 */
const IP = "203.0.113.50";
const NODES = ["node-0", "node-1", "node-2"];

function schedule(seed: number, faults: Schedule["faults"], endAt: number, jsTick = false): Schedule {
  const faultsEndAt = Math.max(0, ...faults.map((f) => f.at + f.durationMs));
  return { seed, nodes: NODES, ips: [IP], ownership: "strict", faults, faultsEndAt, endAt, jsTick };
}

/** JavaScript steps per second of each node of an idle 3-node cluster, from 5 s to `endAt`. */
function idleStepsPerSecond(seed: number, endAt: number, jsTick = false): number[] {
  const w = new World(schedule(seed, [], endAt, jsTick));
  const at5 = new Map<string, number>();
  w.run((world) => {
    if (at5.size === 0 && world.now >= 5000) for (const n of world.nodes.values()) at5.set(n.name, n.steps);
  });
  return [...w.nodes.values()].map((n) => (n.steps - at5.get(n.name)!) / ((endAt - 5000) / 1000));
}

/** When another node answers after the owner crashes. */
function takeoverMs(seed: number): number {
  let owner = "";
  new World(schedule(seed, [], 3000)).run((w) => {
    owner = w.answering(IP)[0] ?? owner;
  });
  const crashAt = 3000 + (seed % 7) * 13;
  const faults = [{ at: crashAt, durationMs: 3000, fault: { kind: "crash", node: owner } as Fault }];
  let taken = Infinity;
  new World(schedule(seed, faults, crashAt + 2000)).run((w) => {
    if (w.now > crashAt && taken === Infinity && w.answering(IP).some((n) => n !== owner)) taken = w.now;
  });
  return taken - crashAt;
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

describe("the heartbeat pump (simulated)", () => {
  it("an idle node steps about once a second (the backstop), not 25 times", () => {
    const pump = [1, 2, 3].flatMap((seed) => idleStepsPerSecond(seed, 25_000));
    const tick = idleStepsPerSecond(1, 25_000, true);
    console.log(
      `idle JavaScript steps per second: pump ${pump.map((x) => x.toFixed(2)).join(", ")}; ` +
        `40 ms tick ${tick.map((x) => x.toFixed(2)).join(", ")}`,
    );
    for (const s of pump) expect(s).toBeLessThanOrEqual(1.2);
    for (const s of tick) expect(s).toBeGreaterThan(20);
  });

  it("a crashed owner is taken over within 300 ms (p50, p99 over 40 seeds)", () => {
    const ms = Array.from({ length: 40 }, (_, i) => takeoverMs(i + 1));
    const p50 = percentile(ms, 0.5);
    const p99 = percentile(ms, 0.99);
    console.log(
      `crash takeover: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms`,
    );
    expect(p99).toBeLessThan(300);
  });

  it("a starved event loop (JavaScript late by up to 250 ms) keeps its IPs: the pump sends on", () => {
    let owner = "";
    new World(schedule(5, [], 3000)).run((w) => {
      owner = w.answering(IP)[0] ?? owner;
    });
    const stall: Fault = { kind: "stall", node: owner, maxMs: 250 };
    let moved = false;
    let unanswered = 0;
    let last = 3000;
    const r = new World(schedule(5, [{ at: 3000, durationMs: 10_000, fault: stall }], 15_000)).run((w) => {
      const who = w.answering(IP);
      if (w.now > 3000 && who.some((n) => n !== owner)) moved = true;
      if (w.now > 3000 && w.now < 13_000 && who.length === 0) unanswered += w.now - last;
      last = w.now;
    });
    expect(r.violations).toEqual([]);
    expect(moved).toBe(false);
    expect(unanswered).toBe(0);
  });
});
