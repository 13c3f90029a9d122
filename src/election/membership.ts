/**
 * Who is alive and who may own IPs, as one speaker sees it, with mutual liveness. Pure: time (a
 * monotonic clock reading in milliseconds) comes in as arguments, packets come in decoded.
 *
 * - Members are the nodes with a speaker Lease. Heartbeats from anyone else are ignored.
 * - Contact is mutual or nothing: a heartbeat counts only when it echoes one of our own recent
 *   heartbeats (so the sender hears us, and the packet is not a replay: old packets echo old
 *   sequences). The send time of the echoed sequence tells how recently that peer heard us.
 * - A node may own IPs only with a quorum (quorum.ts): mutual contact with a majority of members,
 *   or the API tie-break. A node that loses it withdraws at once, before any peer can have declared
 *   it dead (the confirmation window is shorter than the suspicion timeout), and says so in its
 *   heartbeats so that peers which still hear it take over.
 * - Each heartbeat reports the sender's verdict on every member (direct contact, alive, eligible),
 *   so peers hear of a node through others (one-way or partial loss moves nothing) and a node
 *   learns when a peer has written it off (it then rejoins through the hysteresis).
 */
import { decideQuorum, type QuorumVerdict } from "./quorum.js";
import { PeerTable, type PeerState, type LeaseObservation } from "./peers.js";
import { answerUntil, confirmWindowMs, majorityOf, type Majority } from "./fence.js";
import type { Heartbeat, PeerReport } from "./heartbeat.js";
import { SelfAnnounced } from "./self-announced.js";
import { claimsKnown, type PeerClaimFacts } from "./claims.js";
import { noteNotice, recipients, votersOf, type FanoutConfig, type Recipient } from "./fanout.js";
import { memberReports, reportPager } from "./reports.js";
import type { WakeState } from "./wake.js";

export type { LeaseObservation };

export interface MembershipConfig {
  self: string;
  /** Random per process start, 16 hex digits (see newBootId). */
  boot: string;
  heartbeatIntervalMs: number;
  /** Silence after which a peer is declared dead; the floor of the adaptive timeout. */
  suspectAfterMs: number;
  /** Ceiling of the adaptive timeout (3 × the peer's recent p99 gap, clamped). */
  maxSuspectAfterMs?: number;
  /** Continuous contact needed before a node written off counts again (no flapping). */
  rejoinAfterMs: number;
  /** How long a peer's report of an acquired IP counts (make-before-break). */
  acquiredTtlMs: number;
  /** Sticky ownership: list every IP we answer for (paged), so that peers know our claims (claimsKnown). */
  listOwned?: boolean;
  /**
   * Sparse fan-out (fanout.ts): the quorum is a majority of the voter set, and heartbeats go at the
   * full rate only to the watch set and (while it is not empty) the voters. Absent: all-to-all.
   */
  fanout?: FanoutConfig;
}

export interface MemberView {
  node: string;
  alive: boolean;
  /** Alive, warmed up, with a quorum and not leaving: may own IPs. */
  eligible: boolean;
  leaving: boolean;
  /** IPs the node told us it recently started answering for. */
  announcing: ReadonlySet<string>;
  /** Heard first-hand now (not only through others): its `announcing` is current only then. */
  direct?: boolean;
  /** Carrier per announce interface, first-hand or relayed; undefined when not known (peers.ts). */
  carrier: Readonly<Record<string, boolean>> | undefined;
  reason: string;
}

export interface ClusterView {
  members: Map<string, MemberView>;
  /** This node has no quorum: it must not answer for any IP. */
  isolated: boolean;
  /** Peers with mutual contact within the confirmation window. */
  directPeers: number;
  quorum: QuorumVerdict;
  /**
   * Every alive member knows every other's complete announced set first-hand (claims.ts): the
   * condition for sticky ownership. Absent/false: owners follow strict ranking.
   */
  claimsKnown?: boolean;
}

/** How far the listed IPs advance per round when they do not fit one heartbeat. */
const PAGE_STEP = 32;

export type Observed = "accepted" | "self" | "unknown-sender" | "replayed" | "stale-echo";

export class Membership {
  private readonly table: PeerTable;
  private seq = 0;
  /** Send time of each of our recent sequence numbers (for echoes). */
  private readonly sent = new Map<number, number>();
  private apiHealthy = false;
  private selfLeaving = false;
  private selfReadyAt: number;
  private selfCarrier: Record<string, boolean> = {};
  private readonly selfAnnounced = new SelfAnnounced();
  private quorumLostAt: number | undefined;
  private advertisedNoQuorum = false;
  private stallAllowanceMs = 0;
  private stallAllowanceUntil = 0;
  private lastView: ClusterView | undefined;
  /** Our majority as of the echoes received (answerUntil); undefined: to be recomputed. */
  private majority: Majority | undefined;
  /** Sparse fan-out: whom we watch, this round's recipients, notice owed, report pages sent. */
  private watch: ReadonlySet<string> = new Set();
  private round = new Map<string, Recipient>();
  private readonly owed = new Map<string, number>();
  private readonly reportPages = new Map<string, number>();
  /** This round's reports (reportsFor); dropped whenever what they say may have changed. */
  private pager: { view: ClusterView; now: number; page: (page: number) => PeerReport[] } | undefined;
  private votersCache: { version: number; pins: ReadonlySet<string>; voters: Set<string> } | undefined;
  private pins: ReadonlySet<string> = new Set();

  constructor(
    private readonly config: MembershipConfig,
    startedAt: number,
  ) {
    this.table = new PeerTable({ ...config, slowTimeoutMs: config.fanout?.slowTimeoutMs });
    // Warm-up: hear the peers before claiming anything.
    this.selfReadyAt = startedAt + config.rejoinAfterMs;
  }

  get self(): string {
    return this.config.self;
  }

  /** How old an echoed sequence may be: bounds how long a replayed packet could count (the pump's too). */
  get freshnessMs(): number {
    return Math.max(this.config.suspectAfterMs, this.config.maxSuspectAfterMs ?? 0);
  }

  observeLease(node: string, lease: LeaseObservation | undefined): void {
    this.pager = undefined;
    if (node === this.config.self) return;
    this.table.observeLease(node, lease);
    this.majority = undefined;
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

  /** The IPs we answer for now; newly added ones are reported to peers as acquired for a while. */
  setSelfAnnouncing(ips: ReadonlySet<string>, now: number): void {
    this.selfAnnounced.set(ips, now);
  }

  /** Our event loop was late by lagMs: the silence was ours, give peers that much before judging. */
  noteSelfStall(now: number, lagMs: number): void {
    this.stallAllowanceMs = Math.max(now <= this.stallAllowanceUntil ? this.stallAllowanceMs : 0, lagMs);
    this.stallAllowanceUntil = now + this.config.suspectAfterMs;
  }

  /** What the wake policy (wake.ts) takes its deadlines from; read-only. */
  wakeState(): WakeState {
    const { config, table, selfReadyAt, quorumLostAt, advertisedNoQuorum } = this;
    const selfAnnounced = this.selfAnnounced.times;
    const stallAllowance = { ms: this.stallAllowanceMs, until: this.stallAllowanceUntil };
    return { config, table, selfReadyAt, selfAnnounced, quorumLostAt, advertisedNoQuorum, stallAllowance };
  }

  /**
   * Peers wrote us off (or we lost the quorum), or we just started hearing them (the speaker's
   * first sync can take longer than the warm-up: counted from construction, it was over before
   * any peer had been heard for the rejoin delay, so every speaker of a fresh cluster took every
   * IP): not eligible until the rejoin delay has passed.
   */
  selfStalled(now: number): void {
    this.selfReadyAt = Math.max(this.selfReadyAt, now + this.config.rejoinAfterMs);
  }

  selfReady(now: number): boolean {
    return now >= this.selfReadyAt;
  }

  /** The announcer's fence for the decision of the step at `stepAt` (fence.ts). */
  answerUntil(stepAt: number): number {
    const members = this.table.size + 1;
    this.majority ??= majorityOf(this.config.self, this.table.entries(), this.voters(), members, this.config);
    return answerUntil(stepAt, this.config, this.majority, this.selfReadyAt > stepAt);
  }

  /**
   * Handles one authenticated heartbeat addressed to us. What it keeps of `hb` is its content: the
   * transport later overwrites its sequence, echo and ages in place (`repeatInto`), so those are
   * read here and copied, never read from a kept heartbeat.
   */
  observeHeartbeat(hb: Heartbeat, receivedAt: number): Observed {
    if (hb.from === this.config.self) return "self";
    this.pager = undefined;
    const state = this.table.get(hb.from);
    if (!state) return "unknown-sender";
    this.table.recordEcho(state, hb, receivedAt);
    const sentAt = hb.echo && hb.echo.boot === this.config.boot ? this.sent.get(hb.echo.seq) : undefined;
    if (sentAt === undefined || receivedAt - sentAt > this.freshnessMs) return "stale-echo";
    if (state.boot === hb.boot && hb.seq <= (state.seq ?? 0)) return "replayed";
    // We did not run for a while either (a stall, a freeze not noted yet): a silence is no news.
    const ownGap = receivedAt - (this.sent.get(this.seq) ?? receivedAt);
    const quiet = receivedAt <= this.stallAllowanceUntil || ownGap > 2 * this.config.heartbeatIntervalMs;
    this.table.accept(state, hb, receivedAt, sentAt, quiet);
    this.majority = undefined;
    // Only a peer that could take our IPs (ready, with a quorum) matters when it writes us off.
    const mayTakeOver = hb.ready && hb.quorum && !hb.leaving;
    for (const report of hb.peers) this.observeReport(report, receivedAt, mayTakeOver);
    return "accepted";
  }

  private observeReport(report: PeerReport, receivedAt: number, mayTakeOver: boolean): void {
    const node = this.table.nameOf(report.hash);
    if (node === undefined) return;
    if (node === this.config.self) {
      // A peer that hears us but counts us dead has written us off: rejoin through the hysteresis.
      if (!report.alive && mayTakeOver) this.selfStalled(receivedAt);
      return;
    }
    if (report.direct) this.table.relay(node, receivedAt - report.ageMs, report);
  }

  /** Sparse fan-out: the members we must hear closely (fanout.ts watchSet, from the ranking). */
  setWatch(nodes: ReadonlySet<string>): void {
    this.pager = undefined;
    this.watch = new Set([...nodes].filter((n) => n !== this.config.self && this.table.get(n)));
  }

  /** Nodes pinned as voters (fanout.ts votersOf); a new set object recomputes the voter set. */
  setPinnedVoters(pins: ReadonlySet<string>): void {
    this.pins = pins;
  }

  /** The voter set (sparse fan-out), or undefined when every member votes. */
  voters(): Set<string> | undefined {
    const fanout = this.config.fanout;
    if (!fanout) return undefined;
    if (this.votersCache?.version !== this.table.version || this.votersCache.pins !== this.pins) {
      const members = [this.config.self, ...this.knownPeers()];
      const voters = votersOf(members, fanout.voters, (n) => this.table.hashOf(n), this.pins);
      this.votersCache = { version: this.table.version, pins: this.pins, voters };
    }
    return this.votersCache.voters;
  }

  /**
   * Whom this round's heartbeats go to (after beginRound). All-to-all without a fan-out config;
   * otherwise fanout.ts decides, and every peer that got a fast heartbeat is owed two rounds of
   * notice before it may go unheard.
   */
  roundRecipients(now: number): Recipient[] {
    const fanout = this.config.fanout;
    const peers = [...this.table.entries()];
    if (!fanout) return peers.map(([node]) => ({ node, slow: false, watch: false }));
    const askers = new Set<string>();
    for (const [node, state] of peers)
      if (state.askedAt !== undefined && now - state.askedAt <= fanout.slowTimeoutMs) askers.add(node);
    const list = recipients({
      self: this.config.self,
      peers: peers.map(([node]) => node),
      voters: this.voters()!,
      watch: this.watch,
      askers,
      owed: this.owed,
      round: this.seq,
      slowEveryRounds: fanout.slowEveryRounds,
      phaseOf: (node) => this.table.hashOf(node) % fanout.slowEveryRounds,
    });
    this.round = new Map(list.map((r) => [r.node, r]));
    noteNotice(this.owed, list);
    return list;
  }

  /** The next round of heartbeats: one sequence number, one packet per peer (each with its echo). */
  beginRound(now: number): number {
    this.noteSent(this.seq + 1, now);
    return this.seq;
  }

  /** A round the heartbeat pump (its own numbering) or beginRound sent: echoes of it count from `at`. */
  noteSent(seq: number, at: number): void {
    this.seq = Math.max(this.seq, seq);
    this.sent.set(seq, at);
    for (const [old, sentAt] of this.sent) {
      if (at - sentAt <= this.freshnessMs + this.config.heartbeatIntervalMs) break;
      this.sent.delete(old);
    }
  }

  /** The heartbeat for one peer in the current round, from the latest view. */
  heartbeatFor(peer: string, now: number, acquiredPage = 0): Heartbeat {
    const view = this.lastView ?? this.view(now);
    const state = this.table.get(peer);
    const selfView = view.members.get(this.config.self)!;
    const acquired = this.config.listOwned
      ? this.selfAnnounced.sorted
      : this.selfAnnounced.acquired(now, this.config.acquiredTtlMs);
    // Pages advance by a chunk per round, so a long list comes round well within the receiver's TTL.
    const rotate = acquired.length > 0 ? (acquiredPage * PAGE_STEP) % acquired.length : 0;
    return {
      from: this.config.self,
      boot: this.config.boot,
      seq: Math.max(1, this.seq),
      ...(state?.echoBoot !== undefined ? { echo: { boot: state.echoBoot, seq: state.echoSeq ?? 0 } } : {}),
      timeoutMs: state ? this.table.suspectAfter(state) : this.config.suspectAfterMs,
      leaving: this.selfLeaving,
      ready: this.selfReady(now),
      quorum: !this.advertisedNoQuorum,
      peers: this.reportsFor(peer, view, now),
      ...(this.round.get(peer)?.watch ? { watch: true } : {}),
      ...(this.round.get(peer)?.slow ? { slow: true } : {}),
      announcedCount: this.selfAnnounced.size,
      announcedDigest: this.selfAnnounced.digest,
      acquired: [...acquired.slice(rotate), ...acquired.slice(0, rotate)],
      carrier: { ...selfView.carrier },
    };
  }

  /**
   * The member reports for one peer's heartbeat (reports.ts): built once per round, then a page per
   * heartbeat; with a sparse fan-out each peer's page rotates on, so every member comes round.
   */
  private reportsFor(peer: string, view: ClusterView, now: number): PeerReport[] {
    if (this.pager?.view !== view || this.pager.now !== now) {
      const all = memberReports(this.table, (n) => view.members.get(n)?.alive ?? false, now);
      const hot = new Set<number>();
      for (const [node, state] of this.config.fanout ? this.table.entries() : [])
        if (this.watch.has(node) || state.askedAt !== undefined) hot.add(this.table.hashOf(node));
      this.pager = { view, now, page: reportPager(all, hot) };
    }
    const page = this.config.fanout ? (this.reportPages.get(peer) ?? 0) : 0;
    if (this.config.fanout) this.reportPages.set(peer, page + 1);
    return this.pager.page(page);
  }

  /** When we last heard the node, directly or through a peer. */
  lastHeard(node: string): number | undefined {
    const state = this.table.get(node);
    return state ? this.table.heardAt(state) : undefined;
  }

  suspectAfterFor(node: string): number | undefined {
    const state = this.table.get(node);
    return state ? this.table.suspectAfter(state) : undefined;
  }

  knownPeers(): string[] {
    return [...this.table.entries()].map(([node]) => node);
  }

  /**
   * The side (us and the peers with mutual contact in the window) and the verdict over the
   * electorate: every member, or the voter set with a sparse fan-out (a non-voter counts only the
   * voters it has mutual contact with, not itself).
   */
  private quorum(now: number): { verdict: QuorumVerdict; side: Set<string> } {
    const voters = this.voters();
    const votes = (node: string): boolean => voters === undefined || voters.has(node);
    const side = new Set([this.config.self]);
    const votingSide = new Set(votes(this.config.self) ? [this.config.self] : []);
    const validLease = new Set<string>(this.apiHealthy && votes(this.config.self) ? [this.config.self] : []);
    for (const [node, state] of this.table.entries()) {
      if (state.confirmedAt !== undefined && now - state.confirmedAt <= confirmWindowMs(state, this.config)) {
        side.add(node);
        if (votes(node)) votingSide.add(node);
      }
      if (votes(node) && state.lease && now - state.lease.observedRenewAt < state.lease.durationMs)
        validLease.add(node);
    }
    const members = voters?.size ?? this.table.size + 1;
    const input = { members, side: votingSide, apiHealthy: this.apiHealthy, validLease };
    return { verdict: decideQuorum(input), side };
  }

  /** Tracks quorum loss: withdraw at once, tell peers after a grace (short hiccups move nothing). */
  private trackQuorum(verdict: QuorumVerdict, now: number): void {
    if (verdict.quorum) {
      // Peers may have taken over while we said we had no quorum: come back through the hysteresis.
      if (this.advertisedNoQuorum) this.selfStalled(now);
      this.quorumLostAt = undefined;
      this.advertisedNoQuorum = false;
      return;
    }
    this.quorumLostAt ??= now;
    if (now - this.quorumLostAt >= 2 * this.config.heartbeatIntervalMs) this.advertisedNoQuorum = true;
  }

  /**
   * Moves membership on to `now` — quorum-loss hysteresis, each peer's declared-dead latch — and
   * returns the view it settles on (also what heartbeats report until the next call). Once per tick.
   */
  advance(now: number): ClusterView {
    this.trackQuorum(this.quorum(now).verdict, now);
    const view = this.view(now);
    for (const [node, state] of this.table.entries()) {
      if (view.members.get(node)?.alive) state.aliveLatch = true;
      else {
        // Sparse fan-out: alive by Lease until the voters' reports arrive is no contact to lose.
        const heard = !this.config.fanout || this.table.heardAt(state) !== undefined;
        if (state.aliveLatch && heard) state.wasDeclaredDead = true;
        state.aliveLatch = false;
      }
    }
    this.lastView = view;
    return view;
  }

  /** The cluster as of `now`, from the state the last advance() left: a query, it changes nothing. */
  view(now: number): ClusterView {
    const { verdict, side } = this.quorum(now);
    const members = new Map<string, MemberView>();
    members.set(this.config.self, {
      node: this.config.self,
      alive: verdict.quorum,
      eligible: verdict.quorum && !this.selfLeaving && this.selfReady(now),
      leaving: this.selfLeaving,
      announcing: this.selfAnnounced.ips(),
      carrier: this.selfCarrier,
      reason: verdict.quorum ? `self (${verdict.rule})` : `no quorum: ${verdict.why}`,
    });
    const allowance = now <= this.stallAllowanceUntil ? this.stallAllowanceMs : 0;
    const directPeers = side.size - 1;
    const anyDirect = [...this.table.entries()].some(([, s]) => this.table.directFresh(s, now));
    for (const [node, state] of this.table.entries()) {
      members.set(node, this.peerView(node, state, now, allowance, anyDirect));
    }
    const view: ClusterView = { members, isolated: !verdict.quorum, directPeers, quorum: verdict };
    if (this.config.listOwned) view.claimsKnown = this.allClaimsKnown(members, now);
    return view;
  }

  private allClaimsKnown(members: ReadonlyMap<string, MemberView>, now: number): boolean {
    const alive = [...members.values()].filter((m) => m.alive).map((m) => m.node);
    const facts: PeerClaimFacts[] = [];
    for (const node of alive) {
      const state = node === this.config.self ? undefined : this.table.get(node);
      if (!state) continue;
      const hears = new Set<number>();
      for (const p of state.last?.peers ?? []) if (p.direct) hears.add(p.hash);
      facts.push({
        hash: this.table.hashOf(node),
        direct: this.table.directFresh(state, now),
        complete: this.table.announcedKnown(state, now),
        hears,
      });
    }
    return claimsKnown(
      alive.map((n) => this.table.hashOf(n)),
      facts,
    );
  }

  private peerView(
    node: string,
    state: PeerState,
    now: number,
    allowance: number,
    anyDirect: boolean,
  ): MemberView {
    const { rejoinAfterMs } = this.config;
    const heardAt = this.table.heardAt(state) ?? -Infinity;
    const fresh = now - heardAt <= this.table.suspectAfter(state) + allowance;
    let alive = false;
    let reason: string;
    if (fresh) {
      // Sparse fan-out: most members are heard only through the voters' reports.
      const since = this.config.fanout ? state.heardSince : state.contactSince;
      const streak = since === undefined ? 0 : now - since;
      if (state.wasDeclaredDead && !state.aliveLatch && streak < rejoinAfterMs) {
        reason = `rejoining: heard for ${streak} ms of ${rejoinAfterMs} ms`;
      } else {
        alive = true;
        reason = state.lastDirect === heardAt ? "heartbeat" : "heartbeat via peer";
      }
    } else if (anyDirect) {
      reason = `no heartbeat for ${Number.isFinite(heardAt) ? now - heardAt : "ever"} ms while peers are heard`;
    } else if (this.apiHealthy && state.lease && now - state.lease.observedRenewAt < state.lease.durationMs) {
      // Alive by Lease only: it cannot be shown eligible (no fresh word from it), so it owns nothing here.
      alive = true;
      reason = "lease valid (no peer heard)";
    } else {
      reason = "no heartbeat and no valid lease";
    }
    const flags = this.table.flags(state, now);
    return {
      node,
      alive,
      eligible: alive && flags.eligible,
      leaving: flags.leaving,
      announcing: alive ? this.table.acquired(state, now) : new Set(),
      direct: this.table.directFresh(state, now),
      carrier: this.table.carrier(state),
      reason,
    };
  }
}
