import { describe, expect, it } from "vitest";
import type { OwnershipMode } from "../../src/election/ranking.js";
import type { Fault, Schedule } from "./schedule.js";
import { World } from "./world.js";

/**
 * Sticky vs strict ownership in the simulation: the owner crashes, a peer takes over, the node
 * restarts. Strict ranking gives it its IP back (a second move); sticky leaves it where it is.
 */
const IPS = ["203.0.113.50", "203.0.113.51", "203.0.113.52", "203.0.113.53"];
const CRASH_AT = 3000;
const CRASH_MS = 2000;

function schedule(ownership: OwnershipMode, faults: Fault[]): Schedule {
  return {
    seed: 11,
    nodes: ["node-0", "node-1", "node-2"],
    ips: IPS,
    ownership,
    faults: faults.map((fault) => ({ at: CRASH_AT, durationMs: CRASH_MS, fault })),
    faultsEndAt: CRASH_AT + CRASH_MS,
    endAt: CRASH_AT + CRASH_MS + 6000,
  };
}

/** Owner of each IP before the crash, after the takeover, and at the end; violations. */
function crashAndRestore(ownership: OwnershipMode) {
  const owners = (w: World) => IPS.map((ip) => w.answering(ip).join(","));
  let before: string[] = [];
  new World(schedule(ownership, [])).run((w) => {
    if (w.now < CRASH_AT) before = owners(w);
  });
  // Crash the node that owns the first IP.
  const victim = before[0]!;
  let during: string[] = [];
  let end: string[] = [];
  const result = new World(schedule(ownership, [{ kind: "crash", node: victim }])).run((w) => {
    if (w.now < CRASH_AT + CRASH_MS) during = owners(w);
    end = owners(w);
  });
  return { victim, before, during, end, violations: result.violations };
}

describe("ownership modes (simulated)", () => {
  it("strict: the restored node takes its IPs back (MetalLB's ranking)", () => {
    const r = crashAndRestore("strict");
    expect(r.violations).toEqual([]);
    expect(r.during[0]).not.toBe(r.victim);
    expect(r.end).toEqual(r.before);
  });

  it("sticky: the restored node takes nothing back; every IP keeps its post-failover owner", () => {
    const r = crashAndRestore("sticky");
    expect(r.violations).toEqual([]);
    expect(r.during.every((o) => o !== r.victim && !o.includes(","))).toBe(true);
    expect(r.end).toEqual(r.during);
    expect(r.end).not.toContain(r.victim);
  });

  it("sticky: with nothing wrong, the IPs spread by ranking as in strict", () => {
    const owners = (mode: OwnershipMode) => {
      let seen: string[] = [];
      new World(schedule(mode, [])).run((w) => (seen = IPS.map((ip) => w.answering(ip).join(","))));
      return seen;
    };
    expect(owners("sticky")).toEqual(owners("strict"));
  });
});
