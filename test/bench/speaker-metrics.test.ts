// The lab benchmarks' reading of a speaker's /metrics (bench/speaker-metrics.ts): what failover-scale
// reports as tick lag, announced IPs, ownership changes and tick quantiles.
import { describe, expect, it } from "vitest";
import { ownQuantiles, parseScrape, tickQuantiles } from "../../bench/speaker-metrics.js";

const text = (tickCounts: number[]) =>
  [
    "# HELP floatip_event_loop_lag_seconds Largest delay of the speaker's tick in the last interval",
    "floatip_event_loop_lag_seconds 0.012",
    'floatip_speaker_announced{service="a/b",protocol="layer2",node="n",ip="2001:db8:1::1:1"} 1',
    'floatip_speaker_announced{service="a/c",protocol="layer2",node="n",ip="2001:db8:1::1:2"} 1',
    'floatip_speaker_announced{service="a/d",protocol="layer2",node="n",ip="2001:db8:1::1:3"} 0',
    'floatip_ownership_changes_total{change="announce",reason="owner"} 3',
    'floatip_ownership_changes_total{change="withdraw",reason="notOwner"} 2',
    ...["0.001", "0.002", "0.005", "+Inf"].map(
      (le, i) => `floatip_speaker_tick_seconds_bucket{le="${le}"} ${tickCounts[i]}`,
    ),
  ].join("\n");

describe("speaker metrics as the lab benchmarks read them", () => {
  it("reads lag, announced IPs and ownership changes", () => {
    const s = parseScrape(text([0, 0, 0, 0]));
    expect(s.lagSeconds).toBe(0.012);
    expect(s.announced).toBe(2);
    expect(s.ownershipChanges).toBe(5);
  });

  it("sums the writes pending over their kinds, and says when a speaker does not export them", () => {
    expect(parseScrape(text([0, 0, 0, 0])).writesPending).toBeUndefined();
    const pending = [
      'floatip_speaker_writes_pending{kind="effects"} 0',
      'floatip_speaker_writes_pending{kind="status"} 12',
      'floatip_speaker_writes_pending{kind="events"} 30',
    ];
    expect(parseScrape([text([0, 0, 0, 0]), ...pending].join("\n")).writesPending).toBe(42);
  });

  it("gives tick quantiles between two scrapes as bucket bounds", () => {
    const before = parseScrape(text([100, 100, 100, 100]));
    // 100 ticks since: 90 under 1 ms, 9 more under 2 ms, 1 over 5 ms.
    const after = parseScrape(text([190, 199, 199, 200]));
    expect(tickQuantiles(before, after)).toEqual({
      name: "floatip_speaker_tick_seconds",
      ticks: 100,
      p50Ms: 1,
      p99Ms: 2,
      over2Ms: 1,
    });
  });

  it("says nothing of ticks when the speaker exports no tick histogram", () => {
    const s = parseScrape("floatip_event_loop_lag_seconds 0");
    expect(s.tick).toBeUndefined();
    expect(tickQuantiles(s, s)).toBeUndefined();
  });

  it("gives the step's own time (without its waits for a CPU) apart from its duration", () => {
    const scrape = (step: number[], own: number[], waited: number) =>
      parseScrape(
        [
          ...["0.001", "0.002", "0.005", "+Inf"].map(
            (le, i) => `floatip_speaker_step_seconds_bucket{le="${le}"} ${step[i]}`,
          ),
          ...["0.001", "0.002", "0.005", "+Inf"].map(
            (le, i) => `floatip_speaker_step_own_seconds_bucket{le="${le}"} ${own[i]}`,
          ),
          `floatip_speaker_step_cpu_wait_seconds_total ${waited}`,
        ].join("\n"),
      );
    const before = scrape([0, 0, 0, 0], [0, 0, 0, 0], 0.5);
    // 100 steps: 5 over 2 ms by the clock, all within 2 ms of their own; 0.3 s waited for a CPU.
    const after = scrape([80, 95, 100, 100], [90, 100, 100, 100], 0.8);
    expect(tickQuantiles(before, after)).toMatchObject({
      name: "floatip_speaker_step_seconds",
      p99Ms: 5,
      over2Ms: 5,
    });
    expect(ownQuantiles(before, after)).toEqual({ p50Ms: 1, p99Ms: 2, over2Ms: 0, cpuWaitMs: 300 });
    expect(ownQuantiles(before, parseScrape("floatip_event_loop_lag_seconds 0"))).toBeUndefined();
  });
});
