import { describe, expect, it } from "vitest";
import { reportStep, SLOW_STEP_MS, StepPhases } from "../../src/speaker/step-phases.js";

function clock() {
  const c = { t: 1000, now: () => c.t };
  return c;
}

describe("StepPhases", () => {
  it("times each phase from the previous mark, adding up a phase marked twice", () => {
    const c = clock();
    const p = new StepPhases(c.now);
    p.begin();
    c.t += 2;
    p.mark("inputs");
    c.t += 30.123;
    p.mark("plan");
    c.t += 1;
    p.mark("inputs");
    expect(p.result()).toEqual({ inputs: 3, plan: 30.12 });
  });

  it("starts afresh at begin", () => {
    const c = clock();
    const p = new StepPhases(c.now);
    p.begin();
    c.t += 5;
    p.mark("plan");
    c.t += 100; // between steps: not counted
    p.begin();
    c.t += 1;
    p.mark("wake");
    expect(p.result()).toEqual({ wake: 1 });
  });
});

describe("reportStep", () => {
  function run(msPerPhase: number[], waitedMs?: number) {
    const c = clock();
    const p = new StepPhases(c.now);
    const phases = ["membership", "plan", "effects"] as const;
    p.begin();
    msPerPhase.forEach((ms, i) => {
      c.t += ms;
      p.mark(phases[i]!);
    });
    const observed: [string, number][] = [];
    const warned: object[] = [];
    reportStep(
      p,
      { observe: (l, s) => observed.push([l.phase, s]) },
      { warn: (f) => warned.push(f) },
      { held: 7 },
      waitedMs,
    );
    return { observed, warned };
  }

  it("observes every phase in seconds and stays quiet on a fast step", () => {
    const { observed, warned } = run([1, 2, 3]);
    expect(observed).toEqual([
      ["membership", 0.001],
      ["plan", 0.002],
      ["effects", 0.003],
    ]);
    expect(warned).toEqual([]);
  });

  it("logs a slow step once, with its phases and context", () => {
    const { warned } = run([10, SLOW_STEP_MS, 5]);
    expect(warned).toEqual([
      {
        event: "slowStep",
        ms: SLOW_STEP_MS + 15,
        phases: { membership: 10, plan: SLOW_STEP_MS, effects: 5 },
        held: 7,
      },
    ]);
  });

  it("says how much of a slow step the thread waited for a CPU, when it can tell", () => {
    expect(run([SLOW_STEP_MS, 1, 1], 60.54).warned).toMatchObject([{ event: "slowStep", cpuWaitMs: 60.5 }]);
    expect(run([SLOW_STEP_MS, 1, 1], Number.NaN).warned[0]).not.toHaveProperty("cpuWaitMs");
  });
});
