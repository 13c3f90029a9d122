/**
 * Sparse heartbeat fan-out: who gets a heartbeat this round, and how often. Pure: members, the
 * ranking's watch set and the round number come in, a list of recipients goes out.
 *
 * All-to-all costs N−1 datagrams per node per interval. Only two kinds of contact need the fast
 * rate: an owner with the nodes that would take over from it (its neighbours in the ranking, the
 * *watch set*), and every such "hot" node with the **voters** V (the few members with the lowest
 * name hash), because quorum is a majority of V in this mode. Everyone else exchanges slow
 * heartbeats with V only, and learns of the other members from V's reports. Per node and round:
 * a hot node sends |V| + |watch| packets, a cold one |V| every `slowEveryRounds` rounds; a voter
 * additionally sends every member one packet per `slowEveryRounds` rounds.
 */
import { rankNodes } from "./ranking.js";

export interface FanoutConfig {
  /** Size of the voter set V (odd: 3 or 5). */
  voters: number;
  /** Cold contacts get one heartbeat per this many rounds (5 at 40 ms: 200 ms). */
  slowEveryRounds: number;
  /**
   * How long a member may go unheard when nobody promised to watch it closely (cold or known only
   * through reports). Longer than the gap between slow heartbeats and between report pages.
   */
  slowTimeoutMs: number;
  /** Neighbours watched on each side of us in an IP's ranking (1: owner ↔ successor). */
  watchDepth: number;
}

export const DEFAULT_FANOUT: FanoutConfig = {
  voters: 5,
  slowEveryRounds: 5,
  slowTimeoutMs: 3000,
  watchDepth: 2,
};

/**
 * The voter set: the `size` members with the lowest name hash (ties by name), pinned members
 * first (an operator's choice, the speaker's node label `floatip.io/heartbeat-voter=true`): pins
 * take the seats in hash order, seats left go to the lowest hashes as without pins. Pins name
 * members only (a pinned node without a speaker Lease is no member). Every node computes the same
 * set from the same members (the speaker Leases) and pins (the Node labels).
 */
export function votersOf(
  members: Iterable<string>,
  size: number,
  hashOf: (node: string) => number,
  pinned: ReadonlySet<string> = new Set(),
): Set<string> {
  const rank = (n: string) => (pinned.has(n) ? 0 : 1);
  const sorted = [...new Set(members)].sort(
    (a, b) => rank(a) - rank(b) || hashOf(a) - hashOf(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
  return new Set(sorted.slice(0, Math.max(1, size)));
}

/**
 * The members this node must hear (and be heard by) at the fast rate, from the ranking of each IP
 * among its eligible candidates: the `depth` nodes above us (we would take over from them) and the
 * `depth` below us (they would take over from us). For an IP we still answer for (`held`) also the
 * top of its ranking: a handover waits for the new owner's word, which must reach us directly.
 * Empty when we hold nothing and are no candidate near the top: then nothing we do or suffer moves
 * an IP at once.
 */
export function watchSet(
  self: string,
  candidatesByIp: Iterable<readonly [ip: string, candidates: readonly string[]]>,
  depth: number,
  held: ReadonlySet<string> = new Set(),
): Set<string> {
  const out = new Set<string>();
  for (const [ip, candidates] of candidatesByIp) {
    if (!candidates.includes(self)) continue;
    const ranked = rankNodes(candidates, ip);
    const at = ranked.indexOf(self);
    if (held.has(ip)) for (const node of ranked.slice(0, depth)) if (node !== self) out.add(node);
    // Only the top of the ranking matters: below depth + 1 we take over only after others do.
    if (at > depth) continue;
    for (let i = Math.max(0, at - depth); i <= Math.min(ranked.length - 1, at + depth); i++) {
      if (i !== at) out.add(ranked[i]!);
    }
  }
  return out;
}

export interface RecipientsInput {
  self: string;
  peers: Iterable<string>;
  voters: ReadonlySet<string>;
  /** Our watch set (see watchSet). */
  watch: ReadonlySet<string>;
  /** Peers whose latest heartbeat asked us for the fast rate. */
  askers: ReadonlySet<string>;
  /** Peers we sent a fast heartbeat to last round, with the rounds of notice still owed. */
  owed: ReadonlyMap<string, number>;
  round: number;
  slowEveryRounds: number;
  /** Spreads slow heartbeats over the rounds (a stable per-peer number). */
  phaseOf: (node: string) => number;
}

export interface Recipient {
  node: string;
  /** The next heartbeat to this peer may take slowEveryRounds rounds: judge us by the slow timeout. */
  slow: boolean;
  /** We ask this peer for the fast rate (it is in our watch set, or a voter while we are hot). */
  watch: boolean;
}

/**
 * This round's recipients. Fast: our watch set, the voters while we are hot, and whoever asked.
 * Slow (once per slowEveryRounds): voters to every member, every member to the voters. A peer that
 * got a fast heartbeat is owed notice: a slow-flagged one in each of the next rounds until the
 * notice is served, so it never mistakes the change of rate for our death.
 */
export function recipients(input: RecipientsInput): Recipient[] {
  const { self, voters, watch, askers, owed, round, slowEveryRounds, phaseOf } = input;
  const hot = watch.size > 0;
  const selfVoter = voters.has(self);
  const out: Recipient[] = [];
  for (const node of input.peers) {
    const wanted = watch.has(node) || (hot && voters.has(node));
    if (wanted || askers.has(node)) {
      out.push({ node, slow: false, watch: wanted });
      continue;
    }
    const slowTurn = (round + phaseOf(node)) % slowEveryRounds === 0;
    if ((owed.get(node) ?? 0) > 0 || (slowTurn && (selfVoter || voters.has(node)))) {
      out.push({ node, slow: true, watch: false });
    }
  }
  return out;
}

/** After a round: a fast heartbeat owes two rounds of notice; each slow one serves one. */
export function noteNotice(owed: Map<string, number>, sent: readonly Recipient[]): void {
  for (const r of sent) {
    if (!r.slow) owed.set(r.node, 2);
    else if (owed.has(r.node)) {
      const left = owed.get(r.node)! - 1;
      if (left > 0) owed.set(r.node, left);
      else owed.delete(r.node);
    }
  }
}
