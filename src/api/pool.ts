// IPAddressPool validation and normalisation into an internal form the allocator can use without
// re-parsing: per-family inclusive bigint ranges, defaults applied, selectors validated.

import { countBuggyIPv4, familyBits, formatIP, parseIPDetailed } from "./ip.js";
import { canonicalSelector, matchesValidatedSelector, validateLabelSelector } from "./labelselector.js";
import type { IPAddressPool, IPFamily, LabelSelector } from "./types.js";

export interface AddressRange {
  family: IPFamily;
  /** Inclusive. */
  start: bigint;
  /** Inclusive. */
  end: bigint;
  /** The spec.addresses entry this came from, for messages. */
  source: string;
}

export interface PoolAllocationPolicy {
  /** 0 = unset = lowest priority. */
  priority: number;
  namespaces: ReadonlySet<string>;
  namespaceSelectors: readonly LabelSelector[];
  serviceSelectors: readonly LabelSelector[];
}

export interface ParsedPool {
  name: string;
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
  /** In spec order: allocation scans them in this order. Never overlapping. */
  ranges: readonly AddressRange[];
  allocation: PoolAllocationPolicy;
  /** Usable addresses per family (avoidBuggyIPs already subtracted). */
  capacity: Readonly<Record<IPFamily, bigint>>;
  labels: Readonly<Record<string, string>>;
  creationTimestamp?: string;
}

export type ParseAddressResult =
  { ok: true; range: AddressRange; warning?: string } | { ok: false; error: string };

const PREFIX_RE = /^[0-9]{1,3}$/;
const DNS1123_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Parses one spec.addresses entry: a CIDR or a "start-end" range of a single family. */
export function parseAddressEntry(entry: string): ParseAddressResult {
  const text = entry.trim();
  const where = `address ${JSON.stringify(entry)}`;
  if (text === "") return { ok: false, error: `${where}: empty entry; use a CIDR or a start-end range` };

  if (text.includes("-")) {
    const dash = text.indexOf("-");
    const startText = text.slice(0, dash).trim();
    const endText = text.slice(dash + 1).trim();
    const start = parseIPDetailed(startText);
    if (!start.ok) return { ok: false, error: `${where}: invalid range start: ${start.error}` };
    const end = parseIPDetailed(endText);
    if (!end.ok) return { ok: false, error: `${where}: invalid range end: ${end.error}` };
    if (start.ip.family !== end.ip.family) {
      return {
        ok: false,
        error: `${where}: range mixes ${start.ip.family} and ${end.ip.family}; use one range per family`,
      };
    }
    if (start.ip.value > end.ip.value) {
      return {
        ok: false,
        error: `${where}: range is reversed (start ${startText} is after end ${endText}); write it as ${endText}-${startText}`,
      };
    }
    return {
      ok: true,
      range: { family: start.ip.family, start: start.ip.value, end: end.ip.value, source: entry },
    };
  }

  const slash = text.indexOf("/");
  if (slash < 0) {
    return {
      ok: false,
      error: `${where}: missing prefix length; write a single address as ${text}/32 (IPv4) or ${text}/128 (IPv6)`,
    };
  }
  const addrText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const addr = parseIPDetailed(addrText);
  if (!addr.ok) return { ok: false, error: `${where}: invalid CIDR: ${addr.error}` };
  const bits = familyBits(addr.ip.family);
  const prefix = Number(prefixText);
  if (!PREFIX_RE.test(prefixText) || prefix > bits) {
    return {
      ok: false,
      error: `${where}: invalid prefix length ${JSON.stringify(prefixText)}; ${addr.ip.family} needs 0-${bits}`,
    };
  }
  const hostBits = BigInt(bits - prefix);
  const hostMask = (1n << hostBits) - 1n;
  const start = addr.ip.value & ~hostMask;
  const end = start | hostMask;
  const range: AddressRange = { family: addr.ip.family, start, end, source: entry };
  if (start !== addr.ip.value) {
    // MetalLB (Go's net.ParseCIDR) silently masks host bits; we do the same but say so.
    const normalised = `${formatIP(addr.ip.family, start)}/${prefix}`;
    return {
      ok: true,
      range,
      warning: `${where} has host bits set; using ${normalised} (write it that way to silence this warning)`,
    };
  }
  return { ok: true, range };
}

export function rangeSize(r: AddressRange): bigint {
  return r.end - r.start + 1n;
}

/** Usable addresses in a range, honouring avoidBuggyIPs (IPv4 only). */
export function usableInRange(r: AddressRange, avoidBuggyIPs: boolean): bigint {
  const size = rangeSize(r);
  return avoidBuggyIPs && r.family === "IPv4" ? size - countBuggyIPv4(r.start, r.end) : size;
}

export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

export function describeRange(r: AddressRange): string {
  return r.start === r.end
    ? formatIP(r.family, r.start)
    : `${formatIP(r.family, r.start)}-${formatIP(r.family, r.end)}`;
}

export interface ServiceIdentity {
  namespace: string;
  /** Service labels, for serviceSelectors. */
  labels?: Readonly<Record<string, string>>;
  /**
   * Labels of the Service's namespace, for namespaceSelectors. Undefined = unknown: namespaceSelectors
   * then match nothing (fail closed) rather than being evaluated against an empty label set.
   */
  namespaceLabels?: Readonly<Record<string, string>>;
}

/** True if the pool restricts who may use it (namespaces, namespaceSelectors or serviceSelectors). */
export function isRestrictedPool(pool: ParsedPool): boolean {
  const a = pool.allocation;
  return a.namespaces.size > 0 || a.namespaceSelectors.length > 0 || a.serviceSelectors.length > 0;
}

/**
 * Whether a Service may take addresses from the pool. Namespace terms (namespaces, namespaceSelectors)
 * are ORed with each other; service selectors are ORed with each other; the two groups are ANDed.
 * Returns a message explaining the refusal, or undefined when allowed.
 */
export function poolRefusal(pool: ParsedPool, svc: ServiceIdentity): string | undefined {
  const a = pool.allocation;
  if (a.namespaces.size > 0 || a.namespaceSelectors.length > 0) {
    const byName = a.namespaces.has(svc.namespace);
    const bySelector =
      svc.namespaceLabels !== undefined &&
      a.namespaceSelectors.some((s) => matchesValidatedSelector(s, svc.namespaceLabels));
    if (!byName && !bySelector) {
      return `pool ${JSON.stringify(pool.name)} is not available to namespace ${JSON.stringify(svc.namespace)} (see its spec.serviceAllocation.namespaces/namespaceSelectors)`;
    }
  }
  if (
    a.serviceSelectors.length > 0 &&
    !a.serviceSelectors.some((s) => matchesValidatedSelector(s, svc.labels))
  ) {
    return `pool ${JSON.stringify(pool.name)} only serves Services matching its spec.serviceAllocation.serviceSelectors; this Service's labels do not match`;
  }
  return undefined;
}

export type ParsePoolResult =
  | { ok: true; pool: ParsedPool; warnings: string[] }
  | { ok: false; name: string; errors: string[]; warnings: string[] };

/** Validates one IPAddressPool. Reports every problem found, not just the first. */
export function parsePool(obj: IPAddressPool): ParsePoolResult {
  const name = obj.metadata?.name ?? "";
  const errors: string[] = [];
  const warnings: string[] = [];
  if (!name) errors.push("metadata.name is empty");
  const spec = obj.spec ?? { addresses: [] };

  const addresses = spec.addresses ?? [];
  if (addresses.length === 0) {
    errors.push("spec.addresses is empty: a pool needs at least one CIDR (203.0.113.0/24) or range (a-b)");
  }
  const ranges: AddressRange[] = [];
  for (const entry of addresses) {
    const r = parseAddressEntry(entry);
    if (!r.ok) {
      errors.push(r.error);
      continue;
    }
    if (r.warning) warnings.push(r.warning);
    ranges.push(r.range);
  }
  const overlaps = overlapsWithinPool(ranges);
  for (const [a, b] of overlaps.slice(0, MAX_OVERLAPS_REPORTED)) {
    errors.push(
      `addresses ${JSON.stringify(a.source)} and ${JSON.stringify(b.source)} overlap within the pool; remove one or split them`,
    );
  }
  if (overlaps.length > MAX_OVERLAPS_REPORTED) {
    errors.push(
      `${overlaps.length - MAX_OVERLAPS_REPORTED} more addresses overlap earlier ones within the pool`,
    );
  }

  const sa = spec.serviceAllocation;
  let priority = 0;
  if (sa?.priority !== undefined) {
    if (!Number.isInteger(sa.priority) || sa.priority < 0) {
      errors.push(
        `spec.serviceAllocation.priority must be a non-negative integer (lower = preferred, 0 = lowest), got ${sa.priority}`,
      );
    } else {
      priority = sa.priority;
    }
  }
  const namespaces = new Set<string>();
  for (const ns of sa?.namespaces ?? []) {
    if (namespaces.has(ns))
      errors.push(`spec.serviceAllocation.namespaces lists ${JSON.stringify(ns)} twice`);
    else if (ns.length > 63 || !DNS1123_LABEL_RE.test(ns)) {
      warnings.push(
        `spec.serviceAllocation.namespaces: ${JSON.stringify(ns)} is not a valid namespace name and will never match`,
      );
    }
    namespaces.add(ns);
  }
  checkSelectors(sa?.namespaceSelectors, "spec.serviceAllocation.namespaceSelectors", errors);
  checkSelectors(sa?.serviceSelectors, "spec.serviceAllocation.serviceSelectors", errors);

  if (errors.length > 0) return { ok: false, name, errors, warnings };

  const avoidBuggyIPs = spec.avoidBuggyIPs ?? false;
  const capacity: Record<IPFamily, bigint> = { IPv4: 0n, IPv6: 0n };
  for (const r of ranges) capacity[r.family] += usableInRange(r, avoidBuggyIPs);
  const pool: ParsedPool = {
    name,
    autoAssign: spec.autoAssign ?? true,
    avoidBuggyIPs,
    ranges,
    allocation: {
      priority,
      namespaces,
      namespaceSelectors: sa?.namespaceSelectors ?? [],
      serviceSelectors: sa?.serviceSelectors ?? [],
    },
    capacity,
    labels: obj.metadata?.labels ?? {},
    ...(obj.metadata?.creationTimestamp !== undefined
      ? { creationTimestamp: obj.metadata.creationTimestamp }
      : {}),
  };
  return { ok: true, pool, warnings };
}

function checkSelectors(list: LabelSelector[] | undefined, where: string, errors: string[]): void {
  const seen = new Set<string>();
  (list ?? []).forEach((sel, i) => {
    errors.push(...validateLabelSelector(sel, `${where}[${i}]`));
    const canon = canonicalSelector(sel);
    if (seen.has(canon)) errors.push(`${where}[${i}] duplicates an earlier selector`);
    seen.add(canon);
  });
}

/** Ranges by family, then start. */
function sortRanges<T extends AddressRange>(ranges: readonly T[]): T[] {
  return [...ranges].sort((a, b) =>
    a.family !== b.family
      ? a.family < b.family
        ? -1
        : 1
      : a.start < b.start
        ? -1
        : a.start > b.start
          ? 1
          : 0,
  );
}

/** A pool lists at most this many of its own overlaps; the rest are counted. */
const MAX_OVERLAPS_REPORTED = 20;

/**
 * Each range that overlaps an earlier one (in address order), paired with the earlier range that
 * reaches furthest: one sort and one sweep, so O(n log n) and at most n-1 pairs even when every
 * entry is the same CIDR (all pairs would be quadratic).
 */
export function overlapsWithinPool<T extends AddressRange>(ranges: readonly T[]): [T, T][] {
  const pairs: [T, T][] = [];
  let reach: T | undefined;
  for (const r of sortRanges(ranges)) {
    if (reach && reach.family === r.family && r.start <= reach.end) pairs.push([reach, r]);
    if (!reach || reach.family !== r.family || r.end > reach.end) reach = r;
  }
  return pairs;
}

/** Every pair of overlapping ranges, found by sorting (O(n log n + pairs)). */
function overlappingRangePairs<T extends AddressRange>(ranges: readonly T[]): [T, T][] {
  const sorted = sortRanges(ranges);
  const pairs: [T, T][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j]!;
      if (b.family !== a.family || b.start > a.end) break;
      pairs.push([a, b]);
    }
  }
  return pairs;
}

export interface PoolOverlap {
  pool: string;
  otherPool: string;
  /** spec.addresses entries that overlap. */
  address: string;
  otherAddress: string;
}

/** All overlapping (pool, pool) pairs between distinct pools; each pair reported once, sorted. */
export function findPoolOverlaps(pools: readonly ParsedPool[]): PoolOverlap[] {
  const tagged = pools.flatMap((p) => p.ranges.map((r) => ({ ...r, pool: p.name })));
  const out: PoolOverlap[] = [];
  for (const [a, b] of overlappingRangePairs(tagged)) {
    if (a.pool === b.pool) continue;
    const [x, y] = a.pool < b.pool ? [a, b] : [b, a];
    out.push({ pool: x.pool, otherPool: y.pool, address: x.source, otherAddress: y.source });
  }
  const key = (o: PoolOverlap): string =>
    `${o.pool}\u0000${o.otherPool}\u0000${o.address}\u0000${o.otherAddress}`;
  const uniq = new Map(out.map((o) => [key(o), o]));
  return [...uniq.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export interface RejectedPool {
  name: string;
  errors: string[];
}

export interface PreparedPools {
  /** Accepted pools, sorted by name; mutually non-overlapping. */
  pools: ParsedPool[];
  rejected: RejectedPool[];
  warnings: { name: string; message: string }[];
}

/** Oldest first (creationTimestamp, then name): the established pool wins a conflict. */
export function compareByAge(
  a: { name: string; creationTimestamp?: string },
  b: { name: string; creationTimestamp?: string },
): number {
  const ta = a.creationTimestamp ? Date.parse(a.creationTimestamp) : Number.POSITIVE_INFINITY;
  const tb = b.creationTimestamp ? Date.parse(b.creationTimestamp) : Number.POSITIVE_INFINITY;
  const na = Number.isNaN(ta) ? Number.POSITIVE_INFINITY : ta;
  const nb = Number.isNaN(tb) ? Number.POSITIVE_INFINITY : tb;
  if (na !== nb) return na < nb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Keeps pools in the given order unless they overlap an already kept pool (or share its name).
 * Callers wanting "the later pool loses" pass pools sorted with compareByAge.
 */
export function dropConflictingPools(ordered: readonly ParsedPool[]): {
  kept: ParsedPool[];
  rejected: RejectedPool[];
} {
  const kept: ParsedPool[] = [];
  const rejected: RejectedPool[] = [];
  const names = new Set<string>();
  for (const p of ordered) {
    if (names.has(p.name)) {
      rejected.push({ name: p.name, errors: [`duplicate pool name ${JSON.stringify(p.name)}`] });
      continue;
    }
    const conflicts = findPoolOverlaps([...kept, p]).filter(
      (o) => o.pool === p.name || o.otherPool === p.name,
    );
    if (conflicts.length > 0) {
      rejected.push({
        name: p.name,
        errors: conflicts.map((o) => {
          const [mine, other, otherAddr, myAddr] =
            o.pool === p.name
              ? [o.pool, o.otherPool, o.otherAddress, o.address]
              : [o.otherPool, o.pool, o.address, o.otherAddress];
          return `address ${JSON.stringify(myAddr)} of pool ${JSON.stringify(mine)} overlaps ${JSON.stringify(otherAddr)} of older pool ${JSON.stringify(other)}; pool ignored until the overlap is removed`;
        }),
      });
      continue;
    }
    names.add(p.name);
    kept.push(p);
  }
  return { kept, rejected };
}

/** Parses, validates and de-conflicts a full set of pools as the controller sees them. */
export function preparePools(objs: readonly IPAddressPool[]): PreparedPools {
  const parsed: ParsedPool[] = [];
  const rejected: RejectedPool[] = [];
  const warnings: { name: string; message: string }[] = [];
  for (const obj of objs) {
    const r = parsePool(obj);
    const name = r.ok ? r.pool.name : r.name;
    warnings.push(...r.warnings.map((message) => ({ name, message })));
    if (r.ok) parsed.push(r.pool);
    else rejected.push({ name, errors: r.errors });
  }
  parsed.sort(compareByAge);
  const { kept, rejected: conflicted } = dropConflictingPools(parsed);
  kept.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { pools: kept, rejected: [...rejected, ...conflicted], warnings };
}
