import { describe, expect, it } from "vitest";
import { timelineAscii, timelineSvg } from "../../src/ops/plot.js";
import { percentile, summarizeProbes, type Probe } from "../../src/ops/timeline.js";

const probe = (t: number, ok: boolean, body = "worker-0 via master-1", ms = 1): Probe => ({
  t,
  ok,
  body,
  ms,
});

describe("probe timeline", () => {
  it("finds the outage from the first failure to the next later success", () => {
    const probes = [
      probe(0, true),
      probe(10, false),
      probe(20, false),
      probe(30, true, "worker-0 via master-0"),
      probe(40, true, "worker-0 via master-0"),
    ];
    const s = summarizeProbes(probes);
    expect(s.failed).toBe(2);
    expect(s.outages).toEqual([{ start: 10, end: 30, durationMs: 20, failed: 2 }]);
    expect(s.unavailableMs).toBe(20);
    expect(s.spanMs).toBe(20);
    expect(s.servedBy.map((x) => x.body)).toEqual(["worker-0 via master-1", "worker-0 via master-0"]);
  });

  it("counts a retransmitted SYN (slow success) inside the conservative span", () => {
    const probes = [probe(0, false), probe(10, true, "a", 1000), probe(20, false), probe(30, true)];
    const s = summarizeProbes(probes);
    expect(s.slow).toBe(1);
    expect(s.spanMs).toBe(30);
    expect(s.unavailableMs).toBe(10);
  });

  it("tells connections reset by the MAC switch from other failures", () => {
    const reset = { ...probe(10, false), error: "read ECONNRESET" };
    const timeout = { ...probe(20, false), error: "no answer within 1000 ms" };
    const s = summarizeProbes([probe(0, true), reset, timeout, probe(30, true)]);
    expect(s.failed).toBe(2);
    expect(s.resets).toBe(1);
  });

  it("reports an outage still open at the end", () => {
    expect(summarizeProbes([probe(0, true), probe(10, false), probe(50, false)]).outages).toEqual([
      { start: 10, end: 50, durationMs: 40, failed: 2 },
    ]);
  });

  it("filters by time window and computes percentiles", () => {
    expect(summarizeProbes([probe(0, false), probe(100, true)], 50).failed).toBe(0);
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 99)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
  });

  it("plots failures and colours by serving node", () => {
    const svg = timelineSvg(
      [probe(0, true), probe(10, false), probe(20, true, "worker-0 via master-0")],
      [{ t: 5, label: "crash <master-1>" }],
      "t",
    );
    expect(svg).toContain("<svg");
    expect(svg).toContain("crash &lt;master-1&gt;");
    expect(svg).toContain("worker-0 via master-0");
    expect(timelineAscii([probe(0, true), probe(150, false), probe(160, true)], 100)).toBe(".!");
  });
});
