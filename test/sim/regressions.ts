/**
 * Schedules that once broke an invariant, kept as printed (JSON, so a change to the generator
 * cannot quietly turn them into other schedules), with what was wrong and what fixed it.
 */
import type { Schedule } from "./schedule.js";

export interface Regression {
  found: string;
  cause: string;
  schedule: Schedule;
}

export const REGRESSIONS: Regression[] = [
  {
    found: "single-owner: 203.0.113.50 owned by node-0 and node-1 for 2.6 s",
    cause:
      "node-0 heard node-1 only through node-2 after node-1's carrier came back, and planned with " +
      "the carrier node-1 had last told it first-hand (down): fixed by relaying carrier in reports",
    schedule: {
      seed: 2499,
      nodes: ["node-0", "node-1", "node-2"],
      ips: ["203.0.113.50", "203.0.113.51", "203.0.113.52"],
      faults: [
        { at: 2375, durationMs: 400, fault: { kind: "clock-step", node: "node-2", deltaMs: 3600000 } },
        { at: 2873, durationMs: 1500, fault: { kind: "carrier", node: "node-1" } },
        { at: 2909, durationMs: 150, fault: { kind: "delay", from: "node-0", to: "node-2", maxMs: 60 } },
        { at: 3992, durationMs: 3000, fault: { kind: "block", from: "node-1", to: "node-0" } },
      ],
      ownership: "strict",
      faultsEndAt: 6992,
      endAt: 12992,
    },
  },
  {
    found: "available: 203.0.113.50 unanswered for 1.8 s and more",
    cause:
      "node-4, split from node-3, still planned with node-3's carrier from before the split (up) " +
      "and left the IP to it, while everyone else knew node-3 had lost carrier and chose node-4",
    schedule: {
      seed: 2609,
      nodes: ["node-0", "node-1", "node-2", "node-3", "node-4"],
      ips: ["203.0.113.50", "203.0.113.51", "203.0.113.52"],
      faults: [
        { at: 2439, durationMs: 7000, fault: { kind: "split", a: "node-4", b: "node-3" } },
        { at: 2919, durationMs: 3000, fault: { kind: "carrier", node: "node-3" } },
        { at: 3387, durationMs: 150, fault: { kind: "replay", from: "node-1", to: "node-0" } },
        { at: 3717, durationMs: 1500, fault: { kind: "api-cut", node: "node-4" } },
      ],
      ownership: "strict",
      faultsEndAt: 9439,
      endAt: 15439,
    },
  },
  {
    found: "overlap: node-1 and node-2 both answered 203.0.113.51 for 3 s (make-before-break)",
    cause:
      "node-1 handed the IP to node-2, which it heard only through node-0 (split), and waited the " +
      "whole handover timeout for a confirmation that travels first-hand only: fixed by a short " +
      "grace (a tenth of the timeout) for successors heard only through others",
    schedule: {
      seed: 85,
      nodes: ["node-0", "node-1", "node-2"],
      ips: ["203.0.113.50", "203.0.113.51"],
      faults: [
        { at: 2029, durationMs: 150, fault: { kind: "leave", node: "node-2" } },
        { at: 2319, durationMs: 3000, fault: { kind: "delay", from: "node-1", to: "node-0", maxMs: 20 } },
        { at: 2904, durationMs: 7000, fault: { kind: "split", a: "node-2", b: "node-1" } },
        { at: 3804, durationMs: 7000, fault: { kind: "api-down" } },
      ],
      ownership: "strict",
      faultsEndAt: 10804,
      endAt: 16804,
    },
  },
];
