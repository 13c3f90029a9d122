// The loaded pools: by name (sorted) and a sorted range index answering "which pool holds this IP"
// by binary search. Pools never overlap (dropConflictingPools), so one range answers.

import { dropConflictingPools, isRestrictedPool, type ParsedPool } from "../api/pool.js";
import type { IPFamily } from "../api/types.js";
import { cmpBig, cmpStr } from "./held.js";
import type { SetPoolsResult } from "./types.js";

interface IndexedRange {
  start: bigint;
  end: bigint;
  pool: ParsedPool;
}

export class PoolIndex {
  private byName = new Map<string, ParsedPool>();
  private ranges: Record<IPFamily, IndexedRange[]> = { IPv4: [], IPv6: [] };

  /** Replaces the pools; returns those ignored for overlapping an earlier one or repeating its name. */
  replace(pools: readonly ParsedPool[]): SetPoolsResult["ignoredPools"] {
    const { kept, rejected } = dropConflictingPools(pools);
    this.byName = new Map([...kept].sort((a, b) => cmpStr(a.name, b.name)).map((p) => [p.name, p]));
    const index: Record<IPFamily, IndexedRange[]> = { IPv4: [], IPv6: [] };
    for (const p of this.byName.values()) {
      for (const r of p.ranges) index[r.family].push({ start: r.start, end: r.end, pool: p });
    }
    index.IPv4.sort((a, b) => cmpBig(a.start, b.start));
    index.IPv6.sort((a, b) => cmpBig(a.start, b.start));
    this.ranges = index;
    return rejected;
  }

  get(name: string): ParsedPool | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /** Loaded pools, sorted by name. */
  all(): ParsedPool[] {
    return [...this.byName.values()];
  }

  containing(family: IPFamily, value: bigint): ParsedPool | undefined {
    const list = this.ranges[family];
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
}

/** Restricted (pinned) pools first, as MetalLB does; within a tier priority>0 ascending, then unset; then name. */
export function comparePoolsForAuto(a: ParsedPool, b: ParsedPool): number {
  const ta = isRestrictedPool(a) ? 0 : 1;
  const tb = isRestrictedPool(b) ? 0 : 1;
  if (ta !== tb) return ta - tb;
  const pa = a.allocation.priority > 0 ? a.allocation.priority : Number.POSITIVE_INFINITY;
  const pb = b.allocation.priority > 0 ? b.allocation.priority : Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return cmpStr(a.name, b.name);
}
