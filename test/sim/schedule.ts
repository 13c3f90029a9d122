/**
 * Fault schedules: what goes wrong, when, for how long. Generated from a seed, printed as JSON when
 * an invariant fails, and replayable from that JSON (SIM_SCHEDULE) or from the seed (SIM_SEED).
 */
import type { FanoutConfig } from "../../src/election/fanout.js";
import type { OwnershipMode } from "../../src/election/ranking.js";
import { Prng } from "./prng.js";

export type Fault =
  | { kind: "block"; from: string; to: string } // one-way loss of every heartbeat
  | { kind: "cut"; node: string } // heartbeat port blocked both ways
  | { kind: "split"; a: string; b: string } // two nodes cannot hear each other
  | { kind: "loss"; from: string; to: string; p: number }
  | { kind: "delay"; from: string; to: string; maxMs: number } // reordering included
  | { kind: "key"; node: string } // a different heartbeat key (rotation half done)
  | { kind: "freeze"; node: string }
  | { kind: "crash"; node: string } // down for the duration, then a fresh process
  | { kind: "api-down" }
  | { kind: "api-cut"; node: string }
  | { kind: "clock-step"; node: string; deltaMs: number }
  | { kind: "replay"; from: string; to: string } // an attacker replays recorded packets
  | { kind: "stall"; node: string; maxMs: number } // a starved event loop: every tick late by up to maxMs
  | { kind: "duplicate"; from: string; to: string } // the network delivers packets twice
  | { kind: "leave"; node: string } // SIGTERM: hand over, exit (Lease release failed); restart at the end
  | { kind: "carrier"; node: string }; // the announce interface loses carrier

export interface ScheduledFault {
  at: number;
  durationMs: number;
  fault: Fault;
}

export interface Schedule {
  seed: number;
  nodes: string[];
  ips: string[];
  faults: ScheduledFault[];
  /** The speakers' owner rule (absent in schedules printed before it existed: strict). */
  ownership?: OwnershipMode;
  /** Sparse heartbeat fan-out (src/election/fanout.ts); absent: all-to-all. */
  fanout?: FanoutConfig;
  /** The model before the heartbeat pump: JavaScript's 40 ms tick sends every round (to compare). */
  jsTick?: boolean;
  /** Nodes labelled as voters (the sparse fan-out's pins; the same for every node). */
  voterPins?: string[];
  /** Faults all end by then; the invariants that need calm apply afterwards. */
  faultsEndAt: number;
  endAt: number;
}

const KINDS = [
  "block",
  "cut",
  "split",
  "loss",
  "delay",
  "key",
  "freeze",
  "crash",
  "api-down",
  "api-cut",
  "clock-step",
  "replay",
] as const;

/** Added later; drawn from their own generator so that the older kinds' schedules stay as they were. */
const LATER_KINDS = ["stall", "duplicate", "leave", "carrier"] as const;

function laterFault(rng: Prng, nodes: string[]): Fault {
  const kind = rng.pick(LATER_KINDS);
  const node = rng.pick(nodes);
  const other = rng.pick(nodes.filter((n) => n !== node));
  switch (kind) {
    case "stall":
      return { kind, node, maxMs: rng.pick([60, 250, 900]) };
    case "duplicate":
      return { kind, from: node, to: other };
    default:
      return { kind, node };
  }
}

function randomFault(rng: Prng, nodes: string[]): Fault {
  const kind = rng.pick(KINDS);
  const node = rng.pick(nodes);
  const other = rng.pick(nodes.filter((n) => n !== node));
  switch (kind) {
    case "block":
      return { kind, from: node, to: other };
    case "split":
      return { kind, a: node, b: other };
    case "loss":
      return { kind, from: node, to: other, p: rng.pick([0.1, 0.3, 0.6]) };
    case "delay":
      return { kind, from: node, to: other, maxMs: rng.pick([5, 20, 60]) };
    case "clock-step":
      return { kind, node, deltaMs: rng.pick([-3_600_000, 3_600_000]) };
    case "replay":
      return { kind, from: node, to: other };
    case "api-down":
      return { kind };
    default:
      return { kind, node };
  }
}

export function generateSchedule(seed: number): Schedule {
  const rng = new Prng(seed);
  const size = rng.pick([2, 3, 3, 3, 4, 5]);
  const nodes = Array.from({ length: size }, (_, i) => `node-${i}`);
  const ips = Array.from({ length: rng.int(1, 4) }, (_, i) => `203.0.113.${50 + i}`);
  const faults: ScheduledFault[] = [];
  const count = rng.int(1, 3);
  const warm = 1800; // everyone warmed up and owning before the first fault
  for (let i = 0; i < count; i++) {
    const at = warm + rng.int(0, 2500);
    const durationMs = rng.pick([150, 400, 1500, 3000, 7000]);
    faults.push({ at, durationMs, fault: randomFault(rng, nodes) });
  }
  const later = new Prng(seed ^ 0x1a7e);
  if (later.chance(0.5)) {
    const at = warm + later.int(0, 2500);
    faults.push({
      at,
      durationMs: later.pick([150, 400, 1500, 3000, 7000]),
      fault: laterFault(later, nodes),
    });
  }
  faults.sort((a, b) => a.at - b.at);
  const faultsEndAt = Math.max(...faults.map((f) => f.at + f.durationMs));
  // Even seeds sticky, odd seeds strict.
  const ownership: OwnershipMode = seed % 2 === 0 ? "sticky" : "strict";
  return { seed, nodes, ips, faults, ownership, faultsEndAt, endAt: faultsEndAt + 6000 };
}
