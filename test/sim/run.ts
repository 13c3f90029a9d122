/**
 * Runs fault schedules and reports. Replay one failure:
 *   SIM_SEED=1234 npx vitest run test/sim/sim.test.ts
 *   SIM_SCHEDULE='{"seed":1,...}' npx vitest run test/sim/sim.test.ts   (the JSON a failure prints)
 * or without vitest: npx tsx test/sim/run.ts <seed | schedule.json> [count]
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { generateSchedule, type Schedule } from "./schedule.js";
import { World, type RunResult } from "./world.js";

export function runSchedule(schedule: Schedule): RunResult {
  return new World(schedule).run();
}

export interface Summary {
  schedules: number;
  checks: number;
  failures: { schedule: Schedule; result: RunResult }[];
  drops: Record<string, number>;
  overlaps: number;
  /** The longest overlap of two answering nodes on one IP, and in which schedule. */
  longestOverlap: { ms: number; seed: number };
  moves: { sticky: number; strict: number };
}

export function runSeeds(first: number, count: number): Summary {
  const summary: Summary = {
    schedules: 0,
    checks: 0,
    failures: [],
    drops: {},
    overlaps: 0,
    longestOverlap: { ms: 0, seed: 0 },
    moves: { sticky: 0, strict: 0 },
  };
  for (let seed = first; seed < first + count; seed++) {
    const schedule = generateSchedule(seed);
    const result = runSchedule(schedule);
    summary.schedules++;
    summary.checks += result.checks;
    summary.overlaps += result.overlaps;
    if (result.longestOverlapMs > summary.longestOverlap.ms)
      summary.longestOverlap = { ms: Math.round(result.longestOverlapMs), seed };
    summary.moves[schedule.ownership ?? "strict"] += result.moves;
    for (const [r, c] of Object.entries(result.drops)) summary.drops[r] = (summary.drops[r] ?? 0) + c;
    if (result.violations.length > 0) summary.failures.push({ schedule, result });
  }
  return summary;
}

export function describeFailure(f: { schedule: Schedule; result: RunResult }): string {
  return [
    `seed ${f.schedule.seed}: ${f.result.violations.length} violation(s)`,
    ...f.result.violations.slice(0, 5).map((v) => `  t=${v.at.toFixed(1)} ${v.invariant}: ${v.detail}`),
    `  replay: SIM_SEED=${f.schedule.seed} npx vitest run test/sim/sim.test.ts`,
    `  schedule: ${JSON.stringify(f.schedule)}`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = process.argv[2] ?? "1";
  const count = Number(process.argv[3] ?? 1);
  if (/^\d+$/.test(arg)) {
    const s = runSeeds(Number(arg), count);
    for (const f of s.failures) console.log(describeFailure(f));
    console.log(
      JSON.stringify({
        schedules: s.schedules,
        checks: s.checks,
        failures: s.failures.length,
        drops: s.drops,
        overlaps: s.overlaps,
        longestOverlap: s.longestOverlap,
        moves: s.moves,
      }),
    );
  } else {
    const schedule = JSON.parse(readFileSync(arg, "utf8")) as Schedule;
    console.log(JSON.stringify(runSchedule(schedule), null, 1));
  }
}
