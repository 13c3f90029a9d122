import { describe, expect, it } from "vitest";
import { decideQuorum } from "../../src/election/quorum.js";

const q = (members: number, side: string[], apiHealthy: boolean, validLease: string[]) =>
  decideQuorum({ members, side: new Set(side), apiHealthy, validLease: new Set(validLease) }).quorum;

describe("quorum", () => {
  it("a majority needs no API server", () => {
    expect(q(3, ["a", "b"], false, [])).toBe(true);
    expect(q(3, ["a"], false, [])).toBe(false);
    expect(q(1, ["a"], false, [])).toBe(true);
  });

  it("a minority never has a quorum, even with the API server", () => {
    expect(q(3, ["c"], true, ["a", "b", "c"])).toBe(false);
    expect(q(3, ["a"], true, ["a"])).toBe(false); // 2 of 3 lost: no takeover by Lease expiry
    expect(q(5, ["a", "b"], true, ["a", "b"])).toBe(false);
  });

  it("an even split goes to the side with the smallest live name, only with the API server", () => {
    expect(q(2, ["a"], true, ["a", "b"])).toBe(true);
    expect(q(2, ["b"], true, ["a", "b"])).toBe(false);
    expect(q(2, ["a"], false, [])).toBe(false);
    expect(q(4, ["c", "d"], true, ["a", "b", "c", "d"])).toBe(false);
    expect(q(4, ["a", "d"], true, ["a", "b", "c", "d"])).toBe(true);
  });

  it("a 2-node cluster fails over once the dead node's Lease has expired", () => {
    expect(q(2, ["b"], true, ["b"])).toBe(true);
  });

  it("two disjoint sides never both have a quorum (exhaustive, 1-5 members)", () => {
    const names = ["a", "b", "c", "d", "e"];
    for (let n = 1; n <= 5; n++) {
      const all = names.slice(0, n);
      const subsets = [...Array(1 << n).keys()].map((m) => all.filter((_, i) => m & (1 << i)));
      for (const x of subsets) {
        for (const y of subsets) {
          if (x.length === 0 || y.length === 0 || x.some((v) => y.includes(v))) continue;
          for (const live of subsets) {
            // Both use the API tie-break only if they reach the API (then their own Leases are live).
            const xa = x.every((v) => live.includes(v));
            const ya = y.every((v) => live.includes(v));
            const both =
              q(n, x, xa && x.some((v) => live.includes(v)), live) &&
              q(n, y, ya && y.some((v) => live.includes(v)), live);
            expect(both, `${x} vs ${y} with live ${live}`).toBe(false);
          }
        }
      }
    }
  });
});
