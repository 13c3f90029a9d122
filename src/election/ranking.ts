import { createHash } from "node:crypto";

/**
 * MetalLB-compatible owner choice: every speaker ranks the candidate nodes for an IP by
 * sha256(nodeName + "#" + ip) and the lowest hash wins, so all speakers agree without talking.
 */
export function rankNodes(nodes: Iterable<string>, ip: string): string[] {
  const keyed = [...new Set(nodes)].map((node) => ({ node, key: nodeKey(node, ip) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.node < b.node ? -1 : 1));
  return keyed.map((k) => k.node);
}

/**
 * Keys never change and a re-plan asks for every (node, IP) pair again, so they are remembered
 * (bounded), per IP then per node: no string is built to look one up.
 */
const keys = new Map<string, Map<string, string>>();
let cachedKeys = 0;
const MAX_CACHED_KEYS = 200_000;

export function nodeKey(node: string, ip: string): string {
  let byNode = keys.get(ip);
  let key = byNode?.get(node);
  if (key !== undefined) return key;
  if (cachedKeys >= MAX_CACHED_KEYS) {
    keys.clear();
    cachedKeys = 0;
    byNode = undefined;
  }
  if (!byNode) keys.set(ip, (byNode = new Map()));
  key = createHash("sha256").update(`${node}#${ip}`).digest("hex");
  byNode.set(node, key);
  cachedKeys++;
  return key;
}

/**
 * The owner of `ip` among `candidates`, or undefined when none is eligible. With `scores`
 * (L2Advertisement preferredNodeSelectors, MetalLB v0.16) the highest score wins and the hash only
 * breaks ties, so a preferred node owns the IP whenever it is a candidate; missing = 0.
 */
export function ownerOf(
  candidates: Iterable<string>,
  ip: string,
  scores?: ReadonlyMap<string, number>,
): string | undefined {
  let best: { node: string; key: string; score: number } | undefined;
  for (const node of candidates) {
    const key = nodeKey(node, ip);
    const score = scores?.get(node) ?? 0;
    const better =
      !best ||
      score > best.score ||
      (score === best.score && (key < best.key || (key === best.key && node < best.node)));
    if (better) best = { node, key, score };
  }
  return best?.node;
}

/**
 * How an IP's owner is chosen among its candidates.
 * - `strict` (MetalLB): the ranking winner, always; a restored node takes its IPs back.
 * - `sticky`: the candidate already answering for the IP keeps it while it stays a candidate (alive,
 *   eligible, selected); two claimants → the ranking breaks the tie; none → the ranking winner.
 */
export type OwnershipMode = "sticky" | "strict";
export const OWNERSHIP_MODES: readonly OwnershipMode[] = ["sticky", "strict"];

/**
 * The sticky owner of `ip`. `claims(node)` says whether the node answers for the IP now (as itself
 * or its heartbeats say). preferredNodeSelectors outrank stickiness: a claimant keeps the IP only
 * if no candidate has a higher preference score than it.
 */
export function stickyOwnerOf(
  candidates: Iterable<string>,
  ip: string,
  claims: (node: string) => boolean,
  scores?: ReadonlyMap<string, number>,
): string | undefined {
  const list = [...candidates];
  let top = -Infinity;
  for (const node of list) top = Math.max(top, scores?.get(node) ?? 0);
  const claimants = list.filter((node) => (scores?.get(node) ?? 0) === top && claims(node));
  return ownerOf(claimants.length > 0 ? claimants : list, ip, scores);
}
