/**
 * Pool-level decisions, pure: which IPAddressPools are usable (and in which order the allocator gets
 * them), which problems to report on which pool, and what its status counters should say.
 */
import { compareByAge, preparePools, type ParsedPool } from "../api/pool.js";
import type { IPAddressPoolStatus } from "../api/types.js";
import type { PoolStats } from "../allocator/types.js";
import type { CachedPool } from "./slim.js";

export interface PoolSet {
  /** Accepted pools, oldest first (Allocator.setPools wants that order so the older pool wins). */
  accepted: ParsedPool[];
  /** Pools ignored, with every reason (invalid fields, overlap with an older pool, duplicate name). */
  rejected: { name: string; errors: string[] }[];
  warnings: { name: string; message: string }[];
}

export function buildPoolSet(objs: readonly CachedPool[]): PoolSet {
  const { pools, rejected, warnings } = preparePools(objs);
  return { accepted: [...pools].sort(compareByAge), rejected, warnings };
}

export interface PoolProblem {
  pool: string;
  type: "Warning";
  reason: "InvalidConfiguration" | "ConfigurationWarning";
  message: string;
}

/**
 * Problems worth an Event on the pool. Callers keep the returned keys and report a problem once per
 * pool version, so a steady state does not repeat itself.
 */
export function poolProblems(set: PoolSet): PoolProblem[] {
  const out: PoolProblem[] = [];
  for (const r of set.rejected) {
    out.push({
      pool: r.name,
      type: "Warning",
      reason: "InvalidConfiguration",
      message: `pool ignored: ${r.errors.join("; ")}`,
    });
  }
  for (const w of set.warnings) {
    out.push({ pool: w.name, type: "Warning", reason: "ConfigurationWarning", message: w.message });
  }
  return out;
}

/** The status to write, or undefined when the pool already shows these counters. */
export function poolStatusUpdate(
  current: IPAddressPoolStatus | undefined,
  stats: PoolStats,
): IPAddressPoolStatus | undefined {
  const same =
    current?.assignedIPv4 === stats.assignedIPv4 &&
    current?.assignedIPv6 === stats.assignedIPv6 &&
    current?.availableIPv4 === stats.availableIPv4 &&
    current?.availableIPv6 === stats.availableIPv6;
  return same ? undefined : { ...stats };
}

/** Whether a pool change can affect allocation (status-only updates, e.g. our own counters, cannot). */
export function poolSpecChanged(old: CachedPool | undefined, next: CachedPool | undefined): boolean {
  if (!old || !next) return true;
  return (
    JSON.stringify(old.spec) !== JSON.stringify(next.spec) ||
    old.metadata.creationTimestamp !== next.metadata.creationTimestamp ||
    JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(next.metadata.labels ?? {})
  );
}
