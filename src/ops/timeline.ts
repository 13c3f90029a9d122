/** One HTTP probe through the floating IP. */
export interface Probe {
  /** Start, ms since the epoch. */
  t: number;
  ms: number;
  /** The answer met the expectation (status, body): see ops/expect.ts. */
  ok: boolean;
  /** HTTP status; absent when nothing answered. */
  status?: number;
  /** Who answered (x-served-by or Server header), when it said. */
  server?: string;
  body: string;
  /** Why the probe is not ok: a transport error or the unmet expectation. */
  error?: string;
}

export interface Outage {
  start: number;
  end: number;
  durationMs: number;
  failed: number;
}

export interface ProbeSummary {
  probes: number;
  failed: number;
  outages: Outage[];
  /** Longest unavailability: from the first failed probe to the first success after it. */
  unavailableMs: number;
  /**
   * Conservative unavailability: from the first to the last degraded probe (failed, or slower than
   * `slowMs`: a SYN that went to a dead MAC and was retransmitted), plus one probe interval.
   */
  spanMs: number;
  /** Probes that succeeded but took longer than `slowMs`. */
  slow: number;
  /**
   * Failed probes whose connection was reset. When clients switch to the new owner's MAC, a
   * connection caught between its SYN (tracked and NATed by the old node) and its request (now
   * arriving at the new node, which has no conntrack entry for it) is reset by the backend: L2
   * failover cannot carry per-node connection state, so at most about one such request per switch.
   */
  resets: number;
  /** Which backend path answered, in order of change (e.g. "worker-0 via master-1"). */
  servedBy: { t: number; body: string }[];
}

/**
 * Outages in a probe run. An outage starts with the first failed probe and ends when a later probe
 * (started after it) succeeds. Probes are ordered by start time, so an in-flight success that was
 * started before the failure does not end it.
 */
export function summarizeProbes(
  input: readonly Probe[],
  from = -Infinity,
  to = Infinity,
  options: { slowMs?: number; intervalMs?: number } = {},
): ProbeSummary {
  const slowMs = options.slowMs ?? 250;
  const intervalMs = options.intervalMs ?? 10;
  const probes = input.filter((p) => p.t >= from && p.t <= to).sort((a, b) => a.t - b.t);
  const outages: Outage[] = [];
  let current: Outage | undefined;
  const servedBy: { t: number; body: string }[] = [];
  for (const p of probes) {
    if (!p.ok) {
      if (!current) current = { start: p.t, end: p.t, durationMs: 0, failed: 0 };
      current.failed++;
      continue;
    }
    if (current) {
      current.end = p.t;
      current.durationMs = Math.round(p.t - current.start);
      outages.push(current);
      current = undefined;
    }
    if (servedBy.at(-1)?.body !== p.body) servedBy.push({ t: p.t, body: p.body });
  }
  if (current) {
    const last = probes.at(-1)!;
    current.end = last.t;
    current.durationMs = Math.round(last.t - current.start);
    outages.push(current);
  }
  const degraded = probes.filter((p) => !p.ok || p.ms > slowMs);
  const spanMs = degraded.length === 0 ? 0 : Math.round(degraded.at(-1)!.t - degraded[0]!.t + intervalMs);
  return {
    probes: probes.length,
    failed: probes.filter((p) => !p.ok).length,
    slow: probes.filter((p) => p.ok && p.ms > slowMs).length,
    resets: probes.filter(isReset).length,
    spanMs,
    outages,
    unavailableMs: outages.reduce((m, o) => Math.max(m, o.durationMs), 0),
    servedBy,
  };
}

export function isReset(p: Probe): boolean {
  return !p.ok && /ECONNRESET|socket hang up/.test(p.error ?? "");
}

/** Percentile (nearest rank) of a list of numbers; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
