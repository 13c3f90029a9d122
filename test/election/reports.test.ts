import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PeerReport } from "../../src/election/heartbeat.js";
import { reportPager } from "../../src/election/reports.js";

const report = (hash: number, direct: boolean): PeerReport => ({
  hash,
  ageMs: 0,
  direct,
  alive: true,
  eligible: direct,
  leaving: false,
});

/** What each heartbeat carried before pages were cut per round: hot first, rest rotated, then the encoder's stable direct-first sort and cut. */
function reference(all: PeerReport[], hot: Set<number>, page: number, limit: number): PeerReport[] {
  const first = all.filter((r) => hot.has(r.hash));
  const rest = all.filter((r) => !hot.has(r.hash));
  const at = rest.length > 0 ? (page * 120) % rest.length : 0;
  const listed = [...first, ...rest.slice(at), ...rest.slice(0, at)];
  return [...listed].sort((a, b) => Number(b.direct) - Number(a.direct)).slice(0, limit);
}

describe("member report pages", () => {
  it("carry exactly what the encoder kept from the whole list, whatever the page and the cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { maxLength: 400 }),
        fc.array(fc.nat(400)),
        fc.nat(50),
        fc.integer({ min: 1, max: 200 }),
        (directs, hotPicks, page, limit) => {
          const all = directs.map((direct, i) => report(i, direct));
          const hot = new Set(hotPicks);
          expect(reportPager(all, hot, limit)(page)).toEqual(reference(all, hot, page, limit));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("every member heard directly comes round within a few pages (only those are relayed)", () => {
    const all = Array.from({ length: 500 }, (_, i) => report(i, i % 7 !== 0));
    const pager = reportPager(all, new Set([1, 2, 3]), 170);
    const seen = new Set<number>();
    for (let page = 0; page < 8; page++) for (const r of pager(page)) seen.add(r.hash);
    expect(all.filter((r) => r.direct && !seen.has(r.hash))).toEqual([]);
  });
});
