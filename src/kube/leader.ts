/**
 * Pure leader-election decisions on a coordination.k8s.io Lease, client-go style. Expiry is measured
 * from when *this* process last saw the Lease change (its resourceVersion), never from the renewTime
 * written by another node, so clock skew between nodes cannot shorten a lease.
 */

export interface LeaseTimings {
  /** How long a leader's claim lasts without renewal, as seen by the others. */
  leaseDurationMs: number;
  /** A leader that could not renew for this long stops acting as leader. Must be < leaseDurationMs. */
  renewDeadlineMs: number;
  /** Pause between acquire/renew attempts. */
  retryPeriodMs: number;
}

/** Defaults of client-go (and kube-controller-manager): 15 s / 10 s / 2 s. */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export function validateTimings(t: LeaseTimings): string | undefined {
  if (!(t.retryPeriodMs > 0)) return "retry period must be positive";
  if (!(t.renewDeadlineMs > t.retryPeriodMs)) return "renew deadline must be longer than the retry period";
  if (!(t.leaseDurationMs > t.renewDeadlineMs))
    return "lease duration must be longer than the renew deadline";
  if (t.leaseDurationMs % 1000 !== 0) return "lease duration must be whole seconds (leaseDurationSeconds)";
  return undefined;
}

export interface LeaseState {
  holder: string | undefined;
  durationSeconds: number | undefined;
  resourceVersion: string;
}

/** When (local monotonic ms) we first saw the Lease at its current resourceVersion. */
export interface LeaseObservation {
  resourceVersion: string;
  observedAt: number;
}

export type LeaseAction =
  | { kind: "create" }
  | { kind: "renew" }
  | { kind: "acquire"; why: "released" | "expired" }
  | { kind: "wait"; holder: string; expiresInMs: number };

export function decideLease(
  lease: LeaseState | undefined,
  observation: LeaseObservation | undefined,
  identity: string,
  now: number,
  timings: LeaseTimings,
): LeaseAction {
  if (!lease) return { kind: "create" };
  if (lease.holder === identity) return { kind: "renew" };
  if (!lease.holder) return { kind: "acquire", why: "released" };
  const durationMs = (lease.durationSeconds ?? timings.leaseDurationMs / 1000) * 1000;
  // A version we have not seen before counts as renewed just now.
  const seenAt =
    observation && observation.resourceVersion === lease.resourceVersion ? observation.observedAt : now;
  const expiresInMs = seenAt + durationMs - now;
  if (expiresInMs <= 0) return { kind: "acquire", why: "expired" };
  return { kind: "wait", holder: lease.holder, expiresInMs };
}

/** The observation to keep after reading `lease` at `now`. */
export function observe(
  lease: LeaseState | undefined,
  previous: LeaseObservation | undefined,
  now: number,
): LeaseObservation | undefined {
  if (!lease) return undefined;
  if (previous && previous.resourceVersion === lease.resourceVersion) return previous;
  return { resourceVersion: lease.resourceVersion, observedAt: now };
}

/** Still leader? Only while the last successful renewal is younger than the renew deadline. */
export function stillLeading(lastRenewAt: number | undefined, now: number, timings: LeaseTimings): boolean {
  return lastRenewAt !== undefined && now - lastRenewAt < timings.renewDeadlineMs;
}
