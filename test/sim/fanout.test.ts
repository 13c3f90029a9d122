import { describe, expect, it } from "vitest";
import { DEFAULT_FANOUT } from "../../src/election/fanout.js";
import { nameHash } from "../../src/election/heartbeat.js";
import { describeFailure } from "./run.js";
import { generateSchedule, type Fault, type Schedule } from "./schedule.js";
import { World } from "./world.js";

/**
 * The sparse heartbeat fan-out (src/election/fanout.ts) in the simulation: 7 nodes, 3 voters, so
 * that most nodes are cold non-voters. The partial faults of issue 8 on the owner, and random
 * strict schedules (sticky ownership needs every claim heard first-hand: all-to-all only).
 */
const IP = "203.0.113.50";
const FAULT_AT = 3000;
const FAULT_MS = 6000;
const BOUND_MS = 1500;
const fanout = { ...DEFAULT_FANOUT, voters: 3 };

function schedule(nodes: number, faults: Fault[]): Schedule {
  return {
    seed: 13,
    nodes: Array.from({ length: nodes }, (_, i) => `node-${i}`),
    ips: [IP],
    ownership: "strict",
    fanout,
    faults: faults.map((fault) => ({ at: FAULT_AT, durationMs: FAULT_MS, fault })),
    faultsEndAt: FAULT_AT + FAULT_MS,
    endAt: FAULT_AT + FAULT_MS + 6000,
  };
}

function run(faults: (owner: string, others: string[]) => Fault[]) {
  let owner = "";
  new World({ ...schedule(7, []), endAt: FAULT_AT }).run((w) => {
    owner = w.answering(IP)[0] ?? owner;
  });
  const others = Array.from({ length: 7 }, (_, i) => `node-${i}`).filter((n) => n !== owner);
  const during = new Set<string>();
  let takeover: number | undefined;
  let atEnd: string[] = [];
  const result = new World(schedule(7, faults(owner, others))).run((w) => {
    const who = w.answering(IP);
    if (takeover === undefined && w.now > FAULT_AT && who.some((n) => n !== owner))
      takeover = w.now - FAULT_AT;
    if (w.now > FAULT_AT + BOUND_MS && w.now < FAULT_AT + FAULT_MS) during.add(who.join(","));
    atEnd = who;
  });
  return { owner, during, atEnd, takeover, violations: result.violations };
}

const one = (set: Set<string>) => [...set].every((s) => s.length > 0 && !s.includes(","));

describe("sparse fan-out (simulated, 7 nodes, 3 voters)", () => {
  it("the owner crashes: its successor takes over as fast as with all-to-all", () => {
    const r = run((owner) => [{ kind: "crash", node: owner }]);
    expect(r.violations).toEqual([]);
    expect(one(r.during)).toBe(true);
    expect(r.takeover).toBeLessThan(300);
    expect(r.atEnd).toHaveLength(1);
  });

  it("the owner's outgoing heartbeats are dropped: one answers, not the owner", () => {
    const r = run((owner, others) => others.map((to) => ({ kind: "block", from: owner, to }) as Fault));
    expect(r.violations).toEqual([]);
    expect(one(r.during)).toBe(true);
    expect(r.during.has(r.owner)).toBe(false);
  });

  it("the owner's incoming heartbeats are dropped: one answers, not the owner", () => {
    const r = run((owner, others) => others.map((from) => ({ kind: "block", from, to: owner }) as Fault));
    expect(r.violations).toEqual([]);
    expect(one(r.during)).toBe(true);
    expect(r.during.has(r.owner)).toBe(false);
  });

  it("the owner is cut from every non-voter: nothing moves (the voters relay it)", () => {
    const r = run((owner, others) =>
      others.slice(0, 3).map((b) => ({ kind: "split", a: owner, b }) as Fault),
    );
    expect(r.violations).toEqual([]);
    expect(one(r.during)).toBe(true);
  });

  it("keeps every invariant over random strict schedules with four more nodes", () => {
    const failures = [];
    // Odd seeds are strict; 6–9 nodes, the faults of the all-to-all simulation on the first ones.
    for (let seed = 1; seed < 12; seed += 2) {
      const base = generateSchedule(seed);
      const nodes = Array.from({ length: base.nodes.length + 4 }, (_, i) => `node-${i}`);
      const s: Schedule = { ...base, nodes, fanout };
      const result = new World(s).run();
      if (result.violations.length > 0) failures.push({ schedule: s, result });
    }
    expect(failures.length, failures.slice(0, 2).map(describeFailure).join("\n\n")).toBe(0);
  }, 600_000);

  it("with voters pinned to the highest name hashes (a node label), the invariants hold too", () => {
    const failures = [];
    for (let seed = 1; seed < 8; seed += 2) {
      const base = generateSchedule(seed);
      const nodes = Array.from({ length: base.nodes.length + 4 }, (_, i) => `node-${i}`);
      const byHash = [...nodes].sort((a, b) => nameHash(b) - nameHash(a));
      const s: Schedule = { ...base, nodes, fanout, voterPins: byHash.slice(0, fanout.voters) };
      const world = new World(s);
      const result = world.run();
      for (const node of world.nodes.values())
        if (node.up) expect([...(node.membership.voters() ?? [])].sort()).toEqual([...s.voterPins!].sort());
      if (result.violations.length > 0) failures.push({ schedule: s, result });
    }
    expect(failures.length, failures.slice(0, 2).map(describeFailure).join("\n\n")).toBe(0);
  }, 600_000);
});
