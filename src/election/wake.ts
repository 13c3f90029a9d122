/**
 * When JavaScript must step again, now that the heartbeat pump (pump.ts, the native thread) sends and
 * receives every round: the arm() parameters after a step. Pure. The view of a member can only
 * change on new input (the pump wakes on changed content) or at a moment the state already knows:
 * those moments are the triggers. Missing one would leave a decision stale until the backstop.
 */
import { confirmWindowMs } from "./fence.js";
import type { ClusterView, MembershipConfig } from "./membership.js";
import type { PeerTable } from "./peers.js";
import type { Arm, PeerTrigger } from "./pump.js";

/** A step at least this often, whatever happens (and what the watchdog counts on). */
export const BACKSTOP_MS = 1000;
/**
 * The pump stops sending after this long without a step: JavaScript is hung. Twice the backstop, so
 * a step late by up to a backstop (a starved event loop) never trips it (test/sim/stall.test.ts).
 */
export const WATCHDOG_MS = 2 * BACKSTOP_MS;
/** Wake just after a boundary: views turn on strict comparisons (now - t > limit). */
const PAST = 1;

/** What the wake policy reads of Membership (Membership.wakeState()); never written. */
export interface WakeState {
  config: MembershipConfig;
  table: PeerTable;
  selfReadyAt: number;
  /** Our IPs, with when we started answering each (listed as acquired for acquiredTtlMs). */
  selfAnnounced: ReadonlyMap<string, number>;
  quorumLostAt: number | undefined;
  advertisedNoQuorum: boolean;
  stallAllowance: { ms: number; until: number };
}

export interface WakeInput {
  now: number;
  /** The view the step planned with (Membership.advance). */
  view: ClusterView;
  /** What we answer for, with the start of each handover (the planner's `current`). */
  held: ReadonlyMap<string, { handoverSince?: number }>;
  handoverTimeoutMs: number;
  /** The handover to a successor heard only through others (plan.ts unconfirmableGraceMs). */
  unconfirmableGraceMs: number;
  /** A template does not carry everything (a page of the acquired list): rotate every round. */
  paged?: boolean;
  /** The caller's own deadlines: its API fence, the end of a graceful leave, ... */
  deadlines?: Iterable<number>;
}

/** The arm() parameters after the step at `input.now`. */
export function wakePolicy(state: WakeState, input: WakeInput): Arm {
  const { now } = input;
  let wakeAt = now + BACKSTOP_MS;
  const at = (t: number | undefined) => {
    if (t !== undefined && t > now && t < wakeAt) wakeAt = t;
  };
  const peers: PeerTrigger[] = [];
  const allowance = now <= state.stallAllowance.until ? state.stallAllowance.ms : 0;
  for (const [name, s] of state.table.entries())
    peers.push(peerTrigger(state, input, name, s, allowance, at));
  selfDeadlines(state, now, allowance, at);
  for (const h of input.held.values()) {
    if (h.handoverSince === undefined) continue;
    at(h.handoverSince + input.unconfirmableGraceMs);
    at(h.handoverSince + input.handoverTimeoutMs);
  }
  // Without a majority (the API tie-break) the answer fence is a floor past the step (fence.ts):
  // step again before it ends, or the IPs go unanswered until the next wake.
  const { view } = input;
  if (view.quorum.quorum && view.quorum.rule !== "majority" && input.held.size > 0)
    at(now + state.config.suspectAfterMs - state.config.heartbeatIntervalMs);
  for (const t of input.deadlines ?? []) at(t);
  if (input.paged) at(now + state.config.heartbeatIntervalMs);
  return { wakeAt, peers };
}

type PeerState = NonNullable<ReturnType<PeerTable["get"]>>;

/**
 * One peer: its silence (while heard directly) and lapsing confirmation are the pump's triggers; a
 * peer not heard directly, or not in our quorum side, wakes us when it is accepted again. The rest
 * are deadlines: relayed freshness and flags, a rejoin streak completing, a Lease expiring, a
 * reported acquired IP's TTL.
 */
function peerTrigger(
  state: WakeState,
  input: WakeInput,
  name: string,
  s: PeerState,
  allowance: number,
  at: (t: number | undefined) => void,
): PeerTrigger {
  const { table, config } = state;
  const { now } = input;
  const suspect = table.suspectAfter(s);
  const direct = table.directFresh(s, now);
  const window = confirmWindowMs(s, config);
  const inSide = s.confirmedAt !== undefined && now - s.confirmedAt <= window;
  const trigger: PeerTrigger = { name };
  if (direct) trigger.silenceMs = suspect + PAST;
  if (inSide) trigger.confirmMs = window + PAST;
  if (!direct || !inSide) trigger.wakeOnAccept = true;
  const heardAt = table.heardAt(s);
  const fresh = heardAt !== undefined && now - heardAt <= suspect + allowance;
  // While heard directly the silence trigger comes first; relays only matter without it.
  if (!direct && fresh) at(heardAt! + suspect + allowance + PAST);
  if (!direct && s.relayed && now - s.relayed.at <= suspect) at(s.relayed.at + suspect + PAST);
  if (fresh && s.wasDeclaredDead && !s.aliveLatch) {
    const since = config.fanout ? s.heardSince : s.contactSince;
    if (since !== undefined) at(since + config.rejoinAfterMs);
  }
  if (s.lease) at(s.lease.observedRenewAt + s.lease.durationMs);
  for (const t of s.acquired.values()) at(t + config.acquiredTtlMs + PAST);
  return trigger;
}

/** Our own: warm-up or rejoin ends, the stall allowance ends, the no-quorum grace, acquired IPs age out. */
function selfDeadlines(
  state: WakeState,
  now: number,
  allowance: number,
  at: (t: number | undefined) => void,
): void {
  const { config } = state;
  at(state.selfReadyAt);
  if (allowance > 0) at(state.stallAllowance.until + PAST);
  if (state.quorumLostAt !== undefined && !state.advertisedNoQuorum)
    at(state.quorumLostAt + 2 * config.heartbeatIntervalMs);
  if (!config.listOwned) for (const t of state.selfAnnounced.values()) at(t + config.acquiredTtlMs + PAST);
}
