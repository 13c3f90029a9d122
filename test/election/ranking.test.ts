import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeKey, ownerOf, rankNodes } from "../../src/election/ranking.js";

describe("MetalLB-compatible ranking", () => {
  it("orders nodes by sha256(node#ip), lowest first", () => {
    const nodes = ["master-0", "master-1", "master-2"];
    const ip = "203.0.113.50";
    const expected = [...nodes].sort((a, b) =>
      createHash("sha256").update(`${a}#${ip}`).digest("hex") <
      createHash("sha256").update(`${b}#${ip}`).digest("hex")
        ? -1
        : 1,
    );
    expect(rankNodes(nodes, ip)).toEqual(expected);
    expect(ownerOf(nodes, ip)).toBe(expected[0]);
    expect(nodeKey("master-0", ip)).toBe(createHash("sha256").update(`master-0#${ip}`).digest("hex"));
  });

  it("has no owner without candidates", () => {
    expect(ownerOf([], "203.0.113.50")).toBeUndefined();
  });

  it("agrees whatever order speakers list the nodes in, and the owner is always a candidate", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), { minLength: 1, maxLength: 8 }),
        fc.ipV4(),
        (nodes, ip) => {
          const owner = ownerOf(nodes, ip);
          expect(nodes).toContain(owner);
          expect(ownerOf([...nodes].reverse(), ip)).toBe(owner);
          expect(rankNodes(nodes, ip)[0]).toBe(owner);
        },
      ),
    );
  });

  it("removing a non-owner never moves the IP (no needless failovers)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^n[0-9]{1,3}$/), { minLength: 2, maxLength: 8 }),
        fc.ipV4(),
        (nodes, ip) => {
          const owner = ownerOf(nodes, ip)!;
          const other = nodes.find((n) => n !== owner)!;
          expect(
            ownerOf(
              nodes.filter((n) => n !== other),
              ip,
            ),
          ).toBe(owner);
        },
      ),
    );
  });
});

describe("preference scores (preferredNodeSelectors)", () => {
  it("the highest score wins whatever the hash order; equal scores fall back to the hash", () => {
    const nodes = ["n1", "n2", "n3"];
    const ip = "203.0.113.50";
    const byHash = rankNodes(nodes, ip);
    const lastByHash = byHash.at(-1)!;
    expect(ownerOf(nodes, ip, new Map([[lastByHash, 1]]))).toBe(lastByHash);
    const tied = new Map(nodes.map((n) => [n, 7]));
    expect(ownerOf(nodes, ip, tied)).toBe(byHash[0]);
    expect(ownerOf(nodes, ip, new Map())).toBe(byHash[0]);
  });
});
