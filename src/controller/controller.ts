/**
 * The allocation controller: watches Services, IPAddressPools and Namespaces, and while it holds the
 * leader Lease runs every Service through the in-memory Allocator, writing status.loadBalancer.ingress,
 * the ip-allocated-from-pool annotation, Events and pool status counters.
 *
 * Finalizer-free, like MetalLB: all allocation state lives in the Services' own status, so a deleted
 * Service frees its IP simply by being gone (seen live as a delete, or after a restart as absent from
 * the list). Nothing blocks Service or namespace deletion if the controller is down or uninstalled.
 *
 * Restart and takeover safety: a new leader first makes sure its caches come from lists that began
 * after it won the Lease (a consistent read, not a watch that may lag behind the previous leader's
 * last writes), restores every recorded assignment oldest Service first, and only then reconciles;
 * Services whose recorded IPs are still valid get no write at all. Every write carries the
 * resourceVersion its decision was based on (see writer.ts).
 */
import type { Logger } from "pino";
import { serviceKeyOf } from "../api/service.js";
import { METALLB_GROUP, METALLB_VERSION } from "../api/types.js";
import { Allocator } from "../allocator/allocator.js";
import type { Connection } from "../kube/connection.js";
import {
  compareServicesByAge,
  decide,
  deprecationSignature,
  deprecationWarnings,
  planWrites,
  restoreAll,
  restoreCandidates,
  type DecideContext,
  type Decision,
  type WritePlan,
} from "./decide.js";
import { ConfigStateWriter } from "./configstate.js";
import { LeaderElector } from "../kube/elector.js";
import { EventRecorder } from "../kube/events.js";
import { listReportedDeprecations, listReportedFailures, type ReportedFailure } from "./reported.js";
import { ApiError, errorText, isConflict, isNotFound } from "../kube/errors.js";
import { KubeApi, type KubeApiOptions } from "../kube/api.js";
import { DEFAULT_LEASE_TIMINGS, validateTimings, type LeaseTimings } from "../kube/leader.js";
import { ControllerMetrics } from "./metrics.js";
import { poolSpecChanged } from "./pools.js";
import { PoolSync } from "./poolsync.js";
import { WorkQueue } from "../kube/queue.js";
import { Reflector, type ChangeKind } from "../kube/reflector.js";
import {
  slimNamespace,
  slimPool,
  slimService,
  type CachedNamespace,
  type CachedPool,
  type CachedService,
} from "./slim.js";
import { applyPlan, NotLeader } from "./writer.js";
import { CONTROLLER_DEFAULTS } from "./defaults.js";

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

const COMPONENT = "floatip-controller";

type Settings = Required<Omit<ControllerConfig, "lbClass" | "api">> &
  Pick<ControllerConfig, "lbClass" | "api">;

export class Controller {
  readonly metrics: ControllerMetrics;
  private readonly cfg: Settings;
  private readonly queue: WorkQueue;
  private api!: KubeApi;
  private services!: Reflector<CachedService>;
  private pools!: Reflector<CachedPool>;
  private namespaces!: Reflector<CachedNamespace>;
  private elector!: LeaderElector;
  private recorder!: EventRecorder;
  private poolSync!: PoolSync;
  private configState!: ConfigStateWriter;
  /** Present only while leading and restored. */
  private allocator: Allocator | undefined;
  /** Bumped on every leadership change; a write from an older epoch is refused. */
  private epoch = 0;
  /** Why a Service lost its IP to a pool edit, for the ClearAssignment Event its reconcile sends. */
  private readonly clearReasons = new Map<string, string>();
  /**
   * Services whose allocation failed, with the failure last reported and the Service version it was
   * reported for. They are retried whenever an IP is freed (a delete can end an "ip-in-use"), and a
   * retry that fails the same way for an unchanged Service does not repeat the Event.
   */
  private readonly pending = new Map<string, ReportedFailure>();
  /** Deprecated annotation keys already reported per Service (one Warning per key set). */
  private readonly deprecationReported = new Map<string, string>();
  private started = false;
  private stopping = false;

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

  /**
   * Campaigns for leadership, then lists everything (retrying until the API server answers). The first
   * Lease attempt comes before the lists, so a controller that wins at once lists only once.
   */
  async start(): Promise<void> {
    const api = new KubeApi(this.conn, this.cfg.api);
    this.api = api;
    const log = this.log;
    const ns = this.cfg.namespace;
    const reflector = <T extends { metadata: { name: string } }>(
      name: string,
      path: string,
      slim: (raw: unknown) => T,
      onChange: (kind: ChangeKind, obj: T, old: T | undefined) => void,
    ): Reflector<T> => new Reflector<T>({ name, api, path, slim, onChange, log });
    this.services = reflector("services", "/api/v1/services", slimService, (k, s) => this.onService(k, s));
    this.pools = reflector(
      "ipaddresspools",
      `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}/ipaddresspools`,
      slimPool,
      (k, p, old) => this.onPool(k, p, old),
    );
    this.namespaces = reflector("namespaces", "/api/v1/namespaces", slimNamespace, (k, n, old) =>
      this.onNamespace(k, n, old),
    );
    this.recorder = new EventRecorder(api, {
      component: COMPONENT,
      instance: this.cfg.identity,
      log,
      canWrite: () => this.elector.isLeader(),
      // Events are informational: while Services wait for IPs they get one connection, not several.
      concurrency: () => (this.queue.length + this.queue.activeCount > 0 ? 1 : this.cfg.eventConcurrency),
      onResult: (result) => this.metrics.events.inc({ result }),
    });
    this.configState = new ConfigStateWriter(api, ns, log);
    this.poolSync = new PoolSync({
      api,
      configState: this.configState,
      pools: this.pools,
      recorder: this.recorder,
      metrics: this.metrics,
      log,
      namespace: ns,
      intervalMs: this.cfg.poolStatusIntervalMs,
      leader: () => {
        const allocator = this.allocator;
        const epoch = this.epoch;
        return allocator ? { allocator, guard: () => this.guard(epoch) } : undefined;
      },
    });
    this.elector = new LeaderElector(api, {
      namespace: ns,
      name: this.cfg.leaseName,
      identity: this.cfg.identity,
      timings: this.cfg.timings,
      log,
      onStartedLeading: (acquiredAt) => this.onStartedLeading(acquiredAt),
      onStoppedLeading: () => this.onStoppedLeading(),
    });
    await this.elector.start();
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
      "caches synced",
    );
  }

  /** Graceful stop: finish in-flight writes, then hand the Lease over so a successor starts at once. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.queue.pause();
    await this.recorder?.flush(2000);
    this.poolSync?.stop();
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

  // ------------------------------------------------------------------ leadership

  private onStartedLeading(acquiredAt: number): void {
    const epoch = ++this.epoch;
    this.metrics.isLeader.set(1);
    void this.takeOver(epoch, acquiredAt).catch((err: unknown) =>
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
    this.configState.reset();
    this.clearReasons.clear();
    this.pending.clear();
    this.deprecationReported.clear();
  }

  /** Fresh consistent view → pools → restore recorded IPs (no writes) → reconcile everything. */
  private async takeOver(epoch: number, acquiredAt: number): Promise<void> {
    const [reported, deprecations] = await Promise.all([
      listReportedFailures(this.api, COMPONENT, this.log),
      listReportedDeprecations(this.api, COMPONENT, this.log),
      ...[this.services, this.pools, this.namespaces].map((r) => r.freshSince(acquiredAt)),
    ]);
    if (epoch !== this.epoch || !this.elector.isLeader()) return;
    for (const [key, value] of reported) this.pending.set(key, value);
    for (const [key, messages] of deprecations)
      this.deprecationReported.set(key, deprecationSignature(messages));
    const allocator = new Allocator();
    for (const inv of this.poolSync.apply(allocator)) this.clearReasons.set(inv.service, inv.message);
    const outcome = restoreAll(
      restoreCandidates(this.services.values(), this.cfg.lbClass),
      this.context(allocator),
    );
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
    this.poolSync.scheduleStatus();
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

  private guard(epoch: number): void {
    if (epoch !== this.epoch || !this.elector.isLeader()) throw new NotLeader();
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
    for (const inv of this.poolSync.apply(this.allocator)) this.clearReasons.set(inv.service, inv.message);
    this.enqueueAll();
    this.poolSync.scheduleStatus();
  }

  private onNamespace(kind: ChangeKind, ns: CachedNamespace, old: CachedNamespace | undefined): void {
    if (!this.allocator) return;
    const labels = (n: CachedNamespace | undefined): string => JSON.stringify(n?.metadata.labels ?? {});
    if (kind === "update" && labels(old) === labels(ns)) return;
    for (const svc of this.services.values()) {
      if (svc.metadata.namespace === ns.metadata.name) this.queue.add(serviceKeyOf(svc));
    }
  }

  // ------------------------------------------------------------------ services

  private async reconcile(key: string): Promise<void> {
    const allocator = this.allocator;
    const epoch = this.epoch;
    this.metrics.queueDepth.set(this.queue.length);
    if (!allocator) return;
    const svc = this.services.get(key);
    if (!svc) return this.forget(key, allocator);

    const decision = decide(svc, this.context(allocator));
    const plan = planWrites(svc, decision, this.clearReasons.get(key));
    const ours = decision.kind !== "skip" && decision.kind !== "cleanup";
    const deprecation = deprecationWarnings(svc, ours ? this.deprecationReported.get(key) : "");
    plan.events.push(...(ours ? deprecation.events : []));
    this.metrics.reconciles.inc({ outcome: decision.kind });
    // Addresses given up (by failing or by moving) may be what other Services wait for.
    const released = "released" in decision ? decision.released : [];
    if (decision.kind === "failed" || decision.kind === "invalid") {
      if (decision.kind === "failed") this.metrics.allocationFailures.inc({ reason: decision.reason });
      const prev = this.pending.get(key);
      if (prev?.message === decision.message && prev.rv === svc.metadata.resourceVersion) {
        plan.events = plan.events.filter((e) => e.reason !== "AllocationFailed");
      }
    } else {
      this.pending.delete(key);
    }
    if (decision.kind !== "skip" || released.length > 0) this.poolSync.scheduleStatus();

    let rv: string | undefined;
    try {
      rv = await applyPlan(
        { api: this.api, services: this.services, metrics: this.metrics, recorder: this.recorder },
        svc,
        plan,
        () => this.guard(epoch),
      );
    } catch (err) {
      if (err instanceof NotLeader) return;
      if (isNotFound(err)) return; // deleted meanwhile; its delete event follows
      throw err;
    } finally {
      // After our write, so the waiting Service's status shows the address only once this one's doesn't.
      if (released.length > 0) this.retryPending(key);
    }
    this.clearReasons.delete(key);
    if (ours) this.deprecationReported.set(key, deprecation.signature);
    // Remember the version our own writes produced, so only a real change re-reports the failure.
    if (decision.kind === "failed" || decision.kind === "invalid") {
      this.pending.set(key, { message: decision.message, rv });
    }
    this.logOutcome(key, decision, plan);
  }

  /** The Service is gone: free its IPs, and let waiting Services try for them. */
  private forget(key: string, allocator: Allocator): void {
    const released = allocator.release(key);
    this.clearReasons.delete(key);
    this.pending.delete(key);
    this.deprecationReported.delete(key);
    this.metrics.reconciles.inc({ outcome: "deleted" });
    if (released.length === 0) return;
    this.log.info(
      { event: "ipReleased", service: key, ips: released, reason: "deleted" },
      "Service gone; IP free",
    );
    this.poolSync.scheduleStatus();
    this.retryPending();
  }

  /** Re-queues Services waiting for an address (an IP was just freed). */
  private retryPending(except?: string): void {
    for (const key of this.pending.keys()) if (key !== except) this.queue.add(key);
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
    const reported = plan.events.some((e) => e.reason === "AllocationFailed");
    if (d.kind === "assigned" && wrote) {
      this.log.info({ event: "ipAllocated", service: key, ips: d.ips, pool: d.pool }, "assigned IP");
    } else if (d.kind === "cleanup" && wrote) {
      this.log.info(
        { event: "ipReleased", service: key, ips: d.released, reason: "no longer a LoadBalancer" },
        "cleared IP",
      );
    } else if (d.kind === "skip" && d.released.length > 0) {
      this.log.info(
        { event: "ipReleased", service: key, ips: d.released, reason: "not handled by this controller" },
        "Service no longer ours; IP free",
      );
    } else if ((d.kind === "failed" || d.kind === "invalid") && reported) {
      const reason = d.kind === "failed" ? d.reason : "invalid-request";
      const detail = d.kind === "failed" ? d.detail : undefined;
      this.log.warn(
        {
          event: "allocationFailed",
          service: key,
          reason,
          message: d.message,
          ...(detail ? { detail } : {}),
        },
        "allocation failed",
      );
    }
  }
}
