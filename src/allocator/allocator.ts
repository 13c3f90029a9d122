// In-memory IP address management for LoadBalancer Services. Pure: no Kubernetes I/O, no clocks, no
// randomness, so the controller can rebuild it from cluster state at any time (restore()) and every
// decision is reproducible. All iteration that reaches output is over sorted data. This module makes
// the decisions (which pool, which address, keep or move); the pool index (poolindex.ts), the ledger
// of holders (ledger.ts) and the pool and sharing rules (rules.ts) live in their own modules.

import { isBuggyIPv4, parseIPDetailed, formatIP } from "../api/ip.js";
import { listSome } from "../common/text.js";
import { poolRefusal, type ParsedPool } from "../api/pool.js";
import type { IPFamily } from "../api/types.js";
import {
  cmpStr,
  fail,
  held,
  identity,
  makeAlloc,
  orderByFamilies,
  sameIPs,
  type Alloc,
  type HeldIP,
} from "./held.js";
import { Ledger } from "./ledger.js";
import { unavailablePoolMessage } from "./messages.js";
import { normalizeRequest, type NormalizedRequest } from "./normalize.js";
import { comparePoolsForAuto, PoolIndex } from "./poolindex.js";
import { familyMismatch, locate, sharingProblem } from "./rules.js";
import {
  serviceKeyString,
  type AssignRequest,
  type AssignResult,
  type Assignment,
  type Invalidation,
  type PoolStats,
  type PoolStatsExact,
  type ServiceKey,
  type SetPoolsResult,
} from "./types.js";

/** Saturating bigint -> number: status fields are int64 and JS numbers are exact only to 2^53. */
function saturate(n: bigint): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return Number(n > max ? max : n < 0n ? 0n : n);
}

export class Allocator {
  private readonly index = new PoolIndex();
  private readonly ledger = new Ledger();

  // ---------------------------------------------------------------- pools

  /**
   * Replaces the pool set. Pools overlapping an earlier one in `pools` (or repeating its name) are
   * ignored and reported; pass them oldest first (see compareByAge) so the established pool wins.
   * Assignments whose IPs are no longer in a single pool the Service may use are released and returned.
   */
  setPools(pools: readonly ParsedPool[]): SetPoolsResult {
    const rejected = this.index.replace(pools);

    const invalidated: Invalidation[] = [];
    for (const key of [...this.ledger.allocs.keys()].sort(cmpStr)) {
      const a = this.ledger.allocs.get(key)!;
      const located = locate(this.index, a.ips, a, undefined, "held");
      if (located.ok) {
        a.pool = located.pool.name;
        continue;
      }
      this.ledger.drop(key);
      invalidated.push({
        service: key,
        ips: a.ips.map((i) => i.text),
        pool: a.pool,
        message: located.message,
      });
    }
    return { invalidated, ignoredPools: rejected };
  }

  /** Loaded pools, sorted by name. */
  pools(): ParsedPool[] {
    return this.index.all();
  }

  /** The pool containing `ip` (ignoring avoidBuggyIPs), or undefined. */
  poolForIP(ip: string): string | undefined {
    const p = parseIPDetailed(ip.trim());
    return p.ok ? this.index.containing(p.ip.family, p.ip.value)?.name : undefined;
  }

  // ---------------------------------------------------------------- queries

  lookup(key: ServiceKey): Assignment | undefined {
    const a = this.ledger.allocs.get(serviceKeyString(key));
    return a ? this.toAssignment(a) : undefined;
  }

  /** All assignments, sorted by "namespace/name". */
  assignments(): Assignment[] {
    return [...this.ledger.allocs.keys()]
      .sort(cmpStr)
      .map((k) => this.toAssignment(this.ledger.allocs.get(k)!));
  }

  private toAssignment(a: Alloc): Assignment {
    return {
      service: a.key,
      namespace: a.namespace,
      name: a.name,
      ips: a.ips.map((i) => i.text),
      pool: a.pool,
      ...(a.sharingKey !== undefined ? { sharingKey: a.sharingKey } : {}),
    };
  }

  /** Exact counters; available honours avoidBuggyIPs. Undefined for an unknown pool. */
  poolStatsExact(name: string): PoolStatsExact | undefined {
    const p = this.index.get(name);
    if (!p) return undefined;
    const assigned: Record<IPFamily, bigint> = { IPv4: 0n, IPv6: 0n };
    // Pools never overlap and held IPs are always usable in their pool, so counting used addresses
    // inside the pool's ranges is exactly "distinct IPs assigned from this pool".
    for (const r of p.ranges) assigned[r.family] += this.ledger.used[r.family].countIn(r.start, r.end);
    return {
      assignedIPv4: assigned.IPv4,
      assignedIPv6: assigned.IPv6,
      availableIPv4: p.capacity.IPv4 - assigned.IPv4,
      availableIPv6: p.capacity.IPv6 - assigned.IPv6,
    };
  }

  /** Counters for IPAddressPool.status, each saturated at Number.MAX_SAFE_INTEGER (a /64 has 2^64). */
  poolStats(name: string): PoolStats | undefined {
    const s = this.poolStatsExact(name);
    if (!s) return undefined;
    return {
      assignedIPv4: saturate(s.assignedIPv4),
      assignedIPv6: saturate(s.assignedIPv6),
      availableIPv4: saturate(s.availableIPv4),
      availableIPv6: saturate(s.availableIPv6),
    };
  }

  // ---------------------------------------------------------------- mutations

  /** Frees whatever the Service holds; returns the released IPs (empty if none). */
  release(key: ServiceKey): string[] {
    const k = serviceKeyString(key);
    const a = this.ledger.allocs.get(k);
    if (!a) return [];
    this.ledger.drop(k);
    return a.ips.map((i) => i.text);
  }

  /**
   * Gives the Service addresses satisfying the request. Idempotent: if what it holds still satisfies
   * the request, the same IPs come back (changed: false). Otherwise the old assignment is released
   * and a new one is made; on failure the Service then holds nothing (see AssignResult.released).
   */
  assign(request: AssignRequest): AssignResult {
    const norm = normalizeRequest(request);
    if (!norm.ok) return fail("invalid-request", norm.message);
    const req = norm.req;

    let released: string[] = [];
    const cur = this.ledger.allocs.get(req.key);
    if (cur) {
      const stillValid = this.currentStillValid(cur, req);
      if (stillValid) return this.keep(cur, req);
      released = this.release(req.key);
    }

    const result = req.requested ? this.assignExplicit(req) : this.assignAuto(req);
    if (!result.ok) return { ...result, released };
    const changed = !(
      released.length === result.ips.length && released.every((ip, i) => ip === result.ips[i])
    );
    const moved = released.filter((ip) => !result.ips.includes(ip));
    return { ...result, changed, ...(moved.length > 0 ? { released: moved } : {}) };
  }

  /**
   * Re-registers what a Service already holds (its status.loadBalancer.ingress) after a restart.
   * Validated like an explicit request, except that autoAssign does not matter: IPs outside a pool the
   * Service may use, IPs another Service holds incompatibly, or IPs/pools the Service no longer asks
   * for are refused. On failure nothing changes; the caller then clears the status and calls assign().
   */
  restore(request: AssignRequest, ips: readonly string[]): AssignResult {
    const norm = normalizeRequest(request);
    if (!norm.ok) return fail("invalid-request", norm.message);
    const req = norm.req;

    const parsed: HeldIP[] = [];
    for (const t of ips) {
      const p = parseIPDetailed(t.trim());
      if (!p.ok) return fail("invalid-request", `cannot restore: ${p.error}`);
      if (parsed.some((q) => q.family === p.ip.family)) {
        return fail(
          "invalid-request",
          `cannot restore ${listSome(ips, ",")}: more than one ${p.ip.family} address`,
        );
      }
      parsed.push(held(p.ip.family, p.ip.value));
    }
    if (parsed.length === 0) return fail("invalid-request", "cannot restore: no IPs given");
    const familyProblem = familyMismatch(parsed, req);
    if (familyProblem) return fail("request-changed", familyProblem);
    if (req.requested && !sameIPs(parsed, req.requested)) {
      return fail(
        "request-changed",
        `the Service holds ${parsed.map((i) => i.text).join(",")} but now requests ${req.requested
          .map((i) => formatIP(i.family, i.value))
          .join(",")}`,
      );
    }
    const located = locate(this.index, parsed, req, undefined, "restored");
    if (!located.ok) return located;
    if (req.pool !== undefined && req.pool !== located.pool.name) {
      return fail(
        "request-changed",
        `the Service holds addresses from pool ${JSON.stringify(located.pool.name)} but metallb.io/address-pool now asks for ${JSON.stringify(req.pool)}`,
      );
    }
    for (const ip of parsed) {
      const problem = sharingProblem(this.ledger, ip, req);
      if (problem) return fail("ip-in-use", problem);
    }

    const before = this.ledger.allocs.get(req.key);
    const ordered = orderByFamilies(parsed, req.families);
    if (before) this.ledger.drop(req.key);
    this.ledger.commit(makeAlloc(req, ordered, located.pool.name));
    const changed = !before || !sameIPs(before.ips, ordered) || before.pool !== located.pool.name;
    return { ok: true, ips: ordered.map((i) => i.text), pool: located.pool.name, changed };
  }

  // ---------------------------------------------------------------- assign helpers

  /** Does the current assignment still satisfy the (possibly changed) request? */
  private currentStillValid(cur: Alloc, req: NormalizedRequest): boolean {
    if (familyMismatch(cur.ips, req)) return false;
    if (req.requested && !sameIPs(cur.ips, req.requested)) return false;
    if (req.pool !== undefined && req.pool !== cur.pool) return false;
    const located = locate(this.index, cur.ips, req, undefined, "held");
    if (!located.ok || located.pool.name !== cur.pool) return false;
    return cur.ips.every((ip) => sharingProblem(this.ledger, ip, req) === undefined);
  }

  /** Keeps the current IPs, refreshing sharing metadata, and tops up PreferDualStack if possible. */
  private keep(cur: Alloc, req: NormalizedRequest): AssignResult {
    let ips = cur.ips;
    if (req.mode === "prefer" && !req.requested && ips.length < req.families.length) {
      const pool = this.index.get(cur.pool)!;
      for (const f of req.families) {
        if (ips.some((i) => i.family === f)) continue;
        const extra = this.findIP(pool, f, req);
        if (extra) ips = [...ips, extra];
      }
    }
    const ordered = orderByFamilies(ips, req.families);
    const changed = ordered.length !== cur.ips.length;
    this.ledger.drop(cur.key);
    this.ledger.commit(makeAlloc(req, ordered, cur.pool));
    return { ok: true, ips: ordered.map((i) => i.text), pool: cur.pool, changed };
  }

  private assignExplicit(req: NormalizedRequest): AssignResult {
    const ips = req.requested!.map((p) => held(p.family, p.value));
    const located = locate(this.index, ips, req, req.pool, "requested");
    if (!located.ok) return located;
    for (const ip of ips) {
      const problem = sharingProblem(this.ledger, ip, req);
      if (problem) return fail("ip-in-use", problem);
    }
    this.ledger.commit(makeAlloc(req, ips, located.pool.name));
    return { ok: true, ips: ips.map((i) => i.text), pool: located.pool.name, changed: true };
  }

  private assignAuto(req: NormalizedRequest): AssignResult {
    let candidates: ParsedPool[];
    if (req.pool !== undefined) {
      const pool = this.index.get(req.pool);
      if (!pool) return fail("unknown-pool", unavailablePoolMessage(req.pool));
      const refusal = poolRefusal(pool, identity(req));
      if (refusal) return fail("namespace-not-allowed", unavailablePoolMessage(req.pool), refusal);
      candidates = [pool];
    } else {
      if (this.index.size === 0) {
        return fail("no-pool", "no IPAddressPool is configured; create one so addresses can be assigned");
      }
      candidates = this.index
        .all()
        .filter((p) => p.autoAssign && poolRefusal(p, identity(req)) === undefined)
        .sort(comparePoolsForAuto);
      if (candidates.length === 0) {
        return fail(
          "no-pool",
          `no IPAddressPool with autoAssign enabled is available to ${req.key} (pools may be limited by ` +
            "spec.serviceAllocation); pools with autoAssign: false are only used through the " +
            "metallb.io/address-pool or metallb.io/loadBalancerIPs annotations",
        );
      }
    }

    const offering = candidates.filter((p) =>
      req.mode === "prefer"
        ? req.families.some((f) => p.capacity[f] > 0n)
        : req.families.every((f) => p.capacity[f] > 0n),
    );
    if (offering.length === 0) {
      const names = candidates.map((p) => JSON.stringify(p.name)).join(", ");
      return fail(
        "no-pool",
        `the Service needs ${req.families.join(req.mode === "prefer" ? " or " : " and ")} addresses but no pool it may use ` +
          `(${names}) has ${req.mode === "require" && req.families.length > 1 ? "both families" : "them"}; ` +
          "add such addresses to a pool or change spec.ipFamilies/ipFamilyPolicy",
      );
    }

    const picked = this.pickFromPools(offering, req);
    if (!picked) {
      const names = offering.map((p) => JSON.stringify(p.name)).join(", ");
      return fail(
        "pool-exhausted",
        `no free ${req.families.join("/")} address in pool${offering.length > 1 ? "s" : ""} ${names}; ` +
          "release an address, add addresses to the pool, or share one via metallb.io/allow-shared-ip",
      );
    }
    this.ledger.commit(makeAlloc(req, picked.ips, picked.pool.name));
    return { ok: true, ips: picked.ips.map((i) => i.text), pool: picked.pool.name, changed: true };
  }

  /**
   * First pool (in order) that satisfies the family mode. PreferDualStack follows MetalLB: the first
   * pool able to give both families wins; failing that, the first with the primary family, then the
   * first with the secondary one.
   */
  private pickFromPools(
    pools: ParsedPool[],
    req: NormalizedRequest,
  ): { pool: ParsedPool; ips: HeldIP[] } | undefined {
    let primaryOnly: { pool: ParsedPool; ips: HeldIP[] } | undefined;
    let secondaryOnly: { pool: ParsedPool; ips: HeldIP[] } | undefined;
    for (const pool of pools) {
      const found: HeldIP[] = [];
      for (const f of req.families) {
        const ip = this.findIP(pool, f, req);
        if (ip) found.push(ip);
        else if (req.mode !== "prefer") break; // every family is required: this pool is out
      }
      if (found.length === req.families.length) return { pool, ips: found };
      if (req.mode !== "prefer" || found.length === 0) continue;
      const only = found[0]!;
      if (only.family === req.families[0]) primaryOnly ??= { pool, ips: [only] };
      else secondaryOnly ??= { pool, ips: [only] };
    }
    return primaryOnly ?? secondaryOnly;
  }

  /**
   * An address of `family` in `pool` for the request: an IP already shared under the request's sharing
   * key (keeps sharing Services together), else the first free one in spec order.
   */
  private findIP(pool: ParsedPool, family: IPFamily, req: NormalizedRequest): HeldIP | undefined {
    const ranges = pool.ranges.filter((r) => r.family === family);
    if (req.sharingKey !== undefined) {
      let best: { rank: number; ip: HeldIP } | undefined;
      for (const ip of this.ledger.shared(req.sharingKey)) {
        if (ip.family !== family) continue;
        const rank = ranges.findIndex((r) => ip.value >= r.start && ip.value <= r.end);
        if (rank < 0 || sharingProblem(this.ledger, ip, req) !== undefined) continue;
        if (!best || rank < best.rank || (rank === best.rank && ip.value < best.ip.value))
          best = { rank, ip };
      }
      if (best) return best.ip;
    }
    const used = this.ledger.used[family];
    const skipBuggy = pool.avoidBuggyIPs && family === "IPv4";
    for (const r of ranges) {
      let c = r.start;
      while (c <= r.end) {
        c = used.nextAbsent(c);
        if (c > r.end) break;
        if (skipBuggy && isBuggyIPv4(c)) {
          c += 1n;
          continue;
        }
        return held(family, c);
      }
    }
    return undefined;
  }
}
