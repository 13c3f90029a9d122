/**
 * What one speaker knows about each peer: its Lease, the heartbeats accepted from it, what others
 * relayed about it, and its adaptive suspicion timeout. Pure bookkeeping for liveness.ts.
 */
import {
  nameHash,
  summarizeCarrier,
  type CarrierSummary,
  type Heartbeat,
  type PeerReport,
} from "./heartbeat.js";

export interface LeaseObservation {
  /** Monotonic local time at which we observed the latest renewal (never the holder's clock). */
  observedRenewAt: number;
  durationMs: number;
}

export interface PeerState {
  lease?: LeaseObservation;
  /** The peer's latest authenticated (boot, seq), echoed back in our heartbeats to it. */
  echoBoot?: string;
  echoSeq?: number;
  /** The accepted stream: replays and reordered packets (same boot, lower seq) are dropped. */
  boot?: string;
  seq?: number;
  last?: Heartbeat;
  /** Receive time of the latest accepted heartbeat. */
  lastDirect?: number;
  /** Send time of the latest of our heartbeats the peer had heard (mutual contact). */
  confirmedAt?: number;
  /** The peer's suspicion timeout for us, as it last told us. */
  timeoutForUs?: number;
  lastIndirect?: number;
  relayed?: { at: number; eligible: boolean; leaving: boolean; carrier?: CarrierSummary };
  contactSince?: number;
  /** Start of the current run of hearing it, directly or through others (sparse fan-out's rejoin). */
  heardSince?: number;
  wasDeclaredDead: boolean;
  aliveLatch: boolean;
  gaps: number[];
  gapCount: number;
  /** Long gaps remembered until `until` (a silence beyond the timeout for less time). */
  longGaps: { at: number; gap: number; until: number }[];
  suspectMs?: number;
  acquired: Map<string, number>;
  /** Sparse fan-out: when the peer's latest heartbeat asked us for the fast rate (else undefined). */
  askedAt?: number;
  /** Sparse fan-out: the latest accepted heartbeat promised the next one within a round. */
  fastStream?: boolean;
}

const GAP_WINDOW = 200;
/** Most the adaptive timeout shrinks per recomputation (every 16 heartbeats). */
export const SHRINK_STEP_MS = 5;
const LONG_GAP_MEMORY_MS = 5 * 60_000;
/**
 * How long a silence beyond the timeout (the peer's process stalled) keeps its timeout up: each
 * such stall costs its crash detection up to 1.5 × the stall (capped at the ceiling) for this long,
 * then the timeout shrinks back a step per recomputation.
 */
export const SILENCE_MEMORY_MS = 60_000;

export interface PeerTableConfig {
  suspectAfterMs: number;
  maxSuspectAfterMs?: number;
  acquiredTtlMs: number;
  /** Sparse fan-out: the timeout for members not on a fast stream to us (see fanout.ts). */
  slowTimeoutMs?: number;
}

export class PeerTable {
  private readonly peers = new Map<string, PeerState>();
  private readonly byHash = new Map<number, string | null>();
  private readonly hashes = new Map<string, number>();
  /** Bumped when a member comes or goes (the voter set follows the members). */
  version = 0;

  constructor(private readonly config: PeerTableConfig & { self: string }) {
    this.byHash.set(this.hashOf(config.self), config.self);
  }

  get size(): number {
    return this.peers.size;
  }

  get(node: string): PeerState | undefined {
    return this.peers.get(node);
  }

  entries(): IterableIterator<[string, PeerState]> {
    return this.peers.entries();
  }

  hashOf(node: string): number {
    let h = this.hashes.get(node);
    if (h === undefined) {
      h = nameHash(node);
      this.hashes.set(node, h);
    }
    return h;
  }

  /** The member a report names; undefined when unknown or when two members share the hash. */
  nameOf(hash: number): string | undefined {
    return this.byHash.get(hash) ?? undefined;
  }

  private rehash(): void {
    this.byHash.clear();
    for (const node of [this.config.self, ...this.peers.keys()]) {
      const h = this.hashOf(node);
      this.byHash.set(h, this.byHash.has(h) ? null : node);
    }
  }

  observeLease(node: string, lease: LeaseObservation | undefined): void {
    if (lease === undefined) {
      if (this.peers.delete(node)) this.version++;
      this.rehash();
      return;
    }
    let state = this.peers.get(node);
    if (!state) {
      state = {
        wasDeclaredDead: false,
        aliveLatch: false,
        gaps: [],
        gapCount: 0,
        longGaps: [],
        acquired: new Map(),
      };
      this.peers.set(node, state);
      this.version++;
      this.rehash();
    }
    state.lease = lease;
  }

  /**
   * Any authenticated packet tells what to echo, even one we do not accept (yet), and whether the
   * peer asks for the fast rate (sparse fan-out): a peer we never sent to cannot echo us, so its
   * first packets are not accepted, and the ask must count before they can be.
   */
  recordEcho(state: PeerState, hb: Heartbeat, receivedAt: number): void {
    if (hb.boot !== state.echoBoot || hb.seq > (state.echoSeq ?? 0)) {
      state.echoBoot = hb.boot;
      state.echoSeq = hb.seq;
      state.askedAt = hb.watch ? receivedAt : undefined;
    }
  }

  /**
   * `selfStalled`: our own event loop was late just now, so a silence we measure may be ours and
   * says nothing about the peer.
   */
  accept(
    state: PeerState,
    hb: Heartbeat,
    receivedAt: number,
    confirmedAt: number,
    selfStalled = false,
  ): void {
    this.noteHeard(state, receivedAt);
    if (state.boot !== hb.boot) {
      // A restart (or the first contact): what the previous process said no longer holds.
      state.acquired.clear();
      state.relayed = undefined;
    }
    // Only gaps of a stream promised every round tell how late its packets come.
    const everyRound = state.fastStream !== false && !hb.slow;
    const gap = state.lastDirect === undefined ? undefined : receivedAt - state.lastDirect;
    if (gap === undefined || gap > this.suspectAfter(state)) {
      state.contactSince = receivedAt;
      // The very next packet of the same stream after a silence longer than the timeout: nothing
      // was lost on the way, the peer did not send (a starved or frozen process). Such stalls
      // recur: remember it (for SILENCE_MEMORY_MS) so that the timeout covers the next one.
      const silent = state.boot === hb.boot && hb.seq === (state.seq ?? 0) + 1;
      if (gap !== undefined && silent && everyRound && !selfStalled)
        this.recordGap(state, receivedAt, gap, true);
    } else if (everyRound) {
      this.recordGap(state, receivedAt, gap);
    }
    state.fastStream = !hb.slow;
    // Pages of an older announced set may list IPs the peer gave up: start over when the set changes.
    const setChanged = state.last?.announcedDigest !== hb.announcedDigest;
    state.boot = hb.boot;
    state.seq = hb.seq;
    state.last = hb;
    state.lastDirect = receivedAt;
    state.confirmedAt = Math.max(state.confirmedAt ?? -Infinity, confirmedAt);
    state.timeoutForUs = hb.timeoutMs;
    // A complete list replaces what we knew (an IP the peer gave up is gone at once); a page merges.
    if (hb.acquiredComplete || setChanged) state.acquired.clear();
    for (const ip of hb.acquired) state.acquired.set(ip, receivedAt);
  }

  /** A peer reports direct contact with `node` at `heardAt` (our clock), with its verdict. */
  relay(node: string, heardAt: number, report: PeerReport): void {
    const other = this.peers.get(node);
    if (!other) return;
    this.noteHeard(other, heardAt);
    if (other.lastIndirect === undefined || heardAt > other.lastIndirect) other.lastIndirect = heardAt;
    if (!other.relayed || heardAt >= other.relayed.at) {
      other.relayed = { at: heardAt, eligible: report.eligible, leaving: report.leaving };
      if (report.carrier) other.relayed.carrier = report.carrier;
    }
  }

  private noteHeard(state: PeerState, at: number): void {
    const last = this.heardAt(state);
    if (last === undefined || at - last > this.suspectAfter(state)) state.heardSince = at;
  }

  directFresh(state: PeerState, now: number): boolean {
    return state.lastDirect !== undefined && now - state.lastDirect <= this.suspectAfter(state);
  }

  heardAt(state: PeerState): number | undefined {
    const t = Math.max(state.lastDirect ?? -Infinity, state.lastIndirect ?? -Infinity);
    return Number.isFinite(t) ? t : undefined;
  }

  /** Eligibility and leaving as the freshest word about the peer says (its own, or a relay). */
  flags(state: PeerState, now: number): { eligible: boolean; leaving: boolean } {
    const hb = state.last;
    if (hb && this.directFresh(state, now) && (!state.relayed || state.lastDirect! >= state.relayed.at)) {
      return { eligible: hb.ready && hb.quorum && !hb.leaving, leaving: hb.leaving };
    }
    if (state.relayed && now - state.relayed.at <= this.suspectAfter(state)) {
      return { eligible: state.relayed.eligible, leaving: state.relayed.leaving };
    }
    return { eligible: false, leaving: hb?.leaving ?? false };
  }

  /**
   * Carrier per interface as the freshest word says (first-hand or relayed). A relay carries only a
   * summary, applied to the interface names the peer last told us first-hand (they change only with
   * the config); what the names cannot express is undefined (plan.ts: unknown, a candidate).
   */
  carrier(state: PeerState): Readonly<Record<string, boolean>> | undefined {
    const direct = state.last?.carrier;
    const relayed = state.relayed;
    if (!relayed?.carrier || (state.lastDirect ?? -Infinity) >= relayed.at) return direct;
    if (!direct) return relayed.carrier === "none" ? {} : undefined;
    if (relayed.carrier === "some") return summarizeCarrier(direct) === "some" ? direct : undefined;
    return Object.fromEntries(Object.keys(direct).map((n) => [n, relayed.carrier === "all"]));
  }

  acquired(state: PeerState, now: number): Set<string> {
    for (const [ip, at] of state.acquired)
      if (now - at > this.config.acquiredTtlMs) state.acquired.delete(ip);
    return new Set(state.acquired.keys());
  }

  /**
   * Whether we hold the peer's whole announced set (when it lists all it owns): every listed IP
   * came from a page of the current set, so an equal count means the same set.
   */
  announcedKnown(state: PeerState, now: number): boolean {
    if (!state.last) return false;
    return this.acquired(state, now).size === state.last.announcedCount;
  }

  suspectAfter(state: PeerState): number {
    // Sparse fan-out: silence means death only from a peer that promised to send every round.
    const slow = this.config.slowTimeoutMs;
    if (slow !== undefined && state.fastStream !== true) return slow;
    return state.suspectMs ?? this.config.suspectAfterMs;
  }

  /**
   * The adaptive timeout: 3 × p99 of recent gaps and 1.5 × the longest gap of the last minutes
   * (hiccups of a loaded node recur), clamped to [floor, ceiling].
   */
  private recordGap(state: PeerState, at: number, gap: number, silence = false): void {
    const floor = this.config.suspectAfterMs;
    const ceiling = Math.max(floor, this.config.maxSuspectAfterMs ?? floor);
    state.gaps.push(gap);
    if (state.gaps.length > GAP_WINDOW) state.gaps.shift();
    const long = gap > floor / 3;
    if (long)
      state.longGaps.push({ at, gap, until: at + (silence ? SILENCE_MEMORY_MS : LONG_GAP_MEMORY_MS) });
    if (state.longGaps.some((g) => g.until < at))
      state.longGaps = state.longGaps.filter((g) => g.until >= at);
    // Sorting the window on every packet was most of the cost at scale: a long gap updates the
    // timeout at once, ordinary ones every 16th packet.
    state.gapCount = (state.gapCount + 1) % 16;
    if (!long && state.gapCount !== 0 && state.suspectMs !== undefined && state.gaps.length >= 10) return;
    if (state.gaps.length < 10) {
      state.suspectMs = floor;
      return;
    }
    const n = state.gaps.length;
    const p99 = largest(state.gaps, n - Math.min(n - 1, Math.floor(n * 0.99)));
    const longest = state.longGaps.reduce((m, g) => Math.max(m, g.gap), 0);
    const target = Math.min(ceiling, Math.max(floor, 3 * p99, 1.5 * longest));
    // Grow at once, shrink slowly: the peer fences itself on the timeout we last told it.
    state.suspectMs = Math.max(target, (state.suspectMs ?? floor) - SHRINK_STEP_MS);
  }
}

/**
 * The `rank`-th largest of `values` (1 = the maximum), as sorting would give it: a pass keeping the
 * `rank` largest seen. The p99 of the gap window is its first or second largest, so this replaces
 * a sort of 200 gaps every 16 heartbeats per peer (most of an idle speaker's membership time).
 */
export function largest(values: readonly number[], rank: number): number {
  if (rank < 1 || rank > values.length) throw new RangeError(`rank ${rank} of ${values.length} values`);
  const top: number[] = []; // descending
  // Indexed, not for-of: the for-of allocated an iterator result per gap here.
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (top.length === rank && v <= top[rank - 1]!) continue;
    let i = Math.min(top.length, rank - 1);
    while (i > 0 && top[i - 1]! < v) i--;
    top.splice(i, 0, v);
    if (top.length > rank) top.pop();
  }
  return top[rank - 1]!;
}
