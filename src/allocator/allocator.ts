// In-memory IP address management for LoadBalancer Services. Pure: no Kubernetes I/O, no clocks, no
// randomness, so the controller can rebuild it from cluster state at any time (restore()) and every
// decision is reproducible. All iteration that reaches output is over sorted data.

import { formatIP, isBuggyIPv4, parseIPDetailed } from "../api/ip.js";
import {
  dropConflictingPools,
  isRestrictedPool,
  poolRefusal,
  type ParsedPool,
  type ServiceIdentity,
} from "../api/pool.js";
import type { PortProtocol } from "../api/service.js";
import type { IPFamily } from "../api/types.js";
import { IntervalSet } from "./intervalset.js";
import {
  describeHolder,
  heldElsewhereMessage,
  unavailableIPMessage,
  unavailablePoolMessage,
} from "./messages.js";
import { normalizeRequest, type NormalizedRequest } from "./normalize.js";
import {
  serviceKeyString,
  type AssignRequest,
  type AssignResult,
  type Assignment,
  type FailureReason,
  type Invalidation,
  type PoolStats,
  type PoolStatsExact,
  type ServiceKey,
  type SetPoolsResult,
} from "./types.js";

interface HeldIP {
  family: IPFamily;
  value: bigint;
  text: string;
}

/** What a Service holds, plus what is needed to re-check sharing and pool permissions later. */
interface Alloc {
  key: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  ips: HeldIP[];
  pool: string;
  sharingKey: string | undefined;
  backendKey: string;
  ports: PortProtocol[];
}

interface IndexedRange {
  start: bigint;
  end: bigint;
  pool: ParsedPool;
}

type Failure = Extract<AssignResult, { ok: false }>;

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

function fail(reason: FailureReason, message: string, detail?: string): Failure {
  return { ok: false, reason, message, released: [], ...(detail !== undefined ? { detail } : {}) };
}

function held(family: IPFamily, value: bigint): HeldIP {
  return { family, value, text: formatIP(family, value) };
}

/** Saturating bigint -> number: status fields are int64 and JS numbers are exact only to 2^53. */
function saturate(n: bigint): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return Number(n > max ? max : n < 0n ? 0n : n);
}

/** Restricted (pinned) pools first, as MetalLB does; within a tier priority>0 ascending, then unset; then name. */
function comparePoolsForAuto(a: ParsedPool, b: ParsedPool): number {
  const ta = isRestrictedPool(a) ? 0 : 1;
  const tb = isRestrictedPool(b) ? 0 : 1;
  if (ta !== tb) return ta - tb;
  const pa = a.allocation.priority > 0 ? a.allocation.priority : Number.POSITIVE_INFINITY;
  const pb = b.allocation.priority > 0 ? b.allocation.priority : Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return cmpStr(a.name, b.name);
}

export class Allocator {
  private poolsByName = new Map<string, ParsedPool>();
  private rangeIndex: Record<IPFamily, IndexedRange[]> = { IPv4: [], IPv6: [] };
  /** Every IP held by at least one Service, per family. */
  private readonly used: Record<IPFamily, IntervalSet> = { IPv4: new IntervalSet(), IPv6: new IntervalSet() };
  /** IP text -> keys of the Services holding it. */
  private readonly users = new Map<string, Set<string>>();
  private readonly allocs = new Map<string, Alloc>();
  /** Sharing key -> IPs held under it (all users of an IP have the same key). */
  private readonly sharedIPs = new Map<string, Map<string, HeldIP>>();

  // ---------------------------------------------------------------- pools

  /**
   * Replaces the pool set. Pools overlapping an earlier one in `pools` (or repeating its name) are
   * ignored and reported; pass them oldest first (see compareByAge) so the established pool wins.
   * Assignments whose IPs are no longer in a single pool the Service may use are released and returned.
   */
  setPools(pools: readonly ParsedPool[]): SetPoolsResult {
    const { kept, rejected } = dropConflictingPools(pools);
    this.poolsByName = new Map([...kept].sort((a, b) => cmpStr(a.name, b.name)).map((p) => [p.name, p]));
    const index: Record<IPFamily, IndexedRange[]> = { IPv4: [], IPv6: [] };
    for (const p of this.poolsByName.values()) {
      for (const r of p.ranges) index[r.family].push({ start: r.start, end: r.end, pool: p });
    }
    index.IPv4.sort((a, b) => cmpBig(a.start, b.start));
    index.IPv6.sort((a, b) => cmpBig(a.start, b.start));
    this.rangeIndex = index;

    const invalidated: Invalidation[] = [];
    for (const key of [...this.allocs.keys()].sort(cmpStr)) {
      const a = this.allocs.get(key)!;
      const located = this.locate(a.ips, a, undefined, "held");
      if (located.ok) {
        a.pool = located.pool.name;
        continue;
      }
      this.drop(key);
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
    return [...this.poolsByName.values()];
  }

  /** The pool containing `ip` (ignoring avoidBuggyIPs), or undefined. */
  poolForIP(ip: string): string | undefined {
    const p = parseIPDetailed(ip.trim());
    return p.ok ? this.containingPool(p.ip.family, p.ip.value)?.name : undefined;
  }

  private containingPool(family: IPFamily, value: bigint): ParsedPool | undefined {
    const list = this.rangeIndex[family];
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = list[mid]!;
      if (value < r.start) hi = mid - 1;
      else if (value > r.end) lo = mid + 1;
      else return r.pool;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- queries

  lookup(key: ServiceKey): Assignment | undefined {
    const a = this.allocs.get(serviceKeyString(key));
    return a ? this.toAssignment(a) : undefined;
  }

  /** All assignments, sorted by "namespace/name". */
  assignments(): Assignment[] {
    return [...this.allocs.keys()].sort(cmpStr).map((k) => this.toAssignment(this.allocs.get(k)!));
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
    const p = this.poolsByName.get(name);
    if (!p) return undefined;
    const assigned: Record<IPFamily, bigint> = { IPv4: 0n, IPv6: 0n };
    // Pools never overlap and held IPs are always usable in their pool, so counting used addresses
    // inside the pool's ranges is exactly "distinct IPs assigned from this pool".
    for (const r of p.ranges) assigned[r.family] += this.used[r.family].countIn(r.start, r.end);
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
    const a = this.allocs.get(k);
    if (!a) return [];
    this.drop(k);
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
    const cur = this.allocs.get(req.key);
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
          `cannot restore ${ips.join(",")}: more than one ${p.ip.family} address`,
        );
      }
      parsed.push(held(p.ip.family, p.ip.value));
    }
    if (parsed.length === 0) return fail("invalid-request", "cannot restore: no IPs given");
    const familyProblem = this.familyMismatch(parsed, req);
    if (familyProblem) return fail("request-changed", familyProblem);
    if (req.requested && !sameIPs(parsed, req.requested)) {
      return fail(
        "request-changed",
        `the Service holds ${parsed.map((i) => i.text).join(",")} but now requests ${req.requested
          .map((i) => formatIP(i.family, i.value))
          .join(",")}`,
      );
    }
    const located = this.locate(parsed, req, undefined, "restored");
    if (!located.ok) return located;
    if (req.pool !== undefined && req.pool !== located.pool.name) {
      return fail(
        "request-changed",
        `the Service holds addresses from pool ${JSON.stringify(located.pool.name)} but metallb.io/address-pool now asks for ${JSON.stringify(req.pool)}`,
      );
    }
    for (const ip of parsed) {
      const problem = this.sharingProblem(ip, req);
      if (problem) return fail("ip-in-use", problem);
    }

    const before = this.allocs.get(req.key);
    const ordered = orderByFamilies(parsed, req.families);
    if (before) this.drop(req.key);
    this.commit(this.makeAlloc(req, ordered, located.pool.name));
    const changed = !before || !sameIPs(before.ips, ordered) || before.pool !== located.pool.name;
    return { ok: true, ips: ordered.map((i) => i.text), pool: located.pool.name, changed };
  }

  // ---------------------------------------------------------------- assign helpers

  /** Does the current assignment still satisfy the (possibly changed) request? */
  private currentStillValid(cur: Alloc, req: NormalizedRequest): boolean {
    if (this.familyMismatch(cur.ips, req)) return false;
    if (req.requested && !sameIPs(cur.ips, req.requested)) return false;
    if (req.pool !== undefined && req.pool !== cur.pool) return false;
    const located = this.locate(cur.ips, req, undefined, "held");
    if (!located.ok || located.pool.name !== cur.pool) return false;
    return cur.ips.every((ip) => this.sharingProblem(ip, req) === undefined);
  }

  /** Keeps the current IPs, refreshing sharing metadata, and tops up PreferDualStack if possible. */
  private keep(cur: Alloc, req: NormalizedRequest): AssignResult {
    let ips = cur.ips;
    if (req.mode === "prefer" && !req.requested && ips.length < req.families.length) {
      const pool = this.poolsByName.get(cur.pool)!;
      for (const f of req.families) {
        if (ips.some((i) => i.family === f)) continue;
        const extra = this.findIP(pool, f, req);
        if (extra) ips = [...ips, extra];
      }
    }
    const ordered = orderByFamilies(ips, req.families);
    const changed = ordered.length !== cur.ips.length;
    this.drop(cur.key);
    this.commit(this.makeAlloc(req, ordered, cur.pool));
    return { ok: true, ips: ordered.map((i) => i.text), pool: cur.pool, changed };
  }

  private assignExplicit(req: NormalizedRequest): AssignResult {
    const ips = req.requested!.map((p) => held(p.family, p.value));
    const located = this.locate(ips, req, req.pool, "requested");
    if (!located.ok) return located;
    for (const ip of ips) {
      const problem = this.sharingProblem(ip, req);
      if (problem) return fail("ip-in-use", problem);
    }
    this.commit(this.makeAlloc(req, ips, located.pool.name));
    return { ok: true, ips: ips.map((i) => i.text), pool: located.pool.name, changed: true };
  }

  private assignAuto(req: NormalizedRequest): AssignResult {
    let candidates: ParsedPool[];
    if (req.pool !== undefined) {
      const pool = this.poolsByName.get(req.pool);
      if (!pool) return fail("unknown-pool", unavailablePoolMessage(req.pool));
      const refusal = poolRefusal(pool, identity(req));
      if (refusal) return fail("namespace-not-allowed", unavailablePoolMessage(req.pool), refusal);
      candidates = [pool];
    } else {
      if (this.poolsByName.size === 0) {
        return fail("no-pool", "no IPAddressPool is configured; create one so addresses can be assigned");
      }
      candidates = [...this.poolsByName.values()]
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
    this.commit(this.makeAlloc(req, picked.ips, picked.pool.name));
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
      for (const ip of this.sharedIPs.get(req.sharingKey)?.values() ?? []) {
        if (ip.family !== family) continue;
        const rank = ranges.findIndex((r) => ip.value >= r.start && ip.value <= r.end);
        if (rank < 0 || this.sharingProblem(ip, req) !== undefined) continue;
        if (!best || rank < best.rank || (rank === best.rank && ip.value < best.ip.value))
          best = { rank, ip };
      }
      if (best) return best.ip;
    }
    const used = this.used[family];
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

  /**
   * Finds the single pool holding all `ips` and checks the Service may use it. `wantedPool` is the
   * metallb.io/address-pool value, when it must match.
   */
  private locate(
    ips: readonly HeldIP[],
    svc: ServiceIdentity & { key?: string },
    wantedPool: string | undefined,
    what: "requested" | "restored" | "held",
  ): { ok: true; pool: ParsedPool } | Failure {
    let pool: ParsedPool | undefined;
    for (const ip of ips) {
      const p = this.containingPool(ip.family, ip.value);
      if (!p) {
        return fail(
          "requested-ip-not-in-pool",
          what === "held"
            ? `IP ${ip.text} is no longer inside any IPAddressPool`
            : unavailableIPMessage(what, ip.text),
        );
      }
      // Before anything that names the pool or looks at its holders: a pool the Service may not use
      // is not described to it (the held case names the pool the Service itself had).
      const refusal = poolRefusal(p, svc);
      if (refusal) {
        return what === "held"
          ? fail("namespace-not-allowed", refusal)
          : fail("namespace-not-allowed", unavailableIPMessage(what, ip.text), `${ip.text}: ${refusal}`);
      }
      if (p.avoidBuggyIPs && ip.family === "IPv4" && isBuggyIPv4(ip.value)) {
        return fail(
          "requested-ip-not-in-pool",
          `${what} IP ${ip.text} ends in .0 or .255, which pool ${JSON.stringify(p.name)} excludes (avoidBuggyIPs: true); pick another address`,
        );
      }
      if (pool && pool !== p) {
        return fail(
          "pool-mismatch",
          `${what} IPs ${ips.map((i) => i.text).join(",")} lie in different pools (${JSON.stringify(pool.name)}, ` +
            `${JSON.stringify(p.name)}); all addresses of a Service must come from one pool`,
        );
      }
      pool = p;
    }
    if (!pool) return fail("invalid-request", "no IPs given");
    if (wantedPool !== undefined && wantedPool !== pool.name) {
      const wanted = this.poolsByName.get(wantedPool);
      if (!wanted) return fail("unknown-pool", unavailablePoolMessage(wantedPool));
      const refusal = poolRefusal(wanted, svc);
      if (refusal) return fail("namespace-not-allowed", unavailablePoolMessage(wantedPool), refusal);
      return fail(
        "pool-mismatch",
        `${what} IPs ${ips.map((i) => i.text).join(",")} are in pool ${JSON.stringify(pool.name)} but ` +
          `metallb.io/address-pool asks for ${JSON.stringify(wantedPool)}; remove the annotation or pick addresses from that pool`,
      );
    }
    return { ok: true, pool };
  }

  /** Why `req` may not use `ip` given its other holders, or undefined if it may. */
  private sharingProblem(ip: HeldIP, req: NormalizedRequest): string | undefined {
    const holders = [...(this.users.get(ip.text) ?? [])].filter((k) => k !== req.key).sort(cmpStr);
    if (holders.length === 0) return undefined;
    const first = this.allocs.get(holders[0]!)!;
    const problem = this.sharingConflict(ip, req, holders, first);
    if (problem === undefined) return undefined;
    // Nothing about another namespace's Services is told: not their names, keys, backends or ports.
    return problem.holder.namespace === req.namespace ? problem.message : heldElsewhereMessage(ip.text);
  }

  private sharingConflict(
    ip: HeldIP,
    req: NormalizedRequest,
    holders: readonly string[],
    first: Alloc,
  ): { holder: Alloc; message: string } | undefined {
    const who = describeHolder(first, req.namespace);
    const at = (message: string, holder = first) => ({ holder, message });
    if (req.sharingKey === undefined) {
      return at(
        `${ip.text} is already used by ${who}; to share it, give both Services the same metallb.io/allow-shared-ip value and non-overlapping ports`,
      );
    }
    if (first.sharingKey === undefined) {
      return at(
        `${ip.text} is already used by ${who}, which does not allow sharing (no metallb.io/allow-shared-ip)`,
      );
    }
    if (first.sharingKey !== req.sharingKey) {
      return at(
        `${ip.text} is already used by ${who} with a different metallb.io/allow-shared-ip value; the values must be equal to share`,
      );
    }
    if (first.backendKey !== req.backendKey) {
      return at(
        `${ip.text} is shared with ${who} but the backends differ: Services sharing an IP with ` +
          "externalTrafficPolicy: Local must both be Local and have identical pod selectors",
      );
    }
    for (const k of holders) {
      const other = this.allocs.get(k)!;
      for (const p of req.ports) {
        if (other.ports.some((q) => q.port === p.port && q.protocol === p.protocol)) {
          return at(
            `port ${p.port}/${p.protocol} is already used on ${ip.text} by ${describeHolder(other, req.namespace)}; Services sharing an IP need distinct ports`,
            other,
          );
        }
      }
    }
    return undefined;
  }

  /** A message if the held IPs' families don't fit the request's families/policy. */
  private familyMismatch(ips: readonly HeldIP[], req: NormalizedRequest): string | undefined {
    const have = ips.map((i) => i.family);
    const subset = have.every((f) => req.families.includes(f));
    const complete = req.families.every((f) => have.includes(f));
    if (subset && (complete || (req.mode === "prefer" && have.length > 0))) return undefined;
    return `holds ${have.join("+") || "nothing"} but the Service needs ${req.families.join("+")} (spec.ipFamilies/ipFamilyPolicy)`;
  }

  // ---------------------------------------------------------------- bookkeeping

  private makeAlloc(req: NormalizedRequest, ips: HeldIP[], pool: string): Alloc {
    return {
      key: req.key,
      namespace: req.namespace,
      name: req.name,
      labels: req.labels,
      namespaceLabels: req.namespaceLabels,
      ips,
      pool,
      sharingKey: req.sharingKey,
      backendKey: req.backendKey,
      ports: req.ports,
    };
  }

  private commit(a: Alloc): void {
    this.allocs.set(a.key, a);
    for (const ip of a.ips) {
      let set = this.users.get(ip.text);
      if (!set) {
        set = new Set();
        this.users.set(ip.text, set);
        this.used[ip.family].add(ip.value);
      }
      set.add(a.key);
      if (a.sharingKey !== undefined) {
        let m = this.sharedIPs.get(a.sharingKey);
        if (!m) {
          m = new Map();
          this.sharedIPs.set(a.sharingKey, m);
        }
        m.set(ip.text, ip);
      }
    }
  }

  private drop(key: string): void {
    const a = this.allocs.get(key);
    if (!a) return;
    this.allocs.delete(key);
    for (const ip of a.ips) {
      const set = this.users.get(ip.text);
      set?.delete(key);
      if (set && set.size > 0) continue;
      this.users.delete(ip.text);
      this.used[ip.family].delete(ip.value);
      if (a.sharingKey !== undefined) {
        const m = this.sharedIPs.get(a.sharingKey);
        m?.delete(ip.text);
        if (m && m.size === 0) this.sharedIPs.delete(a.sharingKey);
      }
    }
  }
}

function identity(req: NormalizedRequest): ServiceIdentity {
  return {
    namespace: req.namespace,
    labels: req.labels,
    ...(req.namespaceLabels !== undefined ? { namespaceLabels: req.namespaceLabels } : {}),
  };
}

function sameIPs(
  a: readonly { family: IPFamily; value: bigint }[],
  b: readonly { family: IPFamily; value: bigint }[],
): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => y.family === x.family && y.value === x.value));
}

function orderByFamilies(ips: readonly HeldIP[], families: readonly IPFamily[]): HeldIP[] {
  return [...ips].sort((a, b) => families.indexOf(a.family) - families.indexOf(b.family));
}
