/**
 * Who is alive, as one speaker sees it. Pure: time comes in as arguments.
 *
 * Two sources, two speeds:
 * - Kubernetes Leases (one per node) are the authority for membership: only nodes with a Lease are
 *   members, a deleted Lease means the node left, and when a speaker hears no peer at all it falls
 *   back to Lease expiry (slow, but never wrong about its own isolation).
 * - UDP heartbeats between speakers on the internal network detect failures in well under a second.
 *   Each heartbeat also says which peers its sender hears (SWIM-style indirect evidence), so a
 *   node is only declared dead when nobody hears it, not when one path between two nodes breaks.
 *
 * A speaker that hears no peer and cannot reach the API server is the minority side of a partition
 * (or the only survivor, which it cannot tell apart): it is `isolated` and must withdraw.
 */

export interface MembershipConfig {
  self: string;
  /** Heartbeat silence after which a peer is declared dead (fast path); the floor of the adaptive timeout. */
  suspectAfterMs: number;
  /**
   * Ceiling of the adaptive timeout. A peer whose heartbeats arrive with jitter (a loaded node) gets
   * a longer timeout, 3 × its recent 99th-percentile gap, between the floor and this ceiling.
   */
  maxSuspectAfterMs?: number;
  /** Continuous contact needed before a peer we declared dead counts as alive again (no flapping). */
  rejoinAfterMs: number;
}

/** What a heartbeat tells about its sender. */
export interface HeartbeatInfo {
  from: string;
  /** Increases on every speaker start; older incarnations are ignored. */
  incarnation: number;
  seq: number;
  /** The sender is shutting down or draining: not eligible, but still answering until handed over. */
  leaving: boolean;
  /** The sender is warmed up and may own IPs. */
  ready: boolean;
  /** Peers the sender hears directly, with milliseconds since it last heard each. */
  heard: Record<string, number>;
  /** IPs the sender currently answers for (make-before-break handoff waits for these). */
  announcing: string[];
  /** Carrier per announce interface name. */
  carrier: Record<string, boolean>;
}

const GAP_WINDOW = 200;
const LONG_GAP_MEMORY_MS = 5 * 60_000;

export interface LeaseObservation {
  /** Local time at which we observed the latest renewal (not the holder's clock: skew-proof). */
  observedRenewAt: number;
  durationMs: number;
}

interface PeerState {
  lease?: LeaseObservation;
  /** Recent gaps between direct heartbeats (ring buffer), for the adaptive timeout. */
  gaps: number[];
  /** Gaps longer than a third of the floor, remembered for a few minutes. */
  longGaps: { at: number; gap: number }[];
  suspectMs?: number;
  lastDirect?: number;
  lastIndirect?: number;
  /** Start of the current uninterrupted run of contact. */
  contactSince?: number;
  /** We declared this peer dead at some point; it must rejoin through the hysteresis. */
  wasDeclaredDead: boolean;
  aliveLatch: boolean;
  last?: HeartbeatInfo;
}

export interface MemberView {
  node: string;
  alive: boolean;
  /** Alive, warmed up and not leaving: may own IPs. */
  eligible: boolean;
  leaving: boolean;
  announcing: ReadonlySet<string>;
  carrier: Readonly<Record<string, boolean>>;
  /** Why the node counts as alive or dead (logs, `floatip verify`). */
  reason: string;
}

export interface ClusterView {
  members: Map<string, MemberView>;
  /** We hear no peer and cannot reach the API server: withdraw everything. */
  isolated: boolean;
  /** Number of peers we hear directly right now. */
  directPeers: number;
}

export class Membership {
  private readonly peers = new Map<string, PeerState>();
  private apiHealthy = true;
  private selfLeaving = false;
  private selfReadyAt: number;
  private selfCarrier: Record<string, boolean> = {};
  private selfAnnouncing: ReadonlySet<string> = new Set();
  private stallCheckUntil: number | undefined;
  private stallAllowanceMs = 0;
  private stallAllowanceUntil = 0;

  constructor(
    private readonly config: MembershipConfig,
    startedAt: number,
  ) {
    // Warm-up: hear the peers before claiming anything, so a restarted speaker does not grab IPs
    // that a live peer still owns.
    this.selfReadyAt = startedAt + config.rejoinAfterMs;
  }

  get self(): string {
    return this.config.self;
  }

  private peer(node: string): PeerState {
    let state = this.peers.get(node);
    if (!state) {
      state = { wasDeclaredDead: false, aliveLatch: false, gaps: [], longGaps: [] };
      this.peers.set(node, state);
    }
    return state;
  }

  /** A Lease exists or was renewed; `undefined` means it was deleted (the node left on purpose). */
  observeLease(node: string, lease: LeaseObservation | undefined): void {
    if (node === this.config.self) return;
    if (lease === undefined) {
      this.peers.delete(node);
      return;
    }
    this.peer(node).lease = lease;
  }

  /** Returns false for heartbeats we ignore (unknown sender, stale incarnation or sequence). */
  observeHeartbeat(hb: HeartbeatInfo, receivedAt: number): boolean {
    if (hb.from === this.config.self) return false;
    const state = this.peers.get(hb.from);
    if (!state) return false; // not a member: no Lease, no say
    const last = state.last;
    if (
      last &&
      (hb.incarnation < last.incarnation || (hb.incarnation === last.incarnation && hb.seq <= last.seq))
    ) {
      return false;
    }
    if (state.lastDirect === undefined || receivedAt - state.lastDirect > this.suspectAfter(state)) {
      state.contactSince = receivedAt;
    } else {
      this.recordGap(state, receivedAt, receivedAt - state.lastDirect);
    }
    // After our own stall: a peer that no longer lists us as heard has written us off.
    if (this.stallCheckUntil !== undefined && receivedAt <= this.stallCheckUntil) {
      const age = hb.heard[this.config.self];
      if (age === undefined || age > this.config.suspectAfterMs) {
        this.stallCheckUntil = undefined;
        this.selfStalled(receivedAt);
      }
    }
    state.lastDirect = receivedAt;
    state.last = hb;
    for (const [node, age] of Object.entries(hb.heard)) {
      if (node === this.config.self || !Number.isFinite(age) || age < 0) continue;
      const other = this.peers.get(node);
      if (!other) continue;
      const heardAt = receivedAt - age;
      if (other.lastIndirect === undefined || heardAt > other.lastIndirect) other.lastIndirect = heardAt;
    }
    return true;
  }

  setApiHealthy(healthy: boolean): void {
    this.apiHealthy = healthy;
  }

  setSelfLeaving(leaving: boolean): void {
    this.selfLeaving = leaving;
  }

  setSelfCarrier(carrier: Record<string, boolean>): void {
    this.selfCarrier = { ...carrier };
  }

  setSelfAnnouncing(ips: ReadonlySet<string>): void {
    this.selfAnnouncing = ips;
  }

  /**
   * Our event loop was silent long enough that peers may have written us off. Whether they did is
   * read from their next heartbeats (do they still hear us?); only then do we step back and rejoin.
   * A loaded node that merely hiccuped keeps its IPs.
   */
  noteSelfStall(now: number, lagMs = 0): void {
    this.stallCheckUntil = now + 3 * (this.config.maxSuspectAfterMs ?? this.config.suspectAfterMs);
    // While we were not running we heard nobody: that silence is ours, not the peers'. Give them the
    // time we lost before calling any of them dead.
    this.stallAllowanceMs = Math.max(this.stallAllowanceMs, lagMs);
    this.stallAllowanceUntil = now + this.config.suspectAfterMs;
  }

  /** Peers wrote us off (or we were isolated): not eligible until the rejoin delay has passed. */
  selfStalled(now: number): void {
    this.selfReadyAt = Math.max(this.selfReadyAt, now + this.config.rejoinAfterMs);
  }

  selfReady(now: number): boolean {
    return now >= this.selfReadyAt;
  }

  /** Peers we heard directly within the suspicion window, with the age of that contact. */
  heardDirectly(now: number): Record<string, number> {
    const heard: Record<string, number> = {};
    for (const [node, state] of this.peers) {
      if (state.lastDirect !== undefined && now - state.lastDirect <= this.suspectAfter(state)) {
        heard[node] = now - state.lastDirect;
      }
    }
    return heard;
  }

  /** When we last heard the node, directly or through a peer. */
  lastHeard(node: string): number | undefined {
    const state = this.peers.get(node);
    if (!state) return undefined;
    const t = Math.max(state.lastDirect ?? -Infinity, state.lastIndirect ?? -Infinity);
    return Number.isFinite(t) ? t : undefined;
  }

  private suspectAfter(state: PeerState): number {
    return state.suspectMs ?? this.config.suspectAfterMs;
  }

  /**
   * The adaptive timeout for one peer, recomputed when a gap is recorded: 3 × p99 of its recent
   * heartbeat gaps, and 1.5 × the longest gap of the last minutes (hiccups of a loaded or paused
   * node recur; the first one may move an IP, the next ones must not), clamped to [floor, ceiling].
   */
  private recordGap(state: PeerState, at: number, gap: number): void {
    const floor = this.config.suspectAfterMs;
    const ceiling = Math.max(floor, this.config.maxSuspectAfterMs ?? floor);
    state.gaps.push(gap);
    if (state.gaps.length > GAP_WINDOW) state.gaps.shift();
    if (gap > floor / 3) state.longGaps.push({ at, gap });
    while (state.longGaps.length > 0 && at - state.longGaps[0]!.at > LONG_GAP_MEMORY_MS)
      state.longGaps.shift();
    if (state.gaps.length < 10) {
      state.suspectMs = floor;
      return;
    }
    const sorted = [...state.gaps].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
    const longest = state.longGaps.reduce((m, g) => Math.max(m, g.gap), 0);
    state.suspectMs = Math.min(ceiling, Math.max(floor, 3 * p99, 1.5 * longest));
  }

  /** The current timeout for a peer (metrics, `floatip verify`). */
  suspectAfterFor(node: string): number | undefined {
    const state = this.peers.get(node);
    return state ? this.suspectAfter(state) : undefined;
  }

  knownPeers(): string[] {
    return [...this.peers.keys()];
  }

  view(now: number): ClusterView {
    const { rejoinAfterMs } = this.config;
    const directPeers = Object.keys(this.heardDirectly(now)).length;
    const alone = this.peers.size === 0;
    const isolated = !alone && directPeers === 0 && !this.apiHealthy;
    // Coming back from isolation is like waking from a stall: peers wrote us off, rejoin carefully.
    if (isolated) this.selfStalled(now);
    const members = new Map<string, MemberView>();

    const selfAlive = !isolated;
    members.set(this.config.self, {
      node: this.config.self,
      alive: selfAlive,
      eligible: selfAlive && !this.selfLeaving && this.selfReady(now),
      leaving: this.selfLeaving,
      announcing: this.selfAnnouncing,
      carrier: this.selfCarrier,
      reason: isolated ? "isolated: no peer heard and API server unreachable" : "self",
    });

    for (const [node, state] of this.peers) {
      const heardAt = Math.max(state.lastDirect ?? -Infinity, state.lastIndirect ?? -Infinity);
      const allowance = now <= this.stallAllowanceUntil ? this.stallAllowanceMs : 0;
      const fresh = now - heardAt <= this.suspectAfter(state) + allowance;
      let alive: boolean;
      let reason: string;
      if (fresh) {
        const rejoining = state.wasDeclaredDead && !state.aliveLatch;
        const streak = state.contactSince === undefined ? 0 : now - state.contactSince;
        if (rejoining && streak < rejoinAfterMs) {
          alive = false;
          reason = `rejoining: heard for ${streak} ms of ${rejoinAfterMs} ms`;
        } else {
          alive = true;
          reason = state.lastDirect === heardAt ? "heartbeat" : "heartbeat via peer";
        }
      } else if (directPeers > 0) {
        alive = false;
        reason = `no heartbeat for ${Number.isFinite(heardAt) ? now - heardAt : "ever"} ms while peers are heard`;
      } else if (this.apiHealthy && state.lease) {
        alive = now - state.lease.observedRenewAt <= state.lease.durationMs;
        reason = alive ? "lease valid (no peer heard)" : "lease expired";
      } else {
        alive = false;
        reason = "no heartbeat and no lease information";
      }
      // Latch transitions so a peer we wrote off must rejoin through the hysteresis.
      if (alive) {
        state.aliveLatch = true;
      } else {
        if (state.aliveLatch) state.wasDeclaredDead = true;
        state.aliveLatch = false;
      }
      const hb = state.last;
      const leaving = hb?.leaving ?? false;
      members.set(node, {
        node,
        alive,
        eligible: alive && !leaving && (hb?.ready ?? false),
        leaving,
        announcing: new Set(alive ? (hb?.announcing ?? []) : []),
        carrier: hb?.carrier ?? {},
        reason,
      });
    }
    return { members, isolated, directPeers };
  }
}
