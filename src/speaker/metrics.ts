import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ClusterView } from "../election/membership.js";
import { keyFingerprint, type HeartbeatKeys } from "./heartbeat-keys.js";

/** Step durations, with and without the waits for a CPU, in the same buckets so that they compare. */
const STEP_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** The speaker's Prometheus metrics; names follow MetalLB's with the floatip_ prefix. */
export class SpeakerMetrics {
  readonly registry = new Registry();
  /** Run before counters kept outside JS (the raw-socket addon's) are scraped. */
  private readonly scrapeHooks: (() => void)[] = [];
  readonly announced = new Gauge({
    name: "floatip_speaker_announced",
    help: "1 for each IP this speaker announces",
    labelNames: ["service", "protocol", "node", "ip"],
    registers: [this.registry],
  });
  readonly requestsReceived = new Counter({
    name: "floatip_layer2_requests_received",
    help: "ARP requests and IPv6 neighbor solicitations received for owned IPs",
    labelNames: ["ip"],
    registers: [this.registry],
  });
  readonly responsesSent = new Counter({
    name: "floatip_layer2_responses_sent",
    help: "ARP replies and neighbor advertisements sent",
    labelNames: ["ip"],
    registers: [this.registry],
  });
  readonly gratuitousSent = new Counter({
    name: "floatip_layer2_gratuitous_sent",
    help: "Gratuitous ARP and unsolicited neighbor advertisements sent",
    labelNames: ["ip"],
    registers: [this.registry],
  });
  readonly framesIgnored = new Counter({
    name: "floatip_layer2_frames_ignored",
    help: "Received frames not answered, by reason",
    labelNames: ["reason"],
    registers: [this.registry],
    collect: () => this.runScrapeHooks(),
  });
  readonly framesHandled = new Counter({
    name: "floatip_layer2_frames_handled_total",
    help: "ARP/NDP frames that passed the kernel filter and the rate limit and reached the responder",
    registers: [this.registry],
    collect: () => this.runScrapeHooks(),
  });
  readonly heartbeatsDropped = new Counter({
    name: "floatip_heartbeats_dropped_total",
    help: "Heartbeats dropped, by reason (unauthenticated, malformed, oversized, replayed, stale-echo, ...)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly heartbeatsNotSent = new Counter({
    name: "floatip_heartbeats_send_errors_total",
    help: "Heartbeats the kernel refused to send, by error (EHOSTUNREACH, ENETUNREACH, EAGAIN, ...)",
    labelNames: ["error"],
    registers: [this.registry],
  });
  readonly addressConflicts = new Counter({
    name: "floatip_address_conflicts_total",
    help: "Another MAC claimed an IP this speaker answers for (ARP reply, gratuitous ARP, NA); re-announced",
    labelNames: ["ip", "kind"],
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: "floatip_speaker_refusals_total",
    help: "Services (or some of their IPs) this speaker refused to announce, once per change, by reason (noPoolAnnotation, poolMissing, ipNotInPool, poolNotAllowed, tooManyIPs)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly ownershipChanges = new Counter({
    name: "floatip_ownership_changes_total",
    help: "IPs this speaker started (announce) or stopped (withdraw) answering for",
    labelNames: ["change", "reason"],
    registers: [this.registry],
  });
  readonly failoverSeconds = new Histogram({
    name: "floatip_failover_duration_seconds",
    help: "From the moment the previous owner was last heard to this speaker's first announcement",
    buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly membersAlive = new Gauge({
    name: "floatip_members_alive",
    help: "Speakers this speaker considers alive (itself included)",
    registers: [this.registry],
  });
  readonly apiHealthy = new Gauge({
    name: "floatip_api_server_reachable",
    help: "1 when the last Lease renewal succeeded in time",
    registers: [this.registry],
  });
  readonly loopLagSeconds = new Gauge({
    name: "floatip_event_loop_lag_seconds",
    help: "Largest delay of the speaker's steps (past the time the heartbeat pump was asked to wake it) in the last interval",
    registers: [this.registry],
  });
  readonly stepSeconds = new Histogram({
    name: "floatip_speaker_step_seconds",
    help: "Duration of a speaker step: drain the heartbeat pump, membership, plan, reconcile, effects, templates",
    buckets: STEP_BUCKETS,
    registers: [this.registry],
  });
  readonly stepOwnSeconds = new Histogram({
    name: "floatip_speaker_step_own_seconds",
    help: "Duration of a speaker step without the time its thread waited for a CPU (Linux schedstat): the speaker's own time; the rest of floatip_speaker_step_seconds is the node's CPU contention",
    buckets: STEP_BUCKETS,
    registers: [this.registry],
  });
  readonly stepCpuWaitSeconds = new Counter({
    name: "floatip_speaker_step_cpu_wait_seconds_total",
    help: "Time speaker steps spent runnable but waiting for a CPU (Linux schedstat): other processes had it",
    registers: [this.registry],
  });
  readonly stepPhaseSeconds = new Histogram({
    name: "floatip_speaker_step_phase_seconds",
    help: "Duration of each phase of a speaker step (drain, inputs, membership, plan, reconcile, forward, effects, fence, heartbeats, wake)",
    labelNames: ["phase"],
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly heartbeatKeyInfo = new Gauge({
    name: "floatip_speaker_heartbeat_keys_info",
    help: "The heartbeat keys this speaker signs and accepts with, as fingerprints (sha256, 8 hex digits; accept empty: none). Every speaker should show the same once a key rotation's step has rolled out",
    labelNames: ["sign", "accept"],
    registers: [this.registry],
  });
  heartbeatKeys(keys: HeartbeatKeys): void {
    this.heartbeatKeyInfo.reset();
    const accept = keys.accept ? keyFingerprint(keys.accept) : "";
    this.heartbeatKeyInfo.set({ sign: keyFingerprint(keys.key), accept }, 1);
  }
  readonly kubeRequests = new Counter({
    name: "floatip_kube_requests_total",
    help: "Requests to the Kubernetes API server (watches excluded), by verb, resource and HTTP status (0: no answer)",
    labelNames: ["verb", "resource", "code"],
    registers: [this.registry],
  });
  readonly replans = new Counter({
    name: "floatip_speaker_replans_total",
    help: "Services re-planned, by the cause that made each one dirty (members, services, claims, held, handover, all, sharers, deferred)",
    labelNames: ["cause"],
    registers: [this.registry],
  });
  readonly writesPending = new Gauge({
    name: "floatip_speaker_writes_pending",
    help: "What the speaker has still to write about its steps: effects not yet recorded (effects), ServiceL2Status writes queued, under way or waiting for a retry (status), Events (events). Thousands after a start or a mass takeover; 0 once caught up",
    labelNames: ["kind"],
    registers: [this.registry],
    collect: () => this.runScrapeHooks(),
  });
  readonly steps = new Counter({
    name: "floatip_speaker_steps_total",
    help: "Steps run (membership, plan, reconcile): on the heartbeat pump's wakes and on input events; every heartbeat interval with a sparse fan-out",
    registers: [this.registry],
  });

  constructor() {
    // prom-client samples the event loop's delay with its own 10 ms timer: 100 wakeups a second,
    // more than the speaker's whole 40 ms tick. The tick measures its own lag (loopLagSeconds), so
    // the default histogram samples once a second.
    collectDefaultMetrics({
      register: this.registry,
      prefix: "floatip_speaker_process_",
      eventLoopMonitoringPrecision: 1000,
    });
  }

  /** `hook` brings counters kept elsewhere up to date; it runs at every scrape (more than once is fine). */
  onScrape(hook: () => void): void {
    this.scrapeHooks.push(hook);
  }

  private runScrapeHooks(): void {
    for (const hook of this.scrapeHooks) hook();
  }
}

/**
 * What floatip_failover_duration_seconds observes when this node takes `ip`: for the node that
 * announced it in the previous view and is dead now, the milliseconds since it was last heard.
 */
export function failoverMs(
  ip: string,
  self: string,
  previous: ClusterView | undefined,
  view: ClusterView,
  now: number,
  lastHeard: (node: string) => number | undefined,
): number[] {
  const out: number[] = [];
  for (const member of previous?.members.values() ?? []) {
    if (member.node === self || !member.announcing.has(ip)) continue;
    const heard = lastHeard(member.node);
    if (heard !== undefined && !view.members.get(member.node)?.alive) out.push(now - heard);
  }
  return out;
}
