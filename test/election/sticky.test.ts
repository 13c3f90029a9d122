import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { claimsKnown, type PeerClaimFacts } from "../../src/election/claims.js";
import { ownerOf, stickyOwnerOf } from "../../src/election/ranking.js";

const IP = "203.0.113.50";
const NODES = ["n0", "n1", "n2", "n3"];

/** Every subset of `items`. */
function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((acc, x) => [...acc, ...acc.map((s) => [...s, x])], [[]]);
}

describe("sticky owner rule", () => {
  it("exhaustively, for every candidate set and claimant set of 4 nodes", () => {
    for (const candidates of subsets(NODES)) {
      for (const claimants of subsets(NODES)) {
        const owner = stickyOwnerOf(candidates, IP, (n) => claimants.includes(n));
        const claiming = candidates.filter((c) => claimants.includes(c));
        if (candidates.length === 0) expect(owner).toBeUndefined();
        // A claiming candidate keeps the IP; two or more: the ranking among them.
        else if (claiming.length > 0) expect(owner).toBe(ownerOf(claiming, IP));
        // Nobody claims it: the ranking winner, as in strict mode.
        else expect(owner).toBe(ownerOf(candidates, IP));
        // A claimant that is not a candidate (dead, ineligible, not selected) keeps nothing.
        if (owner !== undefined) expect(candidates).toContain(owner);
      }
    }
  });

  it("a restored node does not take an IP from its live owner, whatever the ranking", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), { minLength: 2, maxLength: 8 }),
        fc.ipV4(),
        fc.nat(),
        (nodes, ip, pick) => {
          const holder = nodes[pick % nodes.length]!;
          // However the others rank, and whichever of them (re)joins, the holder keeps the IP.
          expect(stickyOwnerOf(nodes, ip, (n) => n === holder)).toBe(holder);
          expect(stickyOwnerOf([...nodes].reverse(), ip, (n) => n === holder)).toBe(holder);
        },
      ),
    );
  });

  it("every speaker agrees when they see the same claims, in any order", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^n[0-9]{1,3}$/), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.ipV4(),
        (nodes, claimBits, ip) => {
          const claims = (n: string) => claimBits[nodes.indexOf(n)] === true;
          const owner = stickyOwnerOf(nodes, ip, claims);
          expect(stickyOwnerOf([...nodes].reverse(), ip, claims)).toBe(owner);
          expect(nodes).toContain(owner);
        },
      ),
    );
  });

  it("a higher preference score outranks stickiness; equal scores stay sticky", () => {
    const [a, b] = ["n0", "n1"];
    const prefersB = new Map([[b!, 10]]);
    expect(stickyOwnerOf([a!, b!], IP, (n) => n === a, prefersB)).toBe(b);
    const equal = new Map([
      [a!, 10],
      [b!, 10],
    ]);
    expect(stickyOwnerOf([a!, b!], IP, (n) => n === a, equal)).toBe(a);
    expect(stickyOwnerOf([a!, b!], IP, (n) => n === b, equal)).toBe(b);
  });
});

describe("claims known first-hand (the condition for sticky)", () => {
  const facts = (hash: number, hears: number[], extra: Partial<PeerClaimFacts> = {}): PeerClaimFacts => ({
    hash,
    direct: true,
    complete: true,
    hears: new Set(hears),
    ...extra,
  });

  it("holds in a full mesh where every set is complete", () => {
    expect(claimsKnown([1, 2, 3], [facts(2, [1, 3]), facts(3, [1, 2])])).toBe(true);
    expect(claimsKnown([1], [])).toBe(true);
  });

  it("fails when a peer is known only through others, its set is incomplete, or a link is missing", () => {
    expect(claimsKnown([1, 2, 3], [facts(2, [1, 3], { direct: false }), facts(3, [1, 2])])).toBe(false);
    expect(claimsKnown([1, 2, 3], [facts(2, [1, 3], { complete: false }), facts(3, [1, 2])])).toBe(false);
    // 2 and 3 do not hear each other: 1 hears both, but they could not know each other's claims.
    expect(claimsKnown([1, 2, 3], [facts(2, [1]), facts(3, [1])])).toBe(false);
    // 2 does not hear us.
    expect(claimsKnown([1, 2], [facts(2, [])])).toBe(false);
  });

  it("property: true exactly when the alive members form a full mesh of direct, complete contacts", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (n, bits) => {
          const hashes = Array.from({ length: n }, (_, i) => i + 1);
          const edge = (a: number, b: number) => bits[(Math.min(a, b) - 1) * 5 + Math.max(a, b) - 1] === true;
          const peers = hashes.slice(1).map((h) =>
            facts(
              h,
              hashes.filter((o) => o !== h && edge(h, o)),
              { direct: edge(1, h) },
            ),
          );
          let full = true;
          for (const a of hashes) for (const b of hashes) if (a < b && !edge(a, b)) full = false;
          expect(claimsKnown(hashes, peers)).toBe(full);
        },
      ),
    );
  });
});
