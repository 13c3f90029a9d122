import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  noteNotice,
  recipients,
  votersOf,
  watchSet,
  type RecipientsInput,
} from "../../src/election/fanout.js";
import { decodeHeartbeat, encodeHeartbeat, nameHash } from "../../src/election/heartbeat.js";
import { Membership } from "../../src/election/membership.js";
import { emptyHeartbeat } from "../support/heartbeat.js";
import { rankNodes } from "../../src/election/ranking.js";

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);
const arbMembers = fc.integer({ min: 1, max: 60 }).map(names);
const arbIps = fc
  .array(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 8 })
  .map((xs) => [...new Set(xs)].map((x) => `203.0.113.${x}`));

describe("voter set", () => {
  it("is the same whatever the order of the members, and as large as asked (or all)", () => {
    fc.assert(
      fc.property(arbMembers, fc.integer({ min: 1, max: 7 }), fc.integer(), (members, size, seed) => {
        const shuffled = [...members].sort((a, b) => nameHash(a + seed) - nameHash(b + seed));
        const a = votersOf(members, size, nameHash);
        const b = votersOf(shuffled, size, nameHash);
        expect([...a].sort()).toEqual([...b].sort());
        expect(a.size).toBe(Math.min(size, members.length));
        for (const v of a) expect(members).toContain(v);
      }),
      { numRuns: 50 },
    );
  });

  it("pinned members take the seats first (lowest hash first), the lowest hashes fill the rest", () => {
    fc.assert(
      fc.property(
        arbMembers,
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat(80)),
        (members, size, picks) => {
          // Pins may name nodes that hold no Lease (node-60 and above): those are no members.
          const pins = new Set(picks.map((i) => `node-${i}`));
          const voters = votersOf(members, size, nameHash, pins);
          const pinnedMembers = members.filter((m) => pins.has(m));
          const byHash = (xs: string[]) => [...xs].sort((a, b) => nameHash(a) - nameHash(b));
          expect(voters.size).toBe(Math.min(size, members.length));
          const expected = [...byHash(pinnedMembers), ...byHash(members.filter((m) => !pins.has(m)))];
          expect([...voters].sort()).toEqual(expected.slice(0, size).sort());
          for (const v of voters) expect(members).toContain(v);
          if (pinnedMembers.length === 0) expect(voters).toEqual(votersOf(members, size, nameHash));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("watch set", () => {
  it("the owner and the nodes within depth below it watch each other; nobody below depth + 1 watches", () => {
    fc.assert(
      fc.property(arbMembers, arbIps, fc.integer({ min: 1, max: 3 }), (members, ips, depth) => {
        const byIp = ips.map((ip) => [ip, members] as const);
        const sets = new Map(members.map((m) => [m, watchSet(m, byIp, depth)]));
        for (const ip of ips) {
          const ranked = rankNodes(members, ip);
          for (let i = 1; i <= Math.min(depth, ranked.length - 1); i++) {
            expect(sets.get(ranked[0]!)!.has(ranked[i]!)).toBe(true);
            expect(sets.get(ranked[i]!)!.has(ranked[0]!)).toBe(true);
          }
        }
        // A node is watched or watches only if it is near the top of some IP's ranking.
        for (const [node, set] of sets) {
          const near = ips.some((ip) => rankNodes(members, ip).indexOf(node) <= 2 * depth);
          if (!near) expect(set.size).toBe(0);
          expect(set.has(node)).toBe(false);
          expect(set.size).toBeLessThanOrEqual(2 * depth * ips.length);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe("watch set of a node handing over", () => {
  it("includes the top of the ranking of every IP it still holds, wherever it ranks itself", () => {
    fc.assert(
      fc.property(arbMembers, arbIps, fc.nat(), (members, ips, at) => {
        const self = members[at % members.length]!;
        const set = watchSet(
          self,
          ips.map((ip) => [ip, members] as const),
          1,
          new Set(ips),
        );
        for (const ip of ips) {
          const top = rankNodes(members, ip)[0]!;
          if (top !== self) expect(set.has(top)).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });
});

/** Runs recipients() over rounds like Membership does (owed notice bookkeeping included). */
function rounds(base: Omit<RecipientsInput, "round" | "owed">, count: number) {
  const owed = new Map<string, number>();
  const sent: { round: number; to: string; slow: boolean; watch: boolean }[] = [];
  for (let round = 0; round < count; round++) {
    const list = recipients({ ...base, round, owed });
    for (const r of list) sent.push({ round, to: r.node, slow: r.slow, watch: r.watch });
    noteNotice(owed, list);
  }
  return sent;
}

const arbRecipients = fc
  .record({
    n: fc.integer({ min: 2, max: 80 }),
    voters: fc.constantFrom(1, 3, 5),
    selfAt: fc.nat(),
    watch: fc.array(fc.nat(), { maxLength: 4 }),
    askers: fc.array(fc.nat(), { maxLength: 4 }),
    slowEveryRounds: fc.integer({ min: 1, max: 8 }),
  })
  .map(({ n, voters, selfAt, watch, askers, slowEveryRounds }) => {
    const members = names(n);
    const self = members[selfAt % n]!;
    const peers = members.filter((m) => m !== self);
    const pick = (xs: number[]) => new Set(xs.map((x) => peers[x % peers.length]!));
    return {
      self,
      peers,
      voters: votersOf(members, voters, nameHash),
      watch: pick(watch),
      askers: pick(askers),
      slowEveryRounds,
      phaseOf: (node: string) => nameHash(node) % slowEveryRounds,
    };
  });

describe("recipients", () => {
  it("watched peers and askers get every round; voters hear everyone and everyone hears them each slow period", () => {
    fc.assert(
      fc.property(arbRecipients, (input) => {
        const count = 3 * input.slowEveryRounds;
        const sent = rounds(input, count);
        const hot = input.watch.size > 0;
        for (let round = 0; round < count; round++) {
          const to = new Set(sent.filter((s) => s.round === round && !s.slow).map((s) => s.to));
          for (const p of [...input.watch, ...input.askers]) expect(to.has(p)).toBe(true);
          if (hot) for (const v of input.voters) if (v !== input.self) expect(to.has(v)).toBe(true);
        }
        const selfVoter = input.voters.has(input.self);
        for (const peer of input.peers) {
          if (!selfVoter && !input.voters.has(peer)) continue;
          // Within any slowEveryRounds consecutive rounds, at least one heartbeat.
          for (let start = 0; start + input.slowEveryRounds <= count; start++) {
            const got = sent.some(
              (s) => s.to === peer && s.round >= start && s.round < start + input.slowEveryRounds,
            );
            expect(got).toBe(true);
          }
        }
      }),
    );
  });

  it("a fast heartbeat is followed by one in the next round (fast, or slow-flagged notice)", () => {
    fc.assert(
      fc.property(arbRecipients, fc.integer({ min: 1, max: 6 }), (input, switchAt) => {
        // The watch set empties at switchAt: the peers that were fast must get notice.
        const before = rounds(input, switchAt);
        const lastFast = new Set(before.filter((s) => s.round === switchAt - 1 && !s.slow).map((s) => s.to));
        const owed = new Map<string, number>();
        for (const s of before) if (!s.slow) owed.set(s.to, 2);
        const next = recipients({ ...input, watch: new Set(), askers: new Set(), round: switchAt, owed });
        const to = new Set(next.map((r) => r.node));
        for (const p of lastFast) expect(to.has(p)).toBe(true);
      }),
    );
  });

  it("a cold node that is no voter sends only to the voters: O(|V|) per slow period, whatever N", () => {
    fc.assert(
      fc.property(arbRecipients, (input) => {
        fc.pre(!input.voters.has(input.self));
        const cold = { ...input, watch: new Set<string>(), askers: new Set<string>() };
        const sent = rounds(cold, input.slowEveryRounds);
        for (const s of sent) expect(input.voters.has(s.to)).toBe(true);
        expect(sent.length).toBeLessThanOrEqual(input.voters.size);
      }),
    );
  });
});

describe("heartbeat flags of the sparse fan-out", () => {
  it("watch and slow survive the codec, and are absent when not set", () => {
    const key = Buffer.alloc(32, 7);
    const hb = emptyHeartbeat("node-1", { seq: 5 });
    for (const flags of [{}, { watch: true }, { slow: true }, { watch: true, slow: true }]) {
      const decoded = decodeHeartbeat(encodeHeartbeat({ ...hb, ...flags }, key), key);
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) continue;
      expect(decoded.heartbeat.watch ?? false).toBe("watch" in flags);
      expect(decoded.heartbeat.slow ?? false).toBe("slow" in flags);
    }
  });
});

describe("membership with a sparse fan-out", () => {
  const config = {
    boot: "0123456789abcdef",
    heartbeatIntervalMs: 40,
    suspectAfterMs: 200,
    maxSuspectAfterMs: 1000,
    rejoinAfterMs: 1000,
    acquiredTtlMs: 4000,
    fanout: { voters: 3, slowEveryRounds: 5, slowTimeoutMs: 3000, watchDepth: 2 },
  };

  it("recomputes the voter set when the pins change, and only counts the pinned voters", () => {
    const members = names(9);
    const self = "node-0";
    const m = new Membership({ ...config, self }, 0);
    for (const peer of members)
      if (peer !== self) m.observeLease(peer, { observedRenewAt: 0, durationMs: 6000 });
    expect(m.voters()).toEqual(votersOf(members, 3, nameHash));
    // Two pinned members (node-40 holds no Lease): they vote, the lowest hash of the rest fills in.
    const pins = new Set(["node-3", "node-5", "node-40"]);
    m.setPinnedVoters(pins);
    expect(m.voters()).toEqual(votersOf(members, 3, nameHash, pins));
    expect([...m.voters()!].filter((v) => pins.has(v)).sort()).toEqual(["node-3", "node-5"]);
    m.setPinnedVoters(new Set());
    expect(m.voters()).toEqual(votersOf(members, 3, nameHash));
  });

  it("counts only the voters for its quorum, and sends a cold node's heartbeats to the voters only", () => {
    const members = names(9);
    const voters = votersOf(members, 3, nameHash);
    const self = members.find((m) => !voters.has(m))!;
    const m = new Membership({ ...config, self }, 0);
    for (const peer of members)
      if (peer !== self) m.observeLease(peer, { observedRenewAt: 0, durationMs: 6000 });
    expect(m.voters()).toEqual(voters);
    const view = m.advance(10);
    expect(view.quorum.quorum).toBe(false);
    const sent = new Set<string>();
    for (let round = 0; round < 5; round++) {
      m.beginRound(round * 40);
      for (const r of m.roundRecipients(round * 40)) {
        expect(r.slow).toBe(true);
        sent.add(r.node);
        expect(m.heartbeatFor(r.node, round * 40).slow).toBe(true);
      }
    }
    expect(sent).toEqual(voters);
    // Hot (it watches a peer): fast to the voters and the watched peer, asking them for the fast rate.
    const watched = members.find((p) => p !== self && !voters.has(p))!;
    m.setWatch(new Set([watched]));
    m.beginRound(400);
    const fast = m.roundRecipients(400);
    expect(new Set(fast.map((r) => r.node))).toEqual(new Set([...voters, watched]));
    for (const r of fast) expect(m.heartbeatFor(r.node, 400)).toMatchObject({ watch: true });
  });
});
