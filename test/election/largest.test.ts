import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { largest } from "../../src/election/peers.js";

describe("largest (the adaptive timeout's p99 of the gap window)", () => {
  it("is what sorting gives, for any values and rank", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 250 }),
        fc.nat(),
        (values, r) => {
          const rank = 1 + (r % values.length);
          const sorted = [...values].sort((a, b) => b - a);
          expect(largest(values, rank)).toBe(sorted[rank - 1]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("refuses a rank outside the values", () => {
    expect(() => largest([1, 2], 0)).toThrow(RangeError);
    expect(() => largest([1, 2], 3)).toThrow(RangeError);
  });
});
