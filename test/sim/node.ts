/**
 * One simulated speaker: the real Membership, wire codec, plan and reconcile (with the make-before-break
 * handover), stepped like src/speaker does it, with the I/O replaced by the simulated world.
 *
 * The heartbeat pump (src/election/pump.ts, the model of the native thread) sends a round every
 * interval and receives; JavaScript steps only when the pump wakes it (wake.ts arms it), on input
 * events (Lease, carrier, SIGTERM) and first after a start or a freeze. A sparse fan-out runs the
 * pump in manual mode: JavaScript ticks every interval and sends its rounds itself, as before.
 */
import { Membership, type ClusterView } from "../../src/election/membership.js";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  encodeHeartbeatBody,
  nameHash,
} from "../../src/election/heartbeat.js";
import { maskBody, PumpCore, type PumpPacket } from "../../src/election/pump.js";
import { wakePolicy, WATCHDOG_MS } from "../../src/election/wake.js";
import { PlanMemo } from "../../src/speaker/plan-memo.js";
import {
  unconfirmableGraceMs,
  type IpPlan,
  type PlanAdvertisement,
  type PlanNode,
  type PlanOptions,
  type PlanService,
} from "../../src/speaker/plan.js";
import { ownedIps, reconcile, type Held } from "../../src/speaker/reconcile.js";
import type { OwnershipMode } from "../../src/election/ranking.js";
import { watchSet, type FanoutConfig } from "../../src/election/fanout.js";

export const TIMING = {
  heartbeatIntervalMs: 40,
  suspectAfterMs: 200,
  maxSuspectAfterMs: 1000,
  rejoinAfterMs: 1000,
  handoverTimeoutMs: 3000,
  leaseDurationMs: 6000,
  leaseRenewMs: 2000,
};

/** Same rule as the speaker: the last successful renewal must have started recently. */
export const API_FENCE_MS = TIMING.leaseRenewMs * 2 + 500;

export interface Outbox {
  send(from: string, to: string, packet: Buffer): void;
}

export type Entry = Held;

/** The heartbeat port (the simulated address of a node is its name). */
export const PORT = 7472;

const ADS: PlanAdvertisement[] = [
  { name: "all", selectsPool: () => true, selectsNode: () => true, interfaces: [] },
];

export class SimNode {
  membership!: Membership;
  pump!: PumpCore;
  /** Replaced, never changed in place, like the speaker's held map (the planner compares identity). */
  current = new Map<string, Entry>();
  key: Buffer;
  up = true;
  frozen = false;
  /** Wall-clock offset: the code takes no wall-clock input, so a step must change nothing. */
  wallOffsetMs = 0;
  lastRenewOkStart = -Infinity;
  startedAt = 0;
  /** Manual mode: when the last tick ran (its lateness is a stall of ours). */
  lastTick = 0;
  /** The world's requestStep for this node (a wake from a drain that read the socket). */
  onWake: () => void = () => {};
  /** Datagrams the kernel held while the process was stopped (read with their arrival times). */
  readonly kernel: { packet: Buffer; from: string; at: number }[] = [];
  readonly drops = new Map<string, number>();
  page = 0;
  /** When the last step ran (the answer fence counts from it). */
  steppedAt = -Infinity;
  /** The announce interface has carrier (a "carrier" fault takes it away). */
  carrier = true;
  /** SIGTERM received: hand everything over, then exit (a "leave" fault). */
  leavingSince: number | undefined;
  /** Bumped on every start: events of a previous process are stale. */
  incarnation = 0;
  /** A step is queued (the pump woke us, or an input event came); its token. */
  stepPending = false;
  stepToken = 0;
  /** The pump's wake check scheduled for (Infinity: none). */
  checkAt = Infinity;
  /** JavaScript steps taken (pump mode) or ticks (manual mode). */
  steps = 0;
  private lastStepAt = -Infinity;
  private stepsThen = 0;
  private planner = new PlanMemo();
  /** The Node objects, unchanged for the whole run (as between watch events). */
  private readonly nodes: ReadonlyMap<string, PlanNode>;
  private services: { ips: readonly string[]; list: PlanService[] } | undefined;
  private readonly options: PlanOptions;

  constructor(
    readonly name: string,
    readonly peers: string[],
    key: Buffer,
    private readonly newBoot: () => string,
    readonly ownership: OwnershipMode = "strict",
    readonly fanout?: FanoutConfig,
    private readonly voterPins: ReadonlySet<string> = new Set(),
    /** The JavaScript 40 ms tick sends the heartbeats (manual mode): sparse fan-out, or to compare. */
    readonly manual = fanout !== undefined,
  ) {
    this.key = key;
    this.nodes = new Map(
      [name, ...peers].map((n) => [n, { labels: {}, networkUnavailable: false, unschedulable: false }]),
    );
    this.options = { excludeCordoned: true, handoverTimeoutMs: TIMING.handoverTimeoutMs, ownership };
  }

  /** A fresh process: new boot id, nothing announced, warm-up from now. */
  start(now: number, leases: Iterable<[string, number]>): void {
    const boot = this.newBoot();
    this.membership = new Membership(
      {
        self: this.name,
        boot,
        heartbeatIntervalMs: TIMING.heartbeatIntervalMs,
        suspectAfterMs: TIMING.suspectAfterMs,
        maxSuspectAfterMs: TIMING.maxSuspectAfterMs,
        rejoinAfterMs: TIMING.rejoinAfterMs,
        acquiredTtlMs: TIMING.handoverTimeoutMs + 1000,
        listOwned: this.ownership === "sticky",
        ...(this.fanout ? { fanout: this.fanout } : {}),
      },
      now,
    );
    this.pump = new PumpCore(
      {
        boot,
        key: this.key,
        intervalMs: TIMING.heartbeatIntervalMs,
        freshnessMs: this.membership.freshnessMs,
        watchdogMs: WATCHDOG_MS,
      },
      now,
    );
    for (const peer of this.peers) this.pump.setPeer(peer, nameHash(peer), peer, PORT);
    this.membership.setPinnedVoters(this.voterPins);
    this.current = new Map();
    this.planner = new PlanMemo();
    this.leavingSince = undefined;
    this.kernel.length = 0;
    this.up = true;
    this.frozen = false;
    this.startedAt = now;
    this.lastTick = now;
    this.lastRenewOkStart = -Infinity;
    this.steppedAt = -Infinity;
    this.incarnation++;
    this.stepPending = false;
    this.checkAt = Infinity;
    for (const [node] of leases) this.observeLease(node, now);
  }

  /** Returns whether it matters before its expiry: a new Lease, or one that had expired. */
  observeLease(node: string, now: number): boolean {
    const before = this.membership.wakeState().table.get(node)?.lease;
    this.membership.observeLease(node, { observedRenewAt: now, durationMs: TIMING.leaseDurationMs });
    return !before || now - before.observedRenewAt >= before.durationMs;
  }

  /**
   * Like the announcer: only within the fence of the last step (Membership.answerUntil), after
   * draining the pump (echoes received since the step extend it, a write-off ends it).
   */
  answers(ip: string, now: number): boolean {
    if (!this.up || this.frozen || !this.carrier || !this.current.has(ip)) return false;
    this.feed(now);
    return now <= this.membership.answerUntil(this.steppedAt);
  }

  /**
   * A datagram arrives; returns the wake it fires. The pump's thread reads the socket only when it
   * wakes for a round or a deadline (readQueued); in manual mode it reads each datagram at once.
   */
  receive(packet: Buffer, from: string, now: number): string | undefined {
    if (!this.up) return undefined;
    if (this.frozen || !this.manual) {
      this.kernel.push({ packet, from, at: now });
      return undefined;
    }
    return this.pump.receive(packet, from, PORT, now);
  }

  /** The thread woke (a round or a deadline): it reads what queued, with its arrival times. */
  readQueued(): string | undefined {
    let wake: string | undefined;
    for (const k of this.kernel.splice(0)) wake = this.pump.receive(k.packet, k.from, PORT, k.at) ?? wake;
    return wake;
  }

  /** A new key for this process (rotation): what arrived under the old one is read with it first. */
  rekey(key: Buffer, now: number): void {
    if (this.up && !this.frozen) this.feed(now);
    this.key = key;
    this.pump.setKey(key);
  }

  /** How many steps ran at exactly `now` (a wake loop shows as many). */
  stepsAt(now: number): number {
    return now === this.lastStepAt ? this.stepsThen : 0;
  }

  /** The process runs again: the thread reads what queued up, with its arrival times. */
  unfreeze(): void {
    this.frozen = false;
    this.readQueued(); // the world steps this node right after, whatever fired
  }

  /** The pump's round (its thread: not delayed by a starved event loop). */
  round(now: number): PumpPacket[] {
    return this.pump.round(now);
  }

  /**
   * Everything the pump has since the last drain into membership, as the speaker does: rounds sent
   * first, then each datagram with its arrival time; a round late by a suspicion window is our stall.
   */
  private feed(now: number): void {
    // drain() reads the socket first (JavaScript must see every heartbeat that arrived, not only
    // those the thread read at its last round); a trigger that fires then wakes us as the thread's would.
    if (this.readQueued()) this.onWake();
    const d = this.pump.drain();
    const m = this.membership;
    if (d.stalledMs > 0 && d.stalledMs + TIMING.heartbeatIntervalMs >= TIMING.suspectAfterMs)
      m.noteSelfStall(now, d.stalledMs);
    for (const r of d.sent) m.noteSent(r.seq, r.at);
    for (const dg of d.datagrams) {
      const decoded = decodeHeartbeat(dg.data, this.key);
      const reason = decoded.ok ? m.observeHeartbeat(decoded.heartbeat, dg.arrivedAt) : decoded.reason;
      if (reason !== "accepted") this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    }
  }

  /** One JavaScript step (pump mode): drain, step, templates, arm. */
  step(now: number, ips: readonly string[]): void {
    if (!this.up || this.frozen) return;
    this.stepPending = false;
    this.steps++;
    this.stepsThen = now === this.lastStepAt ? this.stepsThen + 1 : 1;
    this.lastStepAt = now;
    this.feed(now);
    const m = this.membership;
    this.inputs(now);
    const view = this.plan(now, ips, m.advance(now));
    // The templates carry this step's claims (the old tick sent them one round later).
    m.setSelfAnnouncing(new Set(ownedIps(this.current)), now);
    this.page++;
    let paged = false;
    for (const peer of this.peers) {
      const hb = m.heartbeatFor(peer, now, this.page);
      const body = encodeHeartbeatBody(hb);
      if (!decodeComplete(body)) paged = true;
      const old = this.pump.template(peer);
      if (!old || !masked(old).equals(masked(body))) this.pump.setTemplate(peer, body, now);
    }
    const deadlines = [this.lastRenewOkStart + API_FENCE_MS + 0.001];
    if (this.leavingSince !== undefined) deadlines.push(this.leavingSince + TIMING.handoverTimeoutMs + 1000);
    const arm = wakePolicy(m.wakeState(), {
      now,
      view,
      held: this.current,
      handoverTimeoutMs: TIMING.handoverTimeoutMs,
      unconfirmableGraceMs: unconfirmableGraceMs(this.options),
      paged,
      deadlines,
    });
    this.pump.arm(arm, now);
    this.exitIfLeft(now);
  }

  /** Manual mode (sparse fan-out): the 40 ms tick that sends its round itself, as before the pump. */
  tick(now: number, ips: readonly string[], out: Outbox): void {
    if (!this.up || this.frozen) return;
    this.steps++;
    const lag = now - this.lastTick - TIMING.heartbeatIntervalMs;
    this.lastTick = now;
    if (lag + TIMING.heartbeatIntervalMs >= TIMING.suspectAfterMs) this.membership.noteSelfStall(now, lag);
    this.feed(now);
    const m = this.membership;
    this.inputs(now);
    const view = m.advance(now);
    if (this.fanout) {
      // Like the speaker: the ranking's neighbours among the nodes that may own (and ourselves).
      const candidates = [
        this.name,
        ...[...view.members.values()].filter((v) => v.eligible).map((v) => v.node),
      ];
      const byIp = ips.map((ip) => [ip, [...new Set(candidates)]] as const);
      m.setWatch(watchSet(this.name, byIp, this.fanout.watchDepth, new Set(this.current.keys())));
    }
    m.beginRound(now);
    this.page++;
    const to = this.fanout ? m.roundRecipients(now).map((r) => r.node) : this.peers;
    for (const peer of to)
      out.send(this.name, peer, encodeHeartbeat(m.heartbeatFor(peer, now, this.page), this.key));
    this.plan(now, ips, view);
    this.exitIfLeft(now);
  }

  /** This node's facts, given to membership before it advances. */
  private inputs(now: number): void {
    const m = this.membership;
    m.setApiHealthy(now - this.lastRenewOkStart <= API_FENCE_MS);
    m.setSelfCarrier({ eth1: this.carrier });
    m.setSelfLeaving(this.leavingSince !== undefined);
    m.setSelfAnnouncing(new Set(ownedIps(this.current)), now);
  }

  /** Plan and reconcile on the step's view. */
  private plan(now: number, ips: readonly string[], view: ClusterView): ClusterView {
    // Like the model: the same entries until a watch event changes them (the planner memoizes).
    if (this.services?.ips !== ips) {
      const list: PlanService[] = ips.map((ip) => ({
        key: `default/svc-${ip}`,
        ips: [ip],
        pool: "pool",
        externalTrafficPolicy: "Cluster",
        hasReadyEndpoint: true,
        readyEndpointNodes: new Set(),
      }));
      this.services = { ips, list };
    }
    const round = this.planner.round({
      self: this.name,
      now,
      view,
      nodes: this.nodes,
      advertisements: ADS,
      services: this.services.list,
      current: this.current,
      options: this.options,
    });
    this.apply(round.plans, round.full ? undefined : round.gone, now);
    this.steppedAt = now;
    return view;
  }

  /** Like Speaker.stop(): exit once everything is handed over, or after the handover timeout. */
  private exitIfLeft(now: number): void {
    const deadline = (this.leavingSince ?? Infinity) + TIMING.handoverTimeoutMs + 1000;
    if (this.leavingSince !== undefined && (this.current.size === 0 || now >= deadline)) this.up = false;
  }

  /** The speaker's own pure reconcile; its effects (I/O) are what answering means here. */
  private apply(plans: IpPlan[], gone: string[] | undefined, now: number): void {
    const { held } = reconcile(plans, this.current, now, gone);
    this.current = held; // the same map back when nothing changed
  }
}

/** A template with what the pump patches (seq, echo, ages) zeroed: equal means the same template. */
function masked(body: Buffer): Buffer {
  const n = body[0]!;
  return maskBody(body, n, body.readUInt16BE(36 + n));
}

/** Whether the body carries all of its acquired list (the complete flag), not a page. */
function decodeComplete(body: Buffer): boolean {
  return (body[35 + body[0]!]! & 16) !== 0;
}
