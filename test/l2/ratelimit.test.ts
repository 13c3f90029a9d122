import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReplyRateLimiter, sourceMacKey, type ReplyLimits } from "../../src/l2/ratelimit.js";

const LIMITS: ReplyLimits = {
  perSourcePerSecond: 20,
  perSourceBurst: 40,
  totalPerSecond: 100,
  totalBurst: 100,
  maxSources: 50,
};

const count = (n: number, f: () => boolean) => Array.from({ length: n }, f).filter(Boolean).length;

describe("ReplyRateLimiter", () => {
  it("a source gets its burst at once, then its rate", () => {
    const l = new ReplyRateLimiter(LIMITS);
    expect(count(1000, () => l.allow(1, 0))).toBe(40);
    expect(count(1000, () => l.allow(1, 500))).toBe(10);
    expect(count(1000, () => l.allow(1, 1500))).toBe(20);
  });

  it("a flooding source does not take another source's replies", () => {
    const l = new ReplyRateLimiter(LIMITS);
    count(100_000, () => l.allow(1, 0));
    expect(l.allow(2, 0)).toBe(true);
  });

  it("all sources together stay under the total (spoofed source MACs)", () => {
    const l = new ReplyRateLimiter(LIMITS);
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
          const l = new ReplyRateLimiter({ ...LIMITS, totalPerSecond: 1e9, totalBurst: 1e9 });
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
    const l = new ReplyRateLimiter(LIMITS);
    count(40, () => l.allow(1, 10_000));
    expect(l.allow(1, 0)).toBe(false);
  });
});

describe("sourceMacKey", () => {
  it("is the 48-bit source MAC, distinct per MAC; -1 for a runt frame", () => {
    const frame = (mac: number[]) => Uint8Array.from([...Array(6).fill(0xff), ...mac, 0x08, 0x06]);
    expect(sourceMacKey(frame([0x02, 0, 0, 0, 0, 1]))).toBe(0x020000000001);
    expect(sourceMacKey(frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(2 ** 48 - 1);
    expect(sourceMacKey(frame([0, 0, 0x80, 0, 0, 0]))).toBe(0x80000000);
    expect(sourceMacKey(new Uint8Array(8))).toBe(-1);
  });
});
