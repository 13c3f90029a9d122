import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { IntervalSet } from "../../src/allocator/intervalset.js";

describe("IntervalSet", () => {
  it("merges neighbours and splits on delete", () => {
    const s = new IntervalSet();
    for (const x of [1n, 3n, 2n, 10n]) s.add(x);
    expect(s.intervalCount).toBe(2);
    expect(s.size).toBe(4n);
    expect(s.nextAbsent(1n)).toBe(4n);
    expect(s.nextAbsent(0n)).toBe(0n);
    s.delete(2n);
    expect(s.intervalCount).toBe(3);
    expect(s.has(2n)).toBe(false);
    expect(s.nextAbsent(1n)).toBe(2n);
    expect(s.countIn(0n, 10n)).toBe(3n);
    expect(s.countIn(3n, 9n)).toBe(1n);
  });

  it("handles 128-bit values", () => {
    const s = new IntervalSet();
    const top = (1n << 128n) - 1n;
    s.add(top);
    s.add(top - 1n);
    expect(s.nextAbsent(top - 1n)).toBe(top + 1n);
    expect(s.countIn(0n, top)).toBe(2n);
  });

  it("agrees with a naive Set under random add/delete", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 }))), (ops) => {
        const s = new IntervalSet();
        const naive = new Set<number>();
        for (const [add, v] of ops) {
          if (add) {
            s.add(BigInt(v));
            naive.add(v);
          } else {
            s.delete(BigInt(v));
            naive.delete(v);
          }
        }
        expect(s.size).toBe(BigInt(naive.size));
        for (let x = 0; x <= 42; x++) {
          expect(s.has(BigInt(x))).toBe(naive.has(x));
          let y = x;
          while (naive.has(y)) y++;
          expect(s.nextAbsent(BigInt(x))).toBe(BigInt(y));
        }
        const inRange = [...naive].filter((v) => v >= 5 && v <= 20).length;
        expect(s.countIn(5n, 20n)).toBe(BigInt(inRange));
      }),
      { numRuns: 300 },
    );
  });
});
