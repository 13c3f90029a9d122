import type { Logger } from "pino";
import { describe, expect, it } from "vitest";
import { StepCadence } from "../../src/speaker/cadence.js";

function cadence(step: () => number, now: () => number = () => performance.now(), waited?: () => number) {
  const order: string[] = [];
  const tookWith: [number, number][] = [];
  const events: unknown[] = [];
  const log = {
    warn: (fields: { event: string }) => events.push(fields.event),
    error: (fields: { event: string }) => events.push(fields.event),
  };
  const c = new StepCadence({
    intervalMs: 40,
    suspectAfterMs: 200,
    manual: false,
    now,
    drain: (stalled) => {
      order.push("drain");
      stalled(0);
    },
    step: () => {
      order.push("step");
      return step();
    },
    took: (ms, waitedMs) => {
      order.push("took");
      tookWith.push([ms, waitedMs]);
    },
    waited,
    stalled: () => order.push("stalled"),
    log: log as unknown as Logger,
  });
  return { c, order, events, tookWith };
}

describe("StepCadence", () => {
  it("drains before the step and times them together", () => {
    const { c, order } = cadence(() => Infinity);
    c.start();
    c.stop();
    expect(order).toEqual(["drain", "step", "took"]);
  });

  it("a step that throws is logged, and the next wake steps again", () => {
    let calls = 0;
    const { c, order, events } = cadence(() => {
      if (++calls === 1) throw new Error("boom");
      return Infinity;
    });
    c.start();
    c.wake();
    c.stop();
    expect(events).toEqual(["tickFailed"]);
    expect(order).toEqual(["drain", "step", "drain", "step", "took"]);
  });

  it("tells the step's duration with how long it waited for a CPU, or NaN when that is not measured", () => {
    let t = 1000;
    let waited = 7;
    const measured = cadence(
      () => {
        t += 3;
        waited += 1.25;
        return Infinity;
      },
      () => t,
      () => waited,
    );
    measured.c.start();
    measured.c.stop();
    expect(measured.tookWith).toEqual([[3, 1.25]]);
    const unmeasured = cadence(() => Infinity);
    unmeasured.c.start();
    unmeasured.c.stop();
    expect(unmeasured.tookWith[0]![1]).toBeNaN();
  });

  it("reports how late a wake was answered, once per read", () => {
    let t = 1000;
    const { c } = cadence(
      () => t + 40,
      () => t,
    );
    c.start();
    t += 55; // the pump asked for 1040
    c.wake();
    expect(c.takeMaxLag()).toBe(15);
    expect(c.takeMaxLag()).toBe(0);
    c.stop();
  });
});
