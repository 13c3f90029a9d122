/**
 * The runbook lock: one Lease in floatip's namespace, so that two operations that change the
 * cluster (failover-test, migrate, rollback) never run at once. The holder renews it while it
 * runs; a holder that died leaves a Lease that expires after `durationS` and may then be taken.
 */
import { hostname, userInfo } from "node:os";
import { isConflict, isNotFound } from "../kube/errors.js";
import { paths } from "../kube/paths.js";
import type { KubeClient } from "../kube/client.js";
import { wallNow } from "../common/clock.js";

export const LOCK_NAME = "floatip-runbook-lock";

interface LockLease {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string };
}

/** A second operation refuses with who holds the lock and since when. */
export class LockHeldError extends Error {
  override name = "LockHeldError";
}

export interface RunbookLock {
  /** Stops renewing and deletes the Lease (if still ours). */
  release(): Promise<void>;
}

const micro = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

/** Pure: is the Lease still held at `nowMs` (wall clock: the Lease carries wall-clock times)? */
export function lockHeld(spec: LockLease["spec"], nowMs: number): boolean {
  if (!spec.holderIdentity || !spec.renewTime) return false;
  return nowMs <= Date.parse(spec.renewTime) + (spec.leaseDurationSeconds ?? 30) * 1000;
}

export function describeHolder(spec: LockLease["spec"], nowMs: number): string {
  const since = spec.acquireTime ? new Date(spec.acquireTime) : undefined;
  const ago = since ? ` for ${Math.round((nowMs - since.getTime()) / 1000)} s` : "";
  return `${spec.holderIdentity ?? "?"} holds it since ${since?.toISOString() ?? "?"}${ago}`;
}

export async function acquireLock(
  client: KubeClient,
  namespace: string,
  operation: string,
  options: { durationS?: number; renewMs?: number } = {},
): Promise<RunbookLock> {
  const durationS = options.durationS ?? 30;
  const identity = `${operation} by ${userInfo().username}@${hostname()} (pid ${process.pid})`;
  const ref = { namespace, name: LOCK_NAME };
  const now = wallNow();
  const body: LockLease = {
    metadata: { name: LOCK_NAME, namespace },
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: durationS,
      acquireTime: micro(now),
      renewTime: micro(now),
    },
  };
  const where = `the runbook lock (Lease ${namespace}/${LOCK_NAME})`;
  try {
    await client.api.request("POST", paths.leases(namespace), { body });
  } catch (err) {
    if (!isConflict(err)) throw err;
    const current = await client.get<LockLease>(paths.lease(ref));
    if (current && lockHeld(current.spec, wallNow()))
      throw new LockHeldError(
        `another operation runs: ${describeHolder(current.spec, wallNow())} (${where}); wait for it, or if it died, the lock expires ${current.spec.leaseDurationSeconds ?? 30} s after its last renewal`,
      );
    // Stale (its holder died): take it over, unless someone else is faster (409 again).
    try {
      await client.api.request("PUT", paths.lease(ref), {
        body: { ...body, metadata: { ...body.metadata, resourceVersion: current?.metadata.resourceVersion } },
      });
    } catch (again) {
      if (isConflict(again) || isNotFound(again))
        throw new LockHeldError(`another operation took ${where} just now; try again`);
      throw again;
    }
  }
  const timer = setInterval(
    () => {
      void client.patch(paths.lease(ref), { spec: { renewTime: micro(wallNow()) } }).catch(() => undefined); // a missed renewal is retried; the Lease outlives a few
    },
    options.renewMs ?? (durationS * 1000) / 3,
  );
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      const current = await client.get<LockLease>(paths.lease(ref)).catch(() => undefined);
      if (current?.spec.holderIdentity === identity) await client.delete(paths.lease(ref)).catch(() => false);
    },
  };
}
