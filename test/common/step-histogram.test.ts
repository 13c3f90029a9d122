import fc from "fast-check";
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { StepHistogram } from "../../src/common/step-histogram.js";

const BUCKETS = [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 1];

describe("StepHistogram", () => {
  it("scrapes exactly as prom-client's Histogram given the same observations, with and without a label", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            value: fc.oneof(fc.constantFrom(...BUCKETS, 0, 2), fc.double({ min: 0, max: 2, noNaN: true })),
            phase: fc.constantFrom("drain", "plan", "wake"),
          }),
          { maxLength: 60 },
        ),
        async (observations) => {
          const ours = new Registry();
          const theirs = new Registry();
          const fast = new StepHistogram({
            name: "x_seconds",
            help: "h",
            buckets: BUCKETS,
            registers: [ours],
          });
          const fastPhase = new StepHistogram({
            name: "y_seconds",
            help: "h",
            buckets: BUCKETS,
            labelName: "phase",
            registers: [ours],
          });
          const slow = new Histogram({ name: "x_seconds", help: "h", buckets: BUCKETS, registers: [theirs] });
          const slowPhase = new Histogram({
            name: "y_seconds",
            help: "h",
            buckets: BUCKETS,
            labelNames: ["phase"],
            registers: [theirs],
          });
          for (const { value, phase } of observations) {
            fast.observe(value);
            slow.observe(value);
            fastPhase.observe(value, phase);
            slowPhase.observe({ phase }, value);
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
        },
      ),
      { numRuns: 200 },
    );
  });

  it("ignores a value that is not a finite number, and refuses buckets that do not ascend", async () => {
    const registry = new Registry();
    const h = new StepHistogram({
      name: "z_seconds",
      help: "h",
      buckets: [0.001, 0.01],
      registers: [registry],
    });
    h.observe(Number.NaN);
    h.observe(Number.POSITIVE_INFINITY);
    h.observe(0.005);
    expect(await registry.metrics()).toContain('z_seconds_bucket{le="0.01"} 1');
    expect(await registry.metrics()).toContain("z_seconds_count 1");
    expect(() => new StepHistogram({ name: "w", help: "h", buckets: [0.01, 0.001] })).toThrow(/ascend/);
  });
});
