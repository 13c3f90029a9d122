/**
 * Keeps the allocator's pool set in line with the IPAddressPools: applies edits, reports pools that
 * are ignored (Event on the pool plus a log line, once per pool version), and writes the pools' status
 * counters, throttled and only when they change.
 */
import type { Logger } from "pino";
import { METALLB_API_VERSION, METALLB_GROUP, METALLB_VERSION } from "../api/types.js";
import type { Allocator } from "../allocator/allocator.js";
import type { Invalidation } from "../allocator/types.js";
import type { ConfigStateWriter } from "./configstate.js";
import type { EventRecorder, InvolvedObject } from "../kube/events.js";
import { errorText, isConflict } from "../kube/errors.js";
import { type KubeApi } from "../kube/api.js";
import type { ControllerMetrics } from "./metrics.js";
import { buildPoolSet, poolProblems, poolStatusUpdate, type PoolSet } from "./pools.js";
import type { Reflector } from "../kube/reflector.js";
import type { CachedPool } from "./slim.js";
import { countWrite, NotLeader } from "./writer.js";

export interface PoolSyncDeps {
  api: KubeApi;
  pools: Reflector<CachedPool>;
  recorder: EventRecorder;
  metrics: ControllerMetrics;
  log: Logger;
  namespace: string;
  intervalMs: number;
  /** Reports the ignored pools in the controller's ConfigurationState. */
  configState?: ConfigStateWriter;
  /** The allocator and a write guard while leading, else undefined. */
  leader: () => { allocator: Allocator; guard: () => void } | undefined;
}

export class PoolSync {
  private set: PoolSet = { accepted: [], rejected: [], warnings: [] };
  /** Problems already reported, by "pool|reason": "resourceVersion|message". */
  private readonly reported = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: PoolSyncDeps) {}

  /** Loads the current pools into the allocator; returns the assignments that no longer fit. */
  apply(allocator: Allocator): Invalidation[] {
    const set = buildPoolSet(this.d.pools.list());
    const result = allocator.setPools(set.accepted);
    this.set = set;
    for (const inv of result.invalidated) {
      this.d.log.warn(
        {
          event: "assignmentInvalidated",
          service: inv.service,
          ips: inv.ips,
          pool: inv.pool,
          reason: inv.message,
        },
        "pool change took this Service's IP away; re-allocating",
      );
    }
    this.report(set);
    const m = this.d.metrics;
    m.poolsRejected.set(set.rejected.length);
    m.addressesTotal.reset();
    for (const p of set.accepted) {
      const cap = p.capacity.IPv4 + p.capacity.IPv6;
      m.addressesTotal.set(
        { pool: p.name },
        cap > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(cap),
      );
    }
    return result.invalidated;
  }

  /** Writes status counters within `intervalMs` (calls in between are merged). */
  scheduleStatus(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushStatus().catch((err: unknown) =>
        this.d.log.error({ event: "poolStatusFailed", error: errorText(err) }, "pool status update failed"),
      );
    }, this.d.intervalMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private report(set: PoolSet): void {
    const current = new Set<string>();
    for (const p of poolProblems(set)) {
      const obj = this.d.pools.get(`${this.d.namespace}/${p.pool}`);
      const signature = `${obj?.metadata.resourceVersion ?? ""}|${p.message}`;
      const key = `${p.pool}|${p.reason}`;
      current.add(key);
      if (this.reported.get(key) === signature) continue;
      this.reported.set(key, signature);
      this.d.log.warn(
        { event: "poolRejected", pool: p.pool, reason: p.reason, message: p.message },
        "IPAddressPool problem",
      );
      if (obj) this.d.recorder.record(this.poolRef(obj), p.type, p.reason, p.message);
    }
    for (const key of [...this.reported.keys()]) {
      if (current.has(key)) continue;
      this.reported.delete(key);
      this.d.log.info(
        { event: "poolAccepted", pool: key.slice(0, key.indexOf("|")) },
        "IPAddressPool problem resolved",
      );
    }
  }

  private async flushStatus(): Promise<void> {
    const leader = this.d.leader();
    if (!leader) return;
    const { allocator, guard } = leader;
    if (this.d.configState && !(await this.d.configState.write(this.set.rejected, guard))) {
      this.scheduleStatus();
    }
    this.d.metrics.addressesInUse.reset();
    for (const p of this.set.accepted) {
      const stats = allocator.poolStats(p.name);
      const obj = this.d.pools.get(`${this.d.namespace}/${p.name}`);
      if (!stats || !obj) continue;
      this.d.metrics.addressesInUse.set({ pool: p.name }, stats.assignedIPv4 + stats.assignedIPv6);
      const update = poolStatusUpdate(obj.status, stats);
      if (!update) continue;
      try {
        guard();
        const path = `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${this.d.namespace}/ipaddresspools/${p.name}/status`;
        const body = { metadata: { resourceVersion: obj.metadata.resourceVersion }, status: update };
        const saved = await countWrite(this.d.metrics, "pool-status", () =>
          this.d.api.request<unknown>("PATCH", path, { patch: "merge", body }),
        );
        this.d.pools.observe(saved);
      } catch (err) {
        if (err instanceof NotLeader) return;
        if (!isConflict(err)) {
          this.d.log.warn(
            { event: "poolStatusFailed", pool: p.name, error: errorText(err) },
            "cannot update pool status",
          );
        }
        this.scheduleStatus(); // again after the interval, from fresh data
      }
    }
  }

  private poolRef(pool: CachedPool): InvolvedObject {
    return {
      apiVersion: METALLB_API_VERSION,
      kind: "IPAddressPool",
      namespace: this.d.namespace,
      name: pool.metadata.name,
      ...(pool.metadata.uid ? { uid: pool.metadata.uid } : {}),
      ...(pool.metadata.resourceVersion ? { resourceVersion: pool.metadata.resourceVersion } : {}),
    };
  }
}
