/**
 * Sticky ownership needs every speaker to agree on who answers for each IP without voting. They do
 * when each knows the others' claims first-hand: every alive member hears every other directly
 * (each heartbeat says whom its sender hears directly) and each one's announced set is known
 * completely (the heartbeat lists it; the count tells when all pages are in). Then all of them see
 * the same claimants and pick the same owner. When this does not hold (a partial partition, a node
 * known only through others, a set too large to page in time) every speaker falls back to strict
 * ranking, which needs no claims: the same rule everywhere, so still one owner. Pure.
 */

/** What we know about one alive peer's claims. */
export interface PeerClaimFacts {
  /** nameHash of the peer. */
  hash: number;
  /** We have fresh mutual contact with it (its own heartbeats reach us). */
  direct: boolean;
  /** We hold its whole announced set (count matches, all from the current set's pages). */
  complete: boolean;
  /** Name hashes of the members it reports direct contact with, in its latest heartbeat. */
  hears: ReadonlySet<number>;
}

/**
 * Whether every alive member's claims are known first-hand by every alive member, as far as this
 * node can tell: we hear each alive peer directly with its complete set, and each reports direct
 * contact with every other alive member (ourselves included).
 */
export function claimsKnown(aliveHashes: readonly number[], peers: readonly PeerClaimFacts[]): boolean {
  for (const peer of peers) {
    if (!peer.direct || !peer.complete) return false;
    for (const h of aliveHashes) if (h !== peer.hash && !peer.hears.has(h)) return false;
  }
  return true;
}
