import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ReplyLimits } from "../../src/l2/ratelimit.js";
import { replyLimiter } from "../../src/native/rawsocket.js";

// The addon's token buckets (native/src/replylimiter.h), which drop a flood before it reaches JS.

const LIMITS: ReplyLimits = {
  perSourcePerSecond: 20,
  perSourceBurst: 40,
  totalPerSecond: 100,
  totalBurst: 100,
  maxSources: 50,
};

const count = (n: number, f: () => boolean) => Array.from({ length: n }, f).filter(Boolean).length;

describe("the addon's reply limiter", () => {
  it("a source gets its burst at once, then its rate", () => {
    const l = replyLimiter(LIMITS);
    expect(count(1000, () => l.allow(1, 0))).toBe(40);
    expect(count(1000, () => l.allow(1, 500))).toBe(10);
    expect(count(1000, () => l.allow(1, 1500))).toBe(20);
  });

  it("a flooding source does not take another source's replies", () => {
    const l = replyLimiter(LIMITS);
    count(100_000, () => l.allow(1, 0));
    expect(l.allow(2, 0)).toBe(true);
  });

  it("all sources together stay under the total (spoofed source MACs)", () => {
    const l = replyLimiter(LIMITS);
    let allowed = 0;
    for (let i = 0; i < 10_000; i++) if (l.allow(i, i / 10)) allowed++; // 10,000 sources in 1 s
    expect(allowed).toBeLessThanOrEqual(100 + 100);
    expect(l.trackedSources).toBeLessThanOrEqual(50);
  });

  it("never allows a source more than burst + rate × time, whatever the arrival pattern", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 200 })), {
          maxLength: 400,
        }),
        (arrivals) => {
          const l = replyLimiter({ ...LIMITS, totalPerSecond: 1e9, totalBurst: 1e9 });
          let now = 0;
          const allowed = new Map<number, number>();
          for (const [source, gap] of arrivals) {
            now += gap;
            if (l.allow(source, now)) allowed.set(source, (allowed.get(source) ?? 0) + 1);
          }
          for (const n of allowed.values()) expect(n).toBeLessThanOrEqual(40 + (20 * now) / 1000);
        },
      ),
    );
  });

  it("a clock that goes backwards gives no extra tokens", () => {
    const l = replyLimiter(LIMITS);
    count(40, () => l.allow(1, 10_000));
    expect(l.allow(1, 0)).toBe(false);
  });
});
