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

  it("plots failures, colours by what answered (not the body), and keeps marker labels off the data", () => {
    const served = (t: number, server: string): Probe => ({
      ...probe(t, true, `body ${t}`),
      status: 200,
      server,
    });
    const svg = timelineSvg(
      [served(0, "worker-0"), probe(10, false), served(20, "worker-1"), served(30, "worker-1")],
      [
        { t: 5, label: "crash <master-1>" },
        { t: 15, label: "master-0 announces" },
        { t: 30, label: "master-1 restored" },
      ],
      "t",
    );
    expect(svg).toContain("<svg");
    expect(svg).toContain("crash &lt;master-1&gt;");
    expect(svg).toContain("master-1 restored");
    expect(svg).toContain(">HTTP 200 from worker-0<");
    expect(svg).toContain(">HTTP 200 from worker-1<");
    expect(svg).not.toContain("body 20");
    // Every marker label sits above the plot area, where no probe is drawn.
    const plotTop = Number(/<rect x="\d+" y="(\d+)" width="\d+" height="\d+" fill="none"/.exec(svg)![1]);
    const labelYs = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" fill="#d62728"/g)].map((m) =>
      Number(m[1]),
    );
    expect(labelYs).toHaveLength(3);
    for (const y of labelYs) expect(y).toBeLessThan(plotTop);
    expect(new Set(labelYs).size).toBe(3);
    const dotYs = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)" r="1.8"/g)].map((m) => Number(m[1]));
    for (const y of dotYs) expect(y).toBeGreaterThan(plotTop);
    expect(timelineAscii([probe(0, true), probe(150, false), probe(160, true)], 100)).toBe(".!");
  });
});
