/**
 * May this node own IPs at all? Pure: the caller counts who hears whom and what the API server says.
 *
 * A node's side is itself plus the peers with which it has mutual contact (each has heard the
 * other recently, proven by an echo). Two rules, either suffices:
 * - **Majority**: the side holds more than half of all members (every node with a speaker Lease).
 *   Two disjoint sides cannot both be majorities, and any two majorities share a node, through which
 *   each hears of the other's members, so all majority nodes agree on who is alive.
 * - **API tie-break**, only while this node's own Lease renewals succeed: the side holds at least
 *   half of all members, and among the members whose Lease is still valid it holds a majority or
 *   exactly half including the smallest node name. This is what lets a 2-node cluster fail over
 *   (the API server is the third voter) and resolves an even split. A member counts as expired only
 *   while we can renew our own Lease, and a node stops claiming this rule before its own Lease can
 *   look expired to others (it fences on its own last successful renewal).
 */

export interface QuorumInput {
  /** Every member, this node included (nodes with a speaker Lease). */
  members: number;
  /** This node plus the peers it has mutual contact with. */
  side: ReadonlySet<string>;
  /** This node's own Lease was renewed recently enough that no peer can see it as expired. */
  apiHealthy: boolean;
  /** Members whose Lease is valid as this node observes it (itself included when apiHealthy). */
  validLease: ReadonlySet<string>;
}

export type QuorumVerdict =
  { quorum: true; rule: "majority" | "api-tie-break" } | { quorum: false; why: string };

export function decideQuorum(input: QuorumInput): QuorumVerdict {
  const { members, side, apiHealthy, validLease } = input;
  if (2 * side.size > members) return { quorum: true, rule: "majority" };
  if (!apiHealthy)
    return { quorum: false, why: `hears ${side.size - 1} of ${members - 1} peers, API server unreachable` };
  if (2 * side.size < members)
    return { quorum: false, why: `hears ${side.size - 1} of ${members - 1} peers` };
  let inSide = 0;
  let smallest: string | undefined;
  for (const node of validLease) {
    if (side.has(node)) inSide++;
    if (smallest === undefined || node < smallest) smallest = node;
  }
  if (2 * inSide > validLease.size) return { quorum: true, rule: "api-tie-break" };
  if (2 * inSide === validLease.size && smallest !== undefined && side.has(smallest)) {
    return { quorum: true, rule: "api-tie-break" };
  }
  return {
    quorum: false,
    why: `even split without the tie-break (${inSide} of ${validLease.size} live Leases)`,
  };
}
