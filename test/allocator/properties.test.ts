// Property tests: random operation sequences must keep the allocator's safety invariants.

import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Allocator } from "../../src/allocator/allocator.js";
import { parseIP, isBuggyIPv4 } from "../../src/api/ip.js";
import { poolRefusal, type ParsedPool } from "../../src/api/pool.js";
import type { IPAddressPoolSpec, ServiceAllocation } from "../../src/api/types.js";
import type { AssignRequest } from "../../src/allocator/types.js";
import { pool } from "./helpers.js";

// Non-overlapping on purpose: overlap handling has its own unit tests, and a pool "moving" under a
// Service would make its address-pool annotation stale, which restore() rightly refuses.
const POOL_DEFS: Record<string, string[]> = {
  alpha: ["192.0.2.0/30", "2001:db8:a::/126"],
  beta: ["198.51.100.254-198.51.101.1"],
  gamma: ["203.0.113.0/31"],
  delta: ["2001:db8:d::/127"],
};
const POOL_NAMES = Object.keys(POOL_DEFS);
const CANDIDATE_IPS = [
  "192.0.2.1",
  "192.0.2.2",
  "192.0.2.0",
  "198.51.100.255",
  "198.51.101.0",
  "198.51.101.1",
  "203.0.113.1",
  "203.0.113.200",
  "2001:db8:a::1",
  "2001:db8:d::1",
  "2001:db8:ff::1",
];
const SERVICES = 24;

const allocationArb: fc.Arbitrary<ServiceAllocation | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant<ServiceAllocation>({ namespaces: ["a"] }),
  fc.integer({ min: 1, max: 3 }).map((priority): ServiceAllocation => ({ priority })),
  fc.constant<ServiceAllocation>({ serviceSelectors: [{ matchLabels: { app: "x" } }] }),
  fc.constant<ServiceAllocation>({ namespaceSelectors: [{ matchLabels: { team: "blue" } }] }),
);

const poolSetArb: fc.Arbitrary<ParsedPool[]> = fc.subarray(POOL_NAMES, { minLength: 2 }).chain((names) =>
  fc.tuple(
    ...names.map((name) =>
      fc
        .record({
          autoAssign: fc.constantFrom(true, true, true, false),
          avoidBuggyIPs: fc.boolean(),
          sa: allocationArb,
        })
        .map((v) => {
          const spec: IPAddressPoolSpec = {
            addresses: POOL_DEFS[name]!,
            autoAssign: v.autoAssign,
            avoidBuggyIPs: v.avoidBuggyIPs,
          };
          if (v.sa) spec.serviceAllocation = v.sa;
          return pool(name, spec);
        }),
    ),
  ),
);

function serviceIdentity(i: number) {
  return {
    namespace: i % 2 === 0 ? "a" : "b",
    name: `s${i}`,
    labels: { app: i % 3 === 0 ? "x" : "y" },
    namespaceLabels: i % 2 === 0 ? { team: "blue" } : { team: "red" },
  };
}

const requestArb: fc.Arbitrary<AssignRequest> = fc
  .record({
    svc: fc.integer({ min: 0, max: SERVICES - 1 }),
    family: fc.constantFrom("v4", "v6", "require", "prefer", "v6first"),
    requestedMode: fc.constantFrom("none", "none", "none", "match", "match", "random"),
    v4: fc.constantFrom(...CANDIDATE_IPS.filter((ip) => !ip.includes(":"))),
    v6: fc.constantFrom(...CANDIDATE_IPS.filter((ip) => ip.includes(":"))),
    random: fc.subarray(CANDIDATE_IPS, { minLength: 1, maxLength: 2 }),
    pool: fc.oneof(
      { weight: 8, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: fc.constantFrom(...POOL_NAMES, "nope") },
    ),
    sharingKey: fc.constantFrom(undefined, "k1", "k1", "k2"),
    ports: fc.subarray([
      { port: 80, protocol: "TCP" as const },
      { port: 443, protocol: "TCP" as const },
      { port: 80, protocol: "UDP" as const },
    ]),
    backendKey: fc.constantFrom("", "app=x"),
  })
  .map((r) => {
    const id = serviceIdentity(r.svc);
    const fam: Pick<AssignRequest, "ipFamilies" | "ipFamilyPolicy"> =
      r.family === "v4"
        ? { ipFamilies: ["IPv4"] }
        : r.family === "v6"
          ? { ipFamilies: ["IPv6"] }
          : r.family === "v6first"
            ? { ipFamilies: ["IPv6", "IPv4"], ipFamilyPolicy: "RequireDualStack" }
            : {
                ipFamilies: ["IPv4", "IPv6"],
                ipFamilyPolicy: r.family === "require" ? "RequireDualStack" : "PreferDualStack",
              };
    const requested =
      r.requestedMode === "none"
        ? []
        : r.requestedMode === "random"
          ? r.random
          : fam.ipFamilies.length === 1 || fam.ipFamilyPolicy === undefined
            ? [fam.ipFamilies[0] === "IPv4" ? r.v4 : r.v6]
            : [r.v4, r.v6];
    const out: AssignRequest = {
      service: { namespace: id.namespace, name: id.name },
      labels: id.labels,
      namespaceLabels: id.namespaceLabels,
      ...fam,
      requestedIPs: requested,
      ports: r.ports,
      backendKey: r.backendKey,
    };
    if (r.pool !== null) out.pool = r.pool;
    if (r.sharingKey !== undefined) out.sharingKey = r.sharingKey;
    return out;
  });

type Op =
  | { kind: "assign"; req: AssignRequest }
  | { kind: "release"; svc: number }
  | { kind: "setPools"; pools: ParsedPool[] };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: requestArb.map((req) => ({ kind: "assign" as const, req })) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: SERVICES - 1 }).map((svc) => ({ kind: "release" as const, svc })),
  },
  { weight: 1, arbitrary: poolSetArb.map((pools) => ({ kind: "setPools" as const, pools })) },
);

/** The safety invariants; `lastOk` maps a Service to the request its current assignment satisfied. */
function checkInvariants(a: Allocator, lastOk: Map<string, AssignRequest>): void {
  const pools = new Map(a.pools().map((p) => [p.name, p]));
  const holders = new Map<string, AssignRequest[]>();
  for (const asg of a.assignments()) {
    const p = pools.get(asg.pool);
    expect(p, `${asg.service} holds from missing pool ${asg.pool}`).toBeDefined();
    const r = lastOk.get(asg.service);
    expect(r, `${asg.service} holds IPs without a successful request`).toBeDefined();
    expect(
      poolRefusal(p!, { namespace: asg.namespace, labels: r!.labels, namespaceLabels: r!.namespaceLabels }),
    ).toBe(undefined);
    for (const ip of asg.ips) {
      const parsed = parseIP(ip)!;
      const inside = p!.ranges.some(
        (rg) => rg.family === parsed.family && parsed.value >= rg.start && parsed.value <= rg.end,
      );
      expect(inside, `${ip} outside pool ${asg.pool}`).toBe(true);
      if (p!.avoidBuggyIPs && parsed.family === "IPv4") expect(isBuggyIPv4(parsed.value)).toBe(false);
      expect(a.poolForIP(ip)).toBe(asg.pool);
      holders.set(ip, [...(holders.get(ip) ?? []), r!]);
    }
    const fams = asg.ips.map((ip) => parseIP(ip)!.family);
    expect(new Set(fams).size).toBe(fams.length);
  }
  for (const [ip, reqs] of holders) {
    if (reqs.length < 2) continue;
    const first = reqs[0]!;
    for (const other of reqs) {
      expect(other.sharingKey, `${ip} shared without a key`).toBeDefined();
      expect(other.sharingKey).toBe(first.sharingKey);
      expect(other.backendKey ?? "").toBe(first.backendKey ?? "");
    }
    const seen = new Set<string>();
    for (const other of reqs) {
      for (const port of other.ports ?? []) {
        const k = `${port.port}/${port.protocol}`;
        expect(seen.has(k), `${ip}: ${k} used twice`).toBe(false);
        seen.add(k);
      }
    }
  }
  for (const p of pools.values()) {
    const s = a.poolStatsExact(p.name)!;
    expect(s.assignedIPv4 + s.availableIPv4).toBe(p.capacity.IPv4);
    expect(s.assignedIPv6 + s.availableIPv6).toBe(p.capacity.IPv6);
    const distinct = new Set([...holders.keys()].filter((ip) => a.poolForIP(ip) === p.name));
    expect(s.assignedIPv4 + s.assignedIPv6).toBe(BigInt(distinct.size));
  }
}

function run(
  ops: Op[],
  initial: ParsedPool[],
): { a: Allocator; lastOk: Map<string, AssignRequest>; pools: ParsedPool[] } {
  const a = new Allocator();
  let pools = initial;
  a.setPools(pools);
  const lastOk = new Map<string, AssignRequest>();
  for (const op of ops) {
    if (op.kind === "assign") {
      const key = `${op.req.service.namespace}/${op.req.service.name}`;
      const before = a.lookup(key);
      const r = a.assign(op.req);
      if (r.ok) {
        lastOk.set(key, op.req);
        expect(a.lookup(key)?.ips).toEqual(r.ips);
        expect(a.lookup(key)?.pool).toBe(r.pool);
      } else if (r.reason === "invalid-request") {
        expect(a.lookup(key)).toEqual(before);
      } else {
        expect(a.lookup(key)).toBeUndefined();
        lastOk.delete(key);
      }
    } else if (op.kind === "release") {
      const id = serviceIdentity(op.svc);
      a.release(id);
      lastOk.delete(`${id.namespace}/${id.name}`);
    } else {
      pools = op.pools;
      const res = a.setPools(pools);
      for (const inv of res.invalidated) lastOk.delete(inv.service);
    }
    checkInvariants(a, lastOk);
  }
  return { a, lastOk, pools };
}

describe("allocator properties", () => {
  it("never double-assigns, never leaves allowed pools, keeps counters consistent", () => {
    fc.assert(
      fc.property(poolSetArb, fc.array(opArb, { minLength: 10, maxLength: 80 }), (initial, ops) => {
        run(ops, initial);
      }),
      { numRuns: 300 },
    );
  });

  it("restore() into a fresh allocator reproduces the same assignments, in any order", () => {
    fc.assert(
      fc.property(
        poolSetArb,
        fc.array(opArb, { minLength: 10, maxLength: 80 }),
        fc.integer(),
        (initial, ops, seed) => {
          const { a, lastOk, pools } = run(ops, initial);
          const before = a.assignments();
          const b = new Allocator();
          b.setPools(pools);
          // Shuffle deterministically from the seed: restore order must not matter.
          const order = [...before].sort((x, y) => hash(x.service, seed) - hash(y.service, seed));
          for (const asg of order) {
            const r = b.restore(lastOk.get(asg.service)!, asg.ips);
            expect(r, `${asg.service}`).toMatchObject({ ok: true, ips: asg.ips, pool: asg.pool });
          }
          expect(b.assignments()).toEqual(before);
          for (const p of pools) expect(b.poolStatsExact(p.name)).toEqual(a.poolStatsExact(p.name));
          // And the rebuilt allocator treats every Service as already satisfied.
          // (PreferDualStack may top up a missing family that has been freed meanwhile.)
          for (const asg of before) {
            const r = b.assign(lastOk.get(asg.service)!);
            expect(r.ok).toBe(true);
            if (r.ok) expect(r.ips).toEqual(expect.arrayContaining(asg.ips));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

function hash(s: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 2654435761);
  return h >>> 0;
}
