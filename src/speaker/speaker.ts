/**
 * The speaker: one per node. A thin orchestrator: each step it feeds membership (the pure failure
 * detector) with local facts and the heartbeats received, plans from the member view and the
 * Kubernetes model, reconciles the plans into effects, answers (announcer), hands the heartbeat
 * pump what to send, and only then writes about it (bookkeeping.ts: logs, metrics, status).
 * All-to-all (the default), the pump's thread sends every 40 ms and a step runs only when it wakes
 * the speaker (wake.ts: a peer's content changed, a silence or confirmation window ran out, a
 * local deadline, a 1 s backstop) or an input changed; with a sparse fan-out the speaker ticks
 * every interval and sends itself.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { Logger } from "pino";
import { Membership, type ClusterView } from "../election/membership.js";
import { watchSet } from "../election/fanout.js";
import { WATCHDOG_MS, wakePolicy } from "../election/wake.js";
import { serveProbes } from "../controller/server.js";
import type { KubeApi } from "../kube/api.js";
import { requestKind } from "../kube/paths.js";
import type * as k8s from "../kube/types.js";
import { Announcer, DEFAULT_GARP_SCHEDULE_MS } from "./announcer.js";
import { Bookkeeping } from "./bookkeeping.js";
import { SPEAKER_DEFAULTS } from "./defaults.js";
import { HeartbeatTransport } from "./heartbeat-transport.js";
import type { SpeakerConfig } from "./config.js";
import { SpeakerConfigState } from "./configstate.js";
import { HandoverForwarder } from "./forward.js";
import { SpeakerInputs } from "./inputs.js";
import { carrierOf, defaultAnnounceInterfaces, liveInterfaceNames } from "./interfaces.js";
import { NodeLease, readPeerLease } from "./lease.js";
import { listenAddressOrLoopback, wantsInternalIp } from "./listen.js";
import { SpeakerMetrics } from "./metrics.js";
import { PlanMemo } from "./plan-memo.js";
import { standbyInterfaces, unconfirmableGraceMs } from "./plan.js";
import { aliveMembers, RefusalReporter } from "./refusals.js";
import { ownedIps, reconcile, type Held } from "./reconcile.js";
import { ConflictJudge } from "./conflicts.js";
import { raisePriority, StepCadence } from "./cadence.js";
import { speakerSnapshot, type SpeakerSnapshot } from "./snapshot.js";
import { StatusWriter } from "./status.js";
import { StepPhases, reportStep } from "./step-phases.js";
import { describeKeys, HeartbeatKeyWatcher, type HeartbeatKeys } from "./heartbeat-keys.js";
import { openCpuWaitClock } from "./cpu-wait.js";

export type { SpeakerConfig };

export { SPEAKER_DEFAULTS };

export { LEASE_ADDRESS_ANNOTATION, LEASE_LABEL } from "./lease.js";

/** Monotonic milliseconds: every duration and timeout in the speaker (a wall-clock step moves nothing). */
const monotonic = () => performance.now();

export class Speaker {
  readonly metrics = new SpeakerMetrics();
  private readonly membership: Membership;
  private readonly announcer: Announcer;
  private readonly status: StatusWriter;
  private readonly refusals: RefusalReporter;
  private readonly lease: NodeLease;
  private readonly keyWatcher: HeartbeatKeyWatcher | undefined;
  private readonly transport: HeartbeatTransport;
  private readonly inputs: SpeakerInputs;
  private page = 0;
  private http: Server | undefined;
  private readonly cadence: StepCadence;
  /** Opened here, on the thread that steps: its waits for a CPU are taken out of the step's own time. */
  private readonly cpuWait = openCpuWaitClock();
  private configTimer: NodeJS.Timeout | undefined;
  private readonly configState: SpeakerConfigState;
  private readonly forwarder: HandoverForwarder | undefined;
  private leaving = false;
  private stopped = false;
  private synced = false;
  private defaultInterfaces: string[] = [];
  private held = new Map<string, Held>();
  /** Plans per Service, redone only when its inputs change (an idle tick plans nothing). */
  private readonly planner = new PlanMemo();
  private lastView: ClusterView | undefined;
  /** Claims of our IPs by other MACs, judged a little later (a takeover's GARP precedes its heartbeat). */
  private readonly conflicts: ConflictJudge;
  /** Logs, metrics and status of the steps' effects, written after each step (bookkeeping.ts). */
  private readonly bookkeeping: Bookkeeping;
  private readonly phases = new StepPhases(monotonic);
  private ownedOf: { held?: Map<string, Held>; ips: ReadonlySet<string> } = { ips: new Set() };

  constructor(
    /** The API client; the speaker closes it when it stops. */
    private readonly api: KubeApi,
    private readonly config: SpeakerConfig,
    private readonly log: Logger,
  ) {
    api.observe((r) => this.metrics.kubeRequests.inc({ ...requestKind(r.method, r.path), code: r.status }));
    // Restarts are told apart by a random boot id, not by the clock.
    const boot = randomBytes(8).toString("hex");
    this.membership = new Membership(
      {
        self: config.nodeName,
        boot,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        suspectAfterMs: config.suspectAfterMs,
        maxSuspectAfterMs: config.maxSuspectAfterMs,
        rejoinAfterMs: config.rejoinAfterMs,
        acquiredTtlMs: config.handoverTimeoutMs + 1000,
        // Sticky ownership: peers must know every IP we hold, not only the ones we just took.
        listOwned: config.ownership === "sticky",
        ...(config.heartbeatFanout ? { fanout: config.heartbeatFanout } : {}),
      },
      monotonic(),
    );
    this.conflicts = new ConflictJudge(config.nodeName, config);
    this.announcer = new Announcer(
      log,
      this.metrics,
      config.garpScheduleMs ?? DEFAULT_GARP_SCHEDULE_MS,
      (conflict, iface) => {
        this.conflicts.claim(conflict, iface, monotonic());
        this.cadence.requestStep(); // re-arms the pump with the conflict's judging deadline
      },
    );
    this.status = new StatusWriter(api, config, (key) => this.inputs.service(key), log);
    this.bookkeeping = new Bookkeeping({
      nodeName: config.nodeName,
      log,
      metrics: this.metrics,
      status: this.status,
    });
    this.refusals = new RefusalReporter({
      self: config.nodeName,
      log,
      count: (code) => this.metrics.refusals.inc({ reason: code }),
      postEvent: (service, reason) => this.status.refused(service, reason),
      current: () => this.inputs.refusals(),
      alive: () => aliveMembers(this.membership.view(monotonic())),
    });
    this.keyWatcher = this.watchKeys();
    const keys = () => describeKeys(this.keyWatcher?.keys ?? this.startKeys());
    this.lease = new NodeLease(api, config, () => this.heartbeatAddress(), log, liveInterfaceNames, keys);
    this.transport = new HeartbeatTransport({
      port: config.heartbeatPort,
      key: config.heartbeatKey,
      acceptKey: config.heartbeatAcceptKey,
      boot,
      intervalMs: config.heartbeatIntervalMs,
      freshnessMs: this.membership.freshnessMs,
      // A loop hung this long cannot act on what it hears: the pump goes silent, peers take over.
      watchdogMs: WATCHDOG_MS,
      onSent: (seq, at) => this.membership.noteSent(seq, at),
      onHeartbeat: (hb, at) => this.membership.observeHeartbeat(hb, at),
      onDropped: (reason) => this.metrics.heartbeatsDropped.inc({ reason }),
      onSendError: (error) => this.metrics.heartbeatsNotSent.inc({ error }),
      onWake: () => this.cadence.wake(),
      log,
    });
    this.inputs = new SpeakerInputs(
      api,
      config,
      (kind, lease) => this.onLease(kind, lease),
      (r) => this.refusals.report(r),
      log,
      () => this.cadence.requestStep(),
    );
    this.cadence = this.newCadence();
    this.configState = new SpeakerConfigState(api, config.namespace, config.nodeName, log);
    this.forwarder =
      config.forward && new HandoverForwarder(config.nodeName, config.forward, this.metrics.registry, log);
  }

  /** The steps' pace (cadence.ts): the pump's wakes, or every interval with a sparse fan-out. */
  private newCadence(): StepCadence {
    const config = this.config;
    return new StepCadence({
      intervalMs: config.heartbeatIntervalMs,
      suspectAfterMs: config.suspectAfterMs,
      manual: config.heartbeatFanout !== undefined,
      now: monotonic,
      drain: (stalled) => {
        // A step's phases start with the drain: what the pump heard since the last step.
        this.phases.begin();
        this.transport.drain(stalled);
        this.phases.mark("drain");
      },
      step: (now) => {
        this.metrics.steps.inc();
        this.step(now);
        return config.heartbeatFanout ? Infinity : this.publish(now);
      },
      stalled: (now, lagMs) => this.membership.noteSelfStall(now, lagMs),
      took: (ms, waitedMs) => {
        reportStep(this.phases, this.metrics.stepPhaseSeconds, this.log, { held: this.held.size }, waitedMs);
        this.metrics.stepSeconds.observe(ms / 1000);
        if (!(waitedMs >= 0)) return; // NaN: no schedstat here
        this.metrics.stepOwnSeconds.observe(Math.max(0, ms - waitedMs) / 1000);
        this.metrics.stepCpuWaitSeconds.inc(waitedMs / 1000);
      },
      waited: this.cpuWait?.waitedMs,
      log: this.log,
    });
  }

  async start(): Promise<void> {
    raisePriority(this.config.nice, this.log);
    const internal = wantsInternalIp(this.config.metricsAddress);
    // An explicit address serves /healthz during the first sync; InternalIP needs the Node first.
    if (!internal) await this.startHttp(this.config.metricsAddress);
    await this.inputs.start();
    this.synced = true;
    if (internal) {
      const { nodeName: node, metricsAddress } = this.config;
      const noIp = () =>
        this.log.error(
          { event: "noInternalIP", node },
          "the Node has no InternalIP: serving /metrics and probes on 127.0.0.1 only; set --metrics-address",
        );
      await this.startHttp(listenAddressOrLoopback(metricsAddress, this.inputs.node(node), noIp));
    }
    await this.status.cleanUp();
    this.defaultInterfaces = defaultAnnounceInterfaces();
    this.transport.start(this.heartbeatAddress());
    this.membership.selfStalled(monotonic()); // warm up from the first heartbeat heard, not from construction
    await this.lease.start();
    await this.forwarder?.start();
    this.cadence.start();
    // MetalLB v0.16's ConfigurationState speaker-<node>: written when it changes, checked every 5 s.
    const reportConfig = () => {
      const { pools, ads } = this.inputs.configObjects();
      void this.configState.update(pools, ads);
    };
    reportConfig();
    this.configTimer = setInterval(reportConfig, 5000);
    this.configTimer.unref();
    this.keyWatcher?.start();
    this.log.info(
      {
        event: "speakerStarted",
        node: this.config.nodeName,
        lbClass: this.config.lbClass ?? null,
        heartbeatPort: this.config.heartbeatPort,
      },
      "speaker started",
    );
  }

  private onLease(kind: "add" | "update" | "delete", lease: k8s.V1Lease): void {
    const peer = readPeerLease(lease, this.config.nodeName, monotonic());
    if (!peer) return;
    if (kind === "delete") {
      this.membership.observeLease(peer.node, undefined);
      this.transport.removePeer(peer.node);
      return this.cadence.requestStep();
    }
    const prev = this.membership.wakeState().table.get(peer.node)?.lease;
    const lapsed = !prev || peer.observation.observedRenewAt - prev.observedRenewAt >= prev.durationMs;
    this.membership.observeLease(peer.node, peer.observation);
    const moved = peer.address !== undefined && this.transport.setPeer(peer.node, peer.address);
    // A renewal changes no view at once (its expiry is a wake deadline): a new, lapsed or moved one may.
    if (lapsed || moved) this.cadence.requestStep();
  }

  private startKeys(): HeartbeatKeys {
    return { key: this.config.heartbeatKey, accept: this.config.heartbeatAcceptKey };
  }

  /** The key files, read again while running (a rotation), when the keys came from files. */
  private watchKeys(): HeartbeatKeyWatcher | undefined {
    const files = this.config.heartbeatKeyFiles;
    this.metrics.heartbeatKeys(this.startKeys());
    return files && new HeartbeatKeyWatcher(files, this.startKeys(), (next) => this.useKeys(next), this.log);
  }

  /** Rotated keys (heartbeat-keys.ts): the pump signs with the new key from its next round. */
  private useKeys(keys: HeartbeatKeys): void {
    this.transport.setKeys(keys.key, keys.accept);
    this.metrics.heartbeatKeys(keys);
    this.cadence.requestStep(); // setKeys drained the pump: what it heard is membership's now
  }

  private heartbeatAddress(): string | undefined {
    if (this.config.heartbeatAddress) return this.config.heartbeatAddress;
    const node = this.inputs.node(this.config.nodeName);
    return node?.status?.addresses?.find((a) => a.type === "InternalIP" && !a.address.includes(":"))?.address;
  }

  /**
   * All-to-all: after the step, what we hold now (not as of the step's start: a successor's
   * heartbeats must list the IP it just took at once, the former owner waits for that), the
   * heartbeats the pump sends from now on, and when it wakes us next.
   */
  private publish(now: number): number {
    this.membership.setSelfAnnouncing(this.owned(), now);
    const paged = this.transport.publish((peer) => this.membership.heartbeatFor(peer, now), now);
    this.phases.mark("heartbeats");
    const plan = wakePolicy(this.membership.wakeState(), {
      now,
      view: this.lastView!,
      held: this.held,
      handoverTimeoutMs: this.config.handoverTimeoutMs,
      unconfirmableGraceMs: unconfirmableGraceMs(this.config),
      paged,
      deadlines: [this.conflicts.nextDue(), this.lease.apiHealthyUntil()],
    });
    this.transport.arm(plan);
    this.phases.mark("wake");
    return plan.wakeAt ?? Infinity;
  }

  /** IPs we own (not handing over): rebuilt only when reconcile returned a new held map. */
  private owned(): ReadonlySet<string> {
    if (this.ownedOf.held !== this.held)
      this.ownedOf = { held: this.held, ips: new Set(ownedIps(this.held)) };
    return this.ownedOf.ips;
  }

  private step(now: number): void {
    const model = this.inputs.model(this.defaultInterfaces);
    const apiHealthy = this.lease.apiHealthy(now);
    this.membership.setApiHealthy(apiHealthy);
    const carrier = carrierOf(model.interfaces);
    this.membership.setSelfCarrier(carrier);
    this.announcer.standBy(
      standbyInterfaces(model.advertisements, model.nodes.get(this.config.nodeName), carrier),
    );
    this.membership.setSelfLeaving(this.leaving);
    this.membership.setSelfAnnouncing(this.owned(), now);
    if (model.voterPins) this.membership.setPinnedVoters(model.voterPins);
    this.phases.mark("inputs");
    const view = this.membership.advance(now);
    const fanout = this.config.heartbeatFanout;
    if (fanout) {
      // Sparse fan-out: this round's heartbeats, from the view just settled.
      this.membership.beginRound(now);
      const page = this.page++;
      const to = this.membership.roundRecipients(now).map((r) => r.node);
      this.transport.sendRound((peer) => this.membership.heartbeatFor(peer, now, page), to);
    }
    this.phases.mark("membership");
    const round = this.planner.round({
      self: this.config.nodeName,
      now,
      view,
      nodes: model.nodes,
      advertisements: model.advertisements,
      services: model.services,
      current: this.held,
      options: {
        excludeCordoned: this.config.excludeCordoned,
        handoverTimeoutMs: this.config.handoverTimeoutMs,
        ownership: this.config.ownership,
      },
    });
    this.phases.mark("plan");
    for (const [cause, n] of Object.entries(round.causes)) this.metrics.replans.inc({ cause }, n);
    if (round.more) this.cadence.requestStep(); // the deferred rest, a heartbeat interval later
    const { held, effects } = reconcile(round.plans, this.held, now, round.full ? undefined : round.gone);
    this.held = held;
    this.phases.mark("reconcile");
    if (fanout && round.plans.length > 0) {
      const self = this.config.nodeName;
      const byIp = this.planner.candidates(self);
      this.membership.setWatch(watchSet(self, byIp, fanout.watchDepth, new Set(this.held.keys())));
    }
    // Before the effects: a takeover's announcement waits for its forwarding rules.
    this.forwarder?.step({
      now,
      // Only what was re-planned: an IP's owner changes only in a step that re-plans it.
      plans: round.plans,
      gone: round.gone,
      owned: this.owned(),
      view,
      node: (name) => this.inputs.node(name),
    });
    this.phases.mark("forward");
    // Answers and gratuitous announcements first; logs, metrics and status after the step
    // (bookkeeping.ts): a takeover of thousands of IPs tells clients before it writes about it.
    for (const effect of effects) if (effect.kind === "announce") this.answerAfterLoad(effect);
    for (const effect of effects) {
      if (effect.kind === "announce" && effect.took) this.conflicts.acquired(effect.ip, now);
      if (effect.kind === "withdraw") this.stopAnswering(effect.ip);
    }
    const live = new Set(aliveMembers(view));
    const lastHeard = new Map<string, number | undefined>();
    for (const m of view.members.values())
      if (!m.alive) lastHeard.set(m.node, this.membership.lastHeard(m.node));
    const context = { view, previous: this.lastView, now, members: model.members, live, lastHeard };
    this.bookkeeping.record(effects, context);
    this.judgeConflicts(view, now, model.members);
    this.phases.mark("effects");
    // No peer can overrule this decision within its suspicion timeout of us, nor while our majority
    // holds on the echoes received since (fence.ts): a later step (a freeze) re-decides first. The
    // pump's echoes are drained first: they extend it between steps.
    this.announcer.fence(() => {
      if (!fanout) this.transport.drain();
      return this.membership.answerUntil(now);
    });
    this.phases.mark("fence");
    this.lastView = view;
    let alive = 0;
    for (const m of view.members.values()) if (m.alive) alive++;
    this.metrics.membersAlive.set(alive);
    this.metrics.apiHealthy.set(apiHealthy ? 1 : 0);
  }

  private judgeConflicts(
    view: ClusterView,
    now: number,
    members: ReadonlyMap<string, readonly string[]>,
  ): void {
    for (const c of this.conflicts.judge(now, this.held, view.members.values())) {
      const service = this.held.get(c.ip)!.service;
      this.metrics.addressConflicts.inc({ ip: c.ip, kind: c.kind });
      this.log.warn(
        { event: "addressConflict", ip: c.ip, mac: c.mac, kind: c.kind, interface: c.iface, service },
        "another station claims an IP this node announces; re-announcing",
      );
      for (const s of members.get(service) ?? [service]) this.status.conflict(s, c.ip, c.mac, c.kind);
      this.announcer.reannounce(c.ip);
    }
  }

  /** A takeover's announcement waits for its forwarding rules (forward.ts). */
  private answerAfterLoad(effect: { ip: string; interfaces: string[] }): void {
    const loading = this.forwarder?.loading(effect.ip);
    if (loading) void loading.then(() => this.held.has(effect.ip) && this.answer(effect));
    else this.answer(effect);
  }

  private answer(effect: { ip: string; interfaces: string[] }): void {
    const errors = this.announcer.set(effect.ip, effect.interfaces);
    for (const e of errors)
      this.log.error({ event: "announceFailed", ip: effect.ip, error: e }, "cannot announce");
  }

  /** Stops answering for an IP the reconcile already dropped from `held` (bookkeeping writes about it). */
  private stopAnswering(ip: string): void {
    this.announcer.remove(ip);
    this.conflicts.released(ip);
  }

  /** Graceful stop: hand every IP to its successor (make-before-break), drop the Lease, exit. */
  async stop(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.log.info({ event: "speakerStopping", announced: [...this.held.keys()] }, "handing over before exit");
    this.cadence.requestStep();
    const deadline = monotonic() + this.config.handoverTimeoutMs + 1000;
    while (this.held.size > 0 && monotonic() < deadline)
      await new Promise((r) => setTimeout(r, this.config.heartbeatIntervalMs));
    this.stopped = true;
    this.cadence.stop();
    this.cpuWait?.close();
    clearInterval(this.configTimer);
    this.keyWatcher?.stop();
    this.lease.stop();
    for (const [ip, h] of [...this.held]) {
      this.held.delete(ip);
      this.stopAnswering(ip);
      this.bookkeeping.withdrawn(ip, h.service, "shutdown");
    }
    this.announcer.close();
    await this.forwarder?.close();
    await this.lease.release();
    this.bookkeeping.flush();
    await this.status.flush(1000);
    await this.inputs.stop();
    this.api.close();
    this.transport.close();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    this.log.info({ event: "speakerStopped" }, "speaker stopped");
  }

  private async startHttp(address: string): Promise<void> {
    if (!address) return;
    this.http = await serveProbes(address, {
      registry: this.metrics.registry,
      beforeMetrics: () => this.metrics.loopLagSeconds.set(this.cadence.takeMaxLag() / 1000),
      healthy: () => !this.stopped && this.cadence.healthy(monotonic()),
      ready: () => {
        const ok = this.synced && this.membership.selfReady(monotonic()) && !this.leaving;
        return { ok, detail: ok ? "ready" : "warming up" };
      },
      json: { "/state": () => this.snapshot() },
    });
    this.log.info({ event: "listening", address }, "serving /metrics, /healthz, /readyz, /state");
  }

  /** What this speaker believes, for `floatip verify` and debugging. */
  snapshot(now = monotonic()): SpeakerSnapshot {
    const voters = this.membership.voters() ?? [];
    const { nodeName } = this.config;
    return speakerSnapshot(
      nodeName,
      this.lease.apiHealthy(now),
      this.lastView,
      this.announcer.announced(),
      voters,
      (peer) => this.membership.suspectAfterFor(peer),
    );
  }
}
