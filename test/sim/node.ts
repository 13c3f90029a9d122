/**
 * One simulated speaker: the real Membership, wire codec, plan and reconcile (with the make-before-break
 * handover), stepped like src/speaker does it, with the I/O replaced by the simulated world.
 */
import { Membership } from "../../src/election/membership.js";
import { decodeHeartbeat, encodeHeartbeat } from "../../src/election/heartbeat.js";
import { PlanMemo } from "../../src/speaker/plan-memo.js";
import {
  type IpPlan,
  type PlanAdvertisement,
  type PlanNode,
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

const ADS: PlanAdvertisement[] = [
  { name: "all", selectsPool: () => true, selectsNode: () => true, interfaces: [] },
];

export class SimNode {
  membership!: Membership;
  readonly current = new Map<string, Entry>();
  key: Buffer;
  up = true;
  frozen = false;
  /** Wall-clock offset: the code takes no wall-clock input, so a step must change nothing. */
  wallOffsetMs = 0;
  lastRenewOkStart = -Infinity;
  startedAt = 0;
  lastTick = 0;
  readonly queued: { packet: Buffer; at: number }[] = [];
  readonly drops = new Map<string, number>();
  page = 0;
  /** When the last step ran (the answer fence counts from it). */
  steppedAt = -Infinity;
  /** The announce interface has carrier (a "carrier" fault takes it away). */
  carrier = true;
  /** SIGTERM received: hand everything over, then exit (a "leave" fault). */
  leavingSince: number | undefined;
  private planner = new PlanMemo();
  /** The Node objects, unchanged for the whole run (as between watch events). */
  private readonly nodes: ReadonlyMap<string, PlanNode>;
  private services: { ips: readonly string[]; list: PlanService[] } | undefined;

  constructor(
    readonly name: string,
    readonly peers: string[],
    key: Buffer,
    private readonly newBoot: () => string,
    readonly ownership: OwnershipMode = "strict",
    readonly fanout?: FanoutConfig,
    private readonly voterPins: ReadonlySet<string> = new Set(),
  ) {
    this.key = key;
    this.nodes = new Map(
      [name, ...peers].map((n) => [n, { labels: {}, networkUnavailable: false, unschedulable: false }]),
    );
  }

  /** A fresh process: new boot id, nothing announced, warm-up from now. */
  start(now: number, leases: Iterable<[string, number]>): void {
    this.membership = new Membership(
      {
        self: this.name,
        boot: this.newBoot(),
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
    this.membership.setPinnedVoters(this.voterPins);
    this.current.clear();
    this.planner = new PlanMemo();
    this.leavingSince = undefined;
    this.queued.length = 0;
    this.up = true;
    this.frozen = false;
    this.startedAt = now;
    this.lastTick = now;
    this.lastRenewOkStart = -Infinity;
    this.steppedAt = -Infinity;
    for (const [node] of leases) this.observeLease(node, now);
  }

  observeLease(node: string, now: number): void {
    this.membership.observeLease(node, { observedRenewAt: now, durationMs: TIMING.leaseDurationMs });
  }

  /** Like the announcer: only within the fence of the last step (Membership.answerUntil). */
  answers(ip: string, now: number): boolean {
    if (!this.up || this.frozen || !this.carrier || !this.current.has(ip)) return false;
    return now <= this.membership.answerUntil(this.steppedAt);
  }

  receive(packet: Buffer, now: number): void {
    if (!this.up) return;
    if (this.frozen) {
      this.queued.push({ packet, at: now });
      return;
    }
    const decoded = decodeHeartbeat(packet, this.key);
    const reason = decoded.ok ? this.membership.observeHeartbeat(decoded.heartbeat, now) : decoded.reason;
    if (reason !== "accepted") this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  unfreeze(now: number): void {
    this.frozen = false;
    // Like the speaker: what queued up while we were stopped is read before the next step.
    for (const q of this.queued.splice(0)) this.receive(q.packet, now);
  }

  tick(now: number, ips: readonly string[], out: Outbox): void {
    if (!this.up || this.frozen) return;
    const lag = now - this.lastTick - TIMING.heartbeatIntervalMs;
    this.lastTick = now;
    if (lag + TIMING.heartbeatIntervalMs >= TIMING.suspectAfterMs) this.membership.noteSelfStall(now, lag);
    const m = this.membership;
    m.setApiHealthy(now - this.lastRenewOkStart <= API_FENCE_MS);
    m.setSelfCarrier({ eth1: this.carrier });
    m.setSelfLeaving(this.leavingSince !== undefined);
    m.setSelfAnnouncing(new Set(ownedIps(this.current)), now);
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
      options: {
        excludeCordoned: true,
        handoverTimeoutMs: TIMING.handoverTimeoutMs,
        ownership: this.ownership,
      },
    });
    this.apply(round.plans, round.full ? undefined : round.gone, now);
    this.steppedAt = now;
    // Like Speaker.stop(): exit once everything is handed over, or after the handover timeout.
    const deadline = (this.leavingSince ?? Infinity) + TIMING.handoverTimeoutMs + 1000;
    if (this.leavingSince !== undefined && (this.current.size === 0 || now >= deadline)) this.up = false;
  }

  /** The speaker's own pure reconcile; its effects (I/O) are what answering means here. */
  private apply(plans: IpPlan[], gone: string[] | undefined, now: number): void {
    const { held } = reconcile(plans, this.current, now, gone);
    if (held === this.current) return; // nothing changed (reconcile hands the same map back)
    this.current.clear();
    for (const [ip, h] of held) this.current.set(ip, h);
  }
}
