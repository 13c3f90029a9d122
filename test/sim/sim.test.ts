import { describe, expect, it } from "vitest";
import { describeFailure, runSchedule, runSeeds } from "./run.js";
import { REGRESSIONS } from "./regressions.js";
import { generateSchedule, type Schedule } from "./schedule.js";

/**
 * The deterministic simulation of the speakers' safety core. SIM_SCHEDULES sets how many random
 * schedules run (default sized for CI), SIM_FIRST_SEED where they start; SIM_SEED or SIM_SCHEDULE
 * (the JSON a failure prints) replay one.
 */
// 1,000 in CI: ~0.16 s of CPU each (~160 s), inside the suite's 20 min on 2 cores. Nightly/by
// hand: SIM_SCHEDULES=10000 (or test/sim/run.ts), see README.
const count = Number(process.env.SIM_SCHEDULES ?? 1000);
const first = Number(process.env.SIM_FIRST_SEED ?? 1);

describe("simulation", () => {
  if (process.env.SIM_SEED || process.env.SIM_SCHEDULE) {
    it("replays one schedule", () => {
      const schedule: Schedule = process.env.SIM_SCHEDULE
        ? (JSON.parse(process.env.SIM_SCHEDULE) as Schedule)
        : generateSchedule(Number(process.env.SIM_SEED));
      const result = runSchedule(schedule);
      for (const v of result.violations) console.log(`t=${v.at.toFixed(1)} ${v.invariant}: ${v.detail}`);
      expect(result.violations).toEqual([]);
    });
    return;
  }

  for (const r of REGRESSIONS) {
    it(`seed ${r.schedule.seed} once failed (${r.found}); it holds now`, () => {
      const result = runSchedule(r.schedule);
      expect(result.violations, r.cause).toEqual([]);
    });
  }

  it(`keeps every invariant over ${count} random fault schedules`, () => {
    const started = performance.now();
    const summary = runSeeds(first, count);
    console.log(
      `simulation: ${summary.schedules} schedules, ${summary.checks} invariant checks, ` +
        `${summary.failures.length} failing, ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
        `dropped heartbeats ${JSON.stringify(summary.drops)}, make-before-break overlaps ${summary.overlaps} ` +
        `(longest ${summary.longestOverlap.ms} ms, seed ${summary.longestOverlap.seed})`,
    );
    const report = summary.failures.slice(0, 3).map(describeFailure).join("\n\n");
    expect(summary.failures.length, report).toBe(0);
  }, 1_200_000);
});
