/**
 * The allocation controller: watches Services, IPAddressPools and Namespaces, and while it holds the
 * leader Lease runs every Service through the in-memory Allocator, writing status.loadBalancer.ingress,
 * the ip-allocated-from-pool annotation, Events and pool status counters.
 *
 * Finalizer-free, like MetalLB: all allocation state lives in the Services' own status, so a deleted
 * Service frees its IP simply by being gone (seen live as a delete, or after a restart as absent from
 * the list). Nothing blocks Service or namespace deletion if the controller is down or uninstalled.
 *
 * Restart and takeover safety: a new leader first re-lists everything (a consistent read, not a
 * possibly lagging watch), restores every recorded assignment oldest Service first, and only then
 * reconciles; Services whose recorded IPs are still valid get no write at all. Every Service write
 * carries the resourceVersion the decision was based on, so a write based on a stale view fails (409)
 * and is retried from fresh data instead of overwriting someone else's change.
 */
import type { Logger } from "pino";
import { serviceKeyOf } from "../api/service.js";
import { METALLB_API_VERSION, METALLB_GROUP, METALLB_VERSION } from "../api/types.js";
import { Allocator } from "../allocator/allocator.js";
import {
  compareServicesByAge,
  decide,
  planWrites,
  restoreAll,
  restoreCandidates,
  type DecideContext,
  type Decision,
  type WritePlan,
} from "./decide.js";
import { LeaderElector } from "./elector.js";
import { EventRecorder, type InvolvedObject } from "./events.js";
import type { Connection } from "./connection.js";
import { ApiError, errorText, isConflict, isNotFound, KubeApi, type KubeApiOptions } from "./kubeapi.js";
import { DEFAULT_LEASE_TIMINGS, validateTimings, type LeaseTimings } from "./lease.js";
import { ControllerMetrics } from "./metrics.js";
import { buildPoolSet, poolProblems, poolSpecChanged, poolStatusUpdate, type PoolSet } from "./pools.js";
import { WorkQueue } from "./queue.js";
import { Reflector, type ChangeKind } from "./reflector.js";
import {
  slimNamespace,
  slimPool,
  slimService,
  type CachedNamespace,
  type CachedPool,
  type CachedService,
} from "./slim.js";

export interface ControllerConfig {
  /** Namespace of the IPAddressPools and of the leader Lease. */
  namespace: string;
  /** MetalLB --lb-class; undefined = Services without spec.loadBalancerClass. */
  lbClass?: string;
  /** Unique per process; shows up as the Lease holder. */
  identity: string;
  leaseName?: string;
  timings?: LeaseTimings;
  /** Services reconciled (and so API writes in flight) at once. */
  writeConcurrency?: number;
  /** Pool status counters are written at most this often. */
  poolStatusIntervalMs?: number;
  eventConcurrency?: number;
  api?: KubeApiOptions;
  /** Collect process metrics (off in tests that run several controllers in one process). */
  processMetrics?: boolean;
}

export const CONTROLLER_DEFAULTS = {
  leaseName: "floatip-controller",
  writeConcurrency: 16,
  poolStatusIntervalMs: 1000,
  eventConcurrency: 4,
} as const;

const COMPONENT = "floatip-controller";

interface RawService {
  metadata?: { resourceVersion?: string; annotations?: Record<string, string> };
}

function annotationsApplied(saved: RawService, patch: Record<string, string | null>): boolean {
  const a = saved.metadata?.annotations ?? {};
  return Object.entries(patch).every(([k, v]) => (v === null ? !(k in a) : a[k] === v));
}

/** Thrown (and swallowed) when a write is attempted after leadership was lost. */
class NotLeader extends Error {}

export class Controller {
  readonly metrics: ControllerMetrics;
  private api: KubeApi | undefined;
  private services!: Reflector<CachedService>;
  private pools!: Reflector<CachedPool>;
  private namespaces!: Reflector<CachedNamespace>;
  private elector!: LeaderElector;
  private recorder!: EventRecorder;
  private readonly queue: WorkQueue;
  /** Present only while leading and restored. */
  private allocator: Allocator | undefined;
  /** Bumped on every leadership change; a write from an older epoch is refused. */
  private epoch = 0;
  private poolSet: PoolSet = { accepted: [], rejected: [], warnings: [] };
  /** Why a Service lost its IP to a pool edit, for the ClearAssignment Event its reconcile will send. */
  private readonly clearReasons = new Map<string, string>();
  /**
   * Services whose allocation failed, with the failure last reported and the Service version it was
   * reported for. They are retried whenever an IP is freed (a delete can end an "ip-in-use"), and a
   * retry that fails the same way for an unchanged Service does not repeat the Event.
   */
  private readonly pending = new Map<string, { message: string; rv: string | undefined }>();
  /** Pool problems already reported, by pool: "resourceVersion|message". */
  private readonly reported = new Map<string, string>();
  private statusTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private readonly cfg: Required<Omit<ControllerConfig, "lbClass" | "api">> &
    Pick<ControllerConfig, "lbClass" | "api">;

  constructor(
    private readonly conn: Connection,
    config: ControllerConfig,
    private readonly log: Logger,
  ) {
    this.cfg = {
      leaseName: CONTROLLER_DEFAULTS.leaseName,
      writeConcurrency: CONTROLLER_DEFAULTS.writeConcurrency,
      poolStatusIntervalMs: CONTROLLER_DEFAULTS.poolStatusIntervalMs,
      eventConcurrency: CONTROLLER_DEFAULTS.eventConcurrency,
      timings: DEFAULT_LEASE_TIMINGS,
      processMetrics: true,
      ...config,
    };
    const bad = validateTimings(this.cfg.timings);
    if (bad) throw new Error(`invalid leader election timings: ${bad}`);
    this.metrics = new ControllerMetrics(this.cfg.processMetrics);
    this.queue = new WorkQueue({
      concurrency: this.cfg.writeConcurrency,
      handler: (key) => this.reconcile(key),
      onError: (key, err, attempt) => this.onReconcileError(key, err, attempt),
      delayFor: (err) =>
        err instanceof ApiError && err.retryAfterSeconds !== undefined
          ? err.retryAfterSeconds * 1000
          : undefined,
    });
  }

  // ------------------------------------------------------------------ lifecycle

  /** Lists everything (retrying until the API server answers), then campaigns for leadership. */
  async start(): Promise<void> {
    const api = new KubeApi(this.conn, this.cfg.api);
    this.api = api;
    const ns = this.cfg.namespace;
    const log = this.log;
    this.services = new Reflector({
      name: "services",
      api,
      path: "/api/v1/services",
      slim: slimService,
      onChange: (kind, svc) => this.onService(kind, svc),
      log,
    });
    this.pools = new Reflector({
      name: "ipaddresspools",
      api,
      path: `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}/ipaddresspools`,
      slim: slimPool,
      onChange: (kind, pool, old) => this.onPool(kind, pool, old),
      log,
    });
    this.namespaces = new Reflector({
      name: "namespaces",
      api,
      path: "/api/v1/namespaces",
      slim: slimNamespace,
      onChange: (kind, obj, old) => this.onNamespace(kind, obj, old),
      log,
    });
    this.recorder = new EventRecorder(api, {
      component: COMPONENT,
      instance: this.cfg.identity,
      log,
      canWrite: () => this.elector.isLeader(),
      // Events are informational: while Services wait for IPs they get one connection, not several.
      concurrency: () => (this.queue.length + this.queue.activeCount > 0 ? 1 : this.cfg.eventConcurrency),
      onResult: (result) => this.metrics.events.inc({ result }),
    });
    this.elector = new LeaderElector(api, {
      namespace: ns,
      name: this.cfg.leaseName,
      identity: this.cfg.identity,
      timings: this.cfg.timings,
      log,
      onStartedLeading: () => this.onStartedLeading(),
      onStoppedLeading: () => this.onStoppedLeading(),
    });
    await Promise.all([this.services.start(), this.pools.start(), this.namespaces.start()]);
    this.started = true;
    this.log.info(
      {
        event: "controllerStarted",
        identity: this.cfg.identity,
        namespace: ns,
        lbClass: this.cfg.lbClass ?? null,
        services: this.services.size,
        pools: this.pools.size,
      },
      "caches synced; campaigning for leadership",
    );
    this.elector.start();
  }

  /** Graceful stop: finish in-flight writes, then hand the Lease over so a successor starts at once. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.queue.pause();
    await this.recorder?.flush(2000);
    clearTimeout(this.statusTimer);
    await this.elector?.stop();
    this.recorder?.stop();
    await Promise.all([this.services?.stop(), this.pools?.stop(), this.namespaces?.stop()]);
    this.api?.close();
    this.log.info({ event: "controllerStopped", identity: this.cfg.identity }, "controller stopped");
  }

  isLeader(): boolean {
    return this.elector?.isLeader() ?? false;
  }

  /** Leading, restored and reconciling. */
  isActive(): boolean {
    return this.allocator !== undefined && this.isLeader();
  }

  healthy(): boolean {
    return !this.stopping;
  }

  ready(): { ok: boolean; detail: string } {
    if (!this.started) return { ok: false, detail: "caches not synced yet" };
    const broken = [this.services, this.pools, this.namespaces].filter((r) => !r.healthy);
    if (broken.length > 0) return { ok: false, detail: "API server unreachable; serving from cache" };
    return { ok: true, detail: this.isActive() ? "leader" : "standby" };
  }

  /** Resolves once nothing is queued or being written (for tests and the benchmark). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Current assignments (leader only), sorted by Service key. */
  assignments(): ReturnType<Allocator["assignments"]> {
    return this.allocator?.assignments() ?? [];
  }

  get pendingEvents(): number {
    return this.recorder?.pending ?? 0;
  }

  // ------------------------------------------------------------------ leadership

  private onStartedLeading(): void {
    const epoch = ++this.epoch;
    this.metrics.isLeader.set(1);
    void this.takeOver(epoch).catch((err: unknown) =>
      this.log.error({ event: "takeoverFailed", error: errorText(err) }, "could not start leading"),
    );
  }

  private onStoppedLeading(): void {
    this.epoch++;
    this.allocator = undefined;
    this.metrics.isLeader.set(0);
    void this.queue.pause();
    this.queue.clear();
    this.recorder.reset();
    this.clearReasons.clear();
    this.pending.clear();
  }

  /** Fresh consistent view → pools → restore recorded IPs (no writes) → reconcile everything. */
  private async takeOver(epoch: number): Promise<void> {
    const [reported] = await Promise.all([
      this.reportedFailures(),
      this.services.resync(),
      this.pools.resync(),
      this.namespaces.resync(),
    ]);
    if (epoch !== this.epoch || !this.elector.isLeader()) return;
    for (const [key, value] of reported) this.pending.set(key, value);
    const allocator = new Allocator();
    const ctx = this.context(allocator);
    this.applyPools(allocator);
    const outcome = restoreAll(restoreCandidates(this.services.values(), this.cfg.lbClass), ctx);
    for (const r of outcome.refused) {
      this.log.warn(
        { event: "restoreRefused", service: r.service, ips: r.ips, reason: r.message },
        "recorded IPs cannot be kept; the Service will be re-allocated",
      );
    }
    this.allocator = allocator;
    this.log.info(
      {
        event: "restored",
        restored: outcome.restored,
        refused: outcome.refused.length,
        services: this.services.size,
      },
      "restored recorded assignments; reconciling",
    );
    this.enqueueAll();
    this.queue.start();
    this.schedulePoolStatus();
  }

  /**
   * AllocationFailed Events already on record (from a previous leader), so that a restart does not
   * report an unchanged failure again: each names the Service version it was reported for.
   */
  private async reportedFailures(): Promise<Map<string, { message: string; rv: string | undefined }>> {
    const out = new Map<string, { message: string; rv: string | undefined }>();
    try {
      let cont: string | undefined;
      do {
        const page = await this.api!.get<{
          metadata?: { continue?: string };
          items?: {
            message?: string;
            involvedObject?: { namespace?: string; name?: string; resourceVersion?: string };
          }[];
        }>("/api/v1/events", {
          fieldSelector: `reason=AllocationFailed,source=${COMPONENT}`,
          limit: 500,
          continue: cont,
        });
        for (const ev of page.items ?? []) {
          const o = ev.involvedObject;
          if (o?.namespace && o.name && ev.message) {
            out.set(`${o.namespace}/${o.name}`, { message: ev.message, rv: o.resourceVersion });
          }
        }
        cont = page.metadata?.continue || undefined;
      } while (cont);
    } catch (err) {
      this.log.debug({ event: "eventsListFailed", error: errorText(err) }, "cannot list earlier Events");
    }
    return out;
  }

  /**
   * Queues every Service, oldest first: when several want the same IP (say a pool comes back after an
   * edit), the established Service is decided first and keeps it, as in restore.
   */
  private enqueueAll(): void {
    for (const svc of [...this.services.values()].sort(compareServicesByAge))
      this.queue.add(serviceKeyOf(svc));
  }

  private context(allocator: Allocator): DecideContext {
    return {
      lbClass: this.cfg.lbClass,
      allocator,
      namespaceLabels: (ns) => {
        const obj = this.namespaces.get(ns);
        return obj ? (obj.metadata.labels ?? {}) : undefined;
      },
    };
  }

  // ------------------------------------------------------------------ watch handlers

  private onService(_kind: ChangeKind, svc: CachedService): void {
    if (!this.allocator) return;
    this.queue.add(serviceKeyOf(svc));
    this.metrics.queueDepth.set(this.queue.length);
  }

  private onPool(kind: ChangeKind, pool: CachedPool, old: CachedPool | undefined): void {
    if (!this.allocator) return;
    if (kind === "update" && !poolSpecChanged(old, pool)) return; // status-only (our counters)
    // Applied at once (pools are few and setPools is cheap), so a Service created together with its
    // pool is not judged against the old pool set. A new or wider pool can satisfy pending Services, a
    // narrower one invalidated some; each reconcile that finds nothing to change costs no API call.
    this.applyPools(this.allocator);
    this.enqueueAll();
    this.schedulePoolStatus();
  }

  private onNamespace(kind: ChangeKind, ns: CachedNamespace, old: CachedNamespace | undefined): void {
    if (!this.allocator) return;
    if (
      kind === "update" &&
      JSON.stringify(old?.metadata.labels ?? {}) === JSON.stringify(ns.metadata.labels ?? {})
    ) {
      return;
    }
    for (const svc of this.services.values()) {
      if (svc.metadata.namespace === ns.metadata.name) this.queue.add(serviceKeyOf(svc));
    }
  }

  // ------------------------------------------------------------------ pools

  private applyPools(allocator: Allocator): void {
    const set = buildPoolSet(this.pools.list());
    const result = allocator.setPools(set.accepted);
    this.poolSet = set;
    for (const inv of result.invalidated) {
      this.clearReasons.set(inv.service, inv.message);
      this.log.warn(
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
    this.reportPoolProblems(set);
    this.metrics.poolsRejected.set(set.rejected.length);
    this.metrics.addressesTotal.reset();
    for (const p of set.accepted) {
      const cap = p.capacity.IPv4 + p.capacity.IPv6;
      this.metrics.addressesTotal.set(
        { pool: p.name },
        Number(cap > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : cap),
      );
    }
  }

  private reportPoolProblems(set: PoolSet): void {
    const current = new Set<string>();
    for (const p of poolProblems(set)) {
      const obj = this.pools.get(`${this.cfg.namespace}/${p.pool}`);
      const signature = `${obj?.metadata.resourceVersion ?? ""}|${p.reason}|${p.message}`;
      const key = `${p.pool}|${p.reason}`;
      current.add(key);
      if (this.reported.get(key) === signature) continue;
      this.reported.set(key, signature);
      this.log.warn(
        { event: "poolRejected", pool: p.pool, reason: p.reason, message: p.message },
        "IPAddressPool problem",
      );
      if (obj) this.recorder.record(this.poolRef(obj), p.type, p.reason, p.message);
    }
    for (const key of [...this.reported.keys()]) {
      if (current.has(key)) continue;
      this.reported.delete(key);
      const pool = key.slice(0, key.indexOf("|"));
      this.log.info({ event: "poolAccepted", pool }, "IPAddressPool problem resolved");
    }
  }

  private schedulePoolStatus(): void {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      void this.flushPoolStatus();
    }, this.cfg.poolStatusIntervalMs);
  }

  private async flushPoolStatus(): Promise<void> {
    const allocator = this.allocator;
    const epoch = this.epoch;
    if (!allocator || !this.api) return;
    this.metrics.addressesInUse.reset();
    for (const p of this.poolSet.accepted) {
      const stats = allocator.poolStats(p.name);
      const obj = this.pools.get(`${this.cfg.namespace}/${p.name}`);
      if (!stats || !obj) continue;
      this.metrics.addressesInUse.set({ pool: p.name }, stats.assignedIPv4 + stats.assignedIPv6);
      const update = poolStatusUpdate(obj.status, stats);
      if (!update) continue;
      try {
        this.assertLeader(epoch);
        const saved = await this.api.request<unknown>(
          "PATCH",
          `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${this.cfg.namespace}/ipaddresspools/${p.name}/status`,
          {
            patch: "merge",
            body: { metadata: { resourceVersion: obj.metadata.resourceVersion }, status: update },
          },
        );
        this.pools.observe(saved);
        this.metrics.apiWrites.inc({ target: "pool-status", result: "ok" });
      } catch (err) {
        if (err instanceof NotLeader) return;
        this.metrics.apiWrites.inc({ target: "pool-status", result: isConflict(err) ? "conflict" : "error" });
        if (!isConflict(err)) {
          this.log.warn(
            { event: "poolStatusFailed", pool: p.name, error: errorText(err) },
            "cannot update pool status",
          );
        }
        this.schedulePoolStatus(); // retried with fresh data after the interval
      }
    }
  }

  // ------------------------------------------------------------------ services

  private async reconcile(key: string): Promise<void> {
    const allocator = this.allocator;
    const epoch = this.epoch;
    this.metrics.queueDepth.set(this.queue.length);
    if (!allocator) return;
    const svc = this.services.get(key);
    if (!svc) {
      const released = allocator.release(key);
      this.clearReasons.delete(key);
      this.pending.delete(key);
      if (released.length > 0) {
        this.log.info(
          { event: "ipReleased", service: key, ips: released, reason: "deleted" },
          "Service gone; IP free",
        );
        this.schedulePoolStatus();
        this.retryPending();
      }
      this.metrics.reconciles.inc({ outcome: "deleted" });
      return;
    }
    const decision = decide(svc, this.context(allocator));
    const plan = planWrites(svc, decision, this.clearReasons.get(key));
    const released =
      decision.kind === "skip" || decision.kind === "cleanup" || decision.kind === "failed"
        ? decision.released
        : [];
    if (released.length > 0) this.retryPending(key);
    if (decision.kind === "failed" || decision.kind === "invalid") {
      const prev = this.pending.get(key);
      if (prev && prev.message === decision.message && prev.rv === svc.metadata.resourceVersion) {
        plan.events = plan.events.filter((e) => e.reason !== "AllocationFailed");
      }
    } else {
      this.pending.delete(key);
    }
    this.metrics.reconciles.inc({ outcome: decision.kind });
    if (decision.kind === "failed") this.metrics.allocationFailures.inc({ reason: decision.reason });
    if (decision.kind !== "skip" || decision.released.length > 0) this.schedulePoolStatus();
    if (decision.kind === "skip" && decision.released.length > 0) {
      this.log.info(
        {
          event: "ipReleased",
          service: key,
          ips: decision.released,
          reason: "not handled by this controller",
        },
        "Service no longer ours; IP free",
      );
    }
    let rv: string | undefined;
    try {
      rv = await this.execute(svc, plan, epoch);
    } catch (err) {
      if (err instanceof NotLeader) return;
      if (isNotFound(err)) return; // deleted meanwhile; its delete event follows
      throw err;
    }
    this.clearReasons.delete(key);
    // Remember the version our own writes produced, so only a real change re-reports the failure.
    if (decision.kind === "failed" || decision.kind === "invalid")
      this.pending.set(key, { message: decision.message, rv });
    this.logOutcome(key, decision, plan);
  }

  /** Re-queues Services waiting for an address (an IP was just freed). */
  private retryPending(except?: string): void {
    for (const key of this.pending.keys()) if (key !== except) this.queue.add(key);
  }

  /** Performs the plan; returns the Service's resourceVersion after it. */
  private async execute(svc: CachedService, plan: WritePlan, epoch: number): Promise<string | undefined> {
    const api = this.api!;
    const ns = svc.metadata.namespace ?? "default";
    const path = `/api/v1/namespaces/${ns}/services/${svc.metadata.name}`;
    let rv = svc.metadata.resourceVersion;
    let annotations = plan.annotations;
    if (plan.ingress) {
      this.assertLeader(epoch);
      // The Service status strategy only resets spec, so the annotation rides along with the status:
      // one write instead of two. If a server ever drops it, the check below writes it separately.
      const body = {
        metadata: { resourceVersion: rv, ...(annotations ? { annotations } : {}) },
        status: { loadBalancer: { ingress: plan.ingress.length > 0 ? plan.ingress : null } },
      };
      const saved = await this.write("service-status", () =>
        api.request<RawService>("PATCH", `${path}/status`, { patch: "merge", body }),
      );
      this.services.observe(saved);
      rv = saved.metadata?.resourceVersion;
      if (annotations && annotationsApplied(saved, annotations)) annotations = undefined;
    }
    if (annotations) {
      this.assertLeader(epoch);
      const body = { metadata: { resourceVersion: rv, annotations } };
      const saved = await this.write("service-annotation", () =>
        api.request<RawService>("PATCH", path, { patch: "merge", body }),
      );
      this.services.observe(saved);
      rv = saved.metadata?.resourceVersion;
    }
    for (const ev of plan.events) {
      this.recorder.record(this.serviceRef(svc, rv), ev.type, ev.reason, ev.message);
    }
    return rv;
  }

  private async write<T>(target: string, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      this.metrics.apiWrites.inc({ target, result: "ok" });
      return r;
    } catch (err) {
      this.metrics.apiWrites.inc({ target, result: isConflict(err) ? "conflict" : "error" });
      throw err;
    }
  }

  private assertLeader(epoch: number): void {
    if (epoch !== this.epoch || !this.elector.isLeader()) throw new NotLeader("not leader");
  }

  private onReconcileError(key: string, err: unknown, attempt: number): void {
    // Conflicts are routine (our view was a step behind); the watch brings the new version.
    const level = isConflict(err) && attempt < 5 ? "debug" : "warn";
    this.log[level](
      { event: "reconcileFailed", service: key, attempt, error: errorText(err) },
      "reconcile failed; retrying with backoff",
    );
  }

  private logOutcome(key: string, d: Decision, plan: WritePlan): void {
    const wrote = plan.ingress !== undefined || plan.annotations !== undefined;
    if (d.kind === "assigned" && wrote) {
      this.log.info({ event: "ipAllocated", service: key, ips: d.ips, pool: d.pool }, "assigned IP");
    } else if (!plan.events.some((e) => e.reason === "AllocationFailed")) {
      return; // a failure already reported for this version of the Service
    } else if (d.kind === "failed") {
      this.log.warn(
        { event: "allocationFailed", service: key, reason: d.reason, message: d.message },
        "allocation failed",
      );
    } else if (d.kind === "invalid") {
      this.log.warn(
        { event: "allocationFailed", service: key, reason: "invalid-request", message: d.message },
        "allocation failed",
      );
    } else if (d.kind === "cleanup" && wrote) {
      this.log.info(
        { event: "ipReleased", service: key, ips: d.released, reason: "no longer a LoadBalancer" },
        "cleared IP",
      );
    }
  }

  private serviceRef(svc: CachedService, rv: string | undefined): InvolvedObject {
    return {
      apiVersion: "v1",
      kind: "Service",
      namespace: svc.metadata.namespace ?? "default",
      name: svc.metadata.name,
      ...(svc.metadata.uid ? { uid: svc.metadata.uid } : {}),
      ...(rv ? { resourceVersion: rv } : {}),
    };
  }

  private poolRef(pool: CachedPool): InvolvedObject {
    return {
      apiVersion: METALLB_API_VERSION,
      kind: "IPAddressPool",
      namespace: this.cfg.namespace,
      name: pool.metadata.name,
      ...(pool.metadata.uid ? { uid: pool.metadata.uid } : {}),
      ...(pool.metadata.resourceVersion ? { resourceVersion: pool.metadata.resourceVersion } : {}),
    };
  }
}
