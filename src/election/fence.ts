/**
 * How long mutual contact counts, and how long a speaker may go on answering between two steps.
 * Pure: the caller passes the confirmations and the timeouts its peers told it.
 *
 * Both rest on one promise: a peer declares us dead only after its suspicion timeout for us (which
 * it tells us in every heartbeat) without hearing us. We stop counting a peer, and stop answering,
 * before that can happen.
 */
import { SHRINK_STEP_MS } from "./peers.js";

/** What is known of a peer's confirmation (peers.ts PeerState). */
export interface Confirmation {
  /** Send time of the latest of our heartbeats the peer had heard. */
  confirmedAt?: number;
  /** The peer's suspicion timeout for us, as it last told us. */
  timeoutForUs?: number;
}

export interface FenceTiming {
  heartbeatIntervalMs: number;
  suspectAfterMs: number;
  maxSuspectAfterMs?: number;
}

/**
 * How recent mutual contact with a peer must be to count for the quorum: the timeout that peer
 * applies to us (it tells us; never below our floor, never above the ceiling) minus two intervals
 * (our tick and its jitter) and the most it may have shrunk since, so we withdraw before it can
 * declare us dead.
 */
export function confirmWindowMs(peer: Confirmation, timing: FenceTiming): number {
  const { heartbeatIntervalMs, suspectAfterMs, maxSuspectAfterMs } = timing;
  const told = Math.min(
    Math.max(peer.timeoutForUs ?? suspectAfterMs, suspectAfterMs),
    maxSuspectAfterMs ?? suspectAfterMs,
  );
  return Math.max(heartbeatIntervalMs, told - 2 * heartbeatIntervalMs - SHRINK_STEP_MS);
}

/** Our majority as of the echoes received: when it lapses, and since when a majority heard us. */
export interface Majority {
  /** The end of the confirmation window of the peer that completes it (-Infinity: no majority). */
  until: number;
  /** The latest send time of ours that a majority had heard (the links were up then). */
  heardAt: number;
}

/**
 * When our majority lapses if no further echo arrives: the end of the confirmation window of the
 * peer that completes it. The electorate is every member, or `voters` (sparse fan-out). -Infinity
 * when we are no majority or need no peer.
 */
export function majorityOf(
  self: string,
  peers: Iterable<[string, Confirmation]>,
  voters: ReadonlySet<string> | undefined,
  members: number,
  timing: FenceTiming,
): Majority {
  const votes = (node: string): boolean => voters === undefined || voters.has(node);
  const needed = Math.floor((voters?.size ?? members) / 2) + 1 - (votes(self) ? 1 : 0);
  const ends: number[] = [];
  const heard: number[] = [];
  for (const [node, p] of peers) {
    if (!votes(node) || p.confirmedAt === undefined) continue;
    ends.push(p.confirmedAt + confirmWindowMs(p, timing));
    heard.push(p.confirmedAt);
  }
  if (needed <= 0 || ends.length < needed) return { until: -Infinity, heardAt: -Infinity };
  const kth = (xs: number[]) => xs.sort((a, b) => b - a)[needed - 1]!;
  return { until: kth(ends), heardAt: kth(heard) };
}

/**
 * The announcer's fence: until when a speaker may go on answering on the decision of its step at
 * `stepAt` if no later step decides otherwise. A suspicion floor past the step, as ever (once this
 * round's heartbeats arrive, nobody can declare us dead sooner), or, when later, until our majority
 * lapses given the echoes received since: the moment a step would find no quorum. So a node whose
 * ticks come late (a starved event loop) answers between them as long as its peers count it, not
 * just a floor past each tick. Not extended once a peer wrote us off after the step (`writtenOff`:
 * it may be taking our IPs). And the floor never reaches past the longest timeout (the ceiling, at
 * least two floors) after a majority last heard us: should this round's heartbeats be lost, a step
 * late in a long window would otherwise answer a floor beyond it.
 */
export function answerUntil(
  stepAt: number,
  timing: FenceTiming,
  majority: Majority,
  writtenOff: boolean,
): number {
  const floor = stepAt + timing.suspectAfterMs;
  // Without a majority at the step (an API tie-break, say) the floor, as before.
  if (writtenOff || majority.until < stepAt) return floor;
  const longest = Math.max(timing.maxSuspectAfterMs ?? 0, 2 * timing.suspectAfterMs);
  return Math.max(majority.until, Math.min(floor, majority.heardAt + longest));
}
