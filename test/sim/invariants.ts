/**
 * The properties checked after every simulated event, against the ground truth of the world (who
 * can really hear whom, who can really reach the API server), not against any node's belief.
 *
 * 1. settled: from SETTLE_MS after the last fault ends, every IP is answered by exactly one node.
 * 2. fenced: a node without a true quorum (quorum.ts applied to the true links and Leases) for
 *    longer than FENCE_MS answers nothing (FENCE_API_MS when an API tie-break could be in play).
 *    The fast bound that matters for clients is 3: nobody else answers while it has not fenced.
 * 3. single owner: two nodes that both announce an IP as its owner (neither handing over) for
 *    longer than DUAL_MS is a split brain.
 * 4. available: while a node has had a true majority for AVAILABLE_MS, is warmed up, and no loss,
 *    delay or stall is active, no IP stays unanswered longer than AVAILABLE_MS.
 * 5. sticky (sticky ownership only): once no fault has been active for QUIET_MS, an IP never moves
 *    away from an owner that has been up, unfrozen and with a true quorum for its rejoin delay plus
 *    a suspicion window (before that its peers may still count it out): a restored node does not take
 *    it back. (During faults sticky falls back to strict ranking, so moves are allowed then.)
 * 6. overlap: two nodes answering one IP at once (a make-before-break handover included) for longer
 *    than OVERLAP_MS: clients would flap between two MACs (3 s when the successor was heard only
 *    through others, before the former owner stopped waiting for a confirmation it cannot get).
 */
import { decideQuorum } from "../../src/election/quorum.js";
import { votersOf } from "../../src/election/fanout.js";
import { nameHash } from "../../src/election/heartbeat.js";
import { API_FENCE_MS, TIMING } from "./node.js";
import type { World } from "./world.js";

export const SETTLE_MS = 5000;
// A node fences itself within its peers' suspicion timeout of it: 200 ms, adaptive up to 1 s for a
// node whose heartbeats came with gaps (it learns the value from them), plus a tick.
export const FENCE_MS = TIMING.maxSuspectAfterMs + TIMING.heartbeatIntervalMs;
export const FENCE_API_MS = API_FENCE_MS + 3 * TIMING.heartbeatIntervalMs;
// Two owners can overlap only while the old owner has not yet learnt that it lost: normally one
// heartbeat round; when it is being cut off at that very moment, until it fences (FENCE_MS).
export const DUAL_MS = FENCE_MS + TIMING.heartbeatIntervalMs;
export const AVAILABLE_MS = 1800;
// A handover ends when the successor confirms (a round or two) or, heard only through others, after
// a tenth of the handover timeout (300 ms) plus a tick; 5,000 schedules' longest was 415 ms.
export const OVERLAP_MS = 1000;
// Faults end with a restore (a crashed node restarts, a split heals); the restored node is warmed up
// after rejoinAfterMs and would take its IPs back then under strict ranking: quiet well before that.
export const QUIET_MS = 500;
export const CLAIM_MS = 3 * TIMING.heartbeatIntervalMs;

export interface Violation {
  at: number;
  invariant: "settled" | "fenced" | "single-owner" | "available" | "sticky" | "overlap";
  detail: string;
}

export class Invariants {
  readonly violations: Violation[] = [];
  checks = 0;
  overlaps = 0;
  /** The longest time two or more nodes answered one IP at once (make-before-break included). */
  longestOverlapMs = 0;
  private readonly overlapSince = new Map<string, number>();
  private readonly noQuorumSince = new Map<string, number>();
  private readonly majoritySince = new Map<string, number>();
  /** Since when a node has been up, unfrozen and with a true quorum without a break. */
  private readonly steadySince = new Map<string, number>();
  private readonly dualSince = new Map<string, number>();
  private readonly unansweredSince = new Map<string, number>();
  private overlapping = new Set<string>();
  /** The last single owner of each IP. */
  private readonly lastOwner = new Map<string, string>();
  private readonly ownedSince = new Map<string, number>();
  private readonly owners = new Map<string, string[]>();
  /** When the last fault ended (or a fault is active: Infinity). */
  private quietSince = 0;
  moves = 0;
  private truthKey = "";
  private truths = new Map<string, { quorum: boolean; majority: boolean; mayTieBreak: boolean }>();

  /** The electorate: every node, or the voter set of a sparse fan-out (the members never change). */
  private voters: Set<string> | undefined;

  constructor(private readonly world: World) {}

  private fail(invariant: Violation["invariant"], detail: string): void {
    if (this.violations.length < 20) this.violations.push({ at: this.world.now, invariant, detail });
  }

  /** True quorum of a node (and whether it is a plain majority) from the real links and Leases. */
  private truth(node: string): { quorum: boolean; majority: boolean; mayTieBreak: boolean } {
    const w = this.world;
    const n = w.nodes.get(node)!;
    if (!n.up || n.frozen) return { quorum: false, majority: false, mayTieBreak: false };
    const side = new Set([node]);
    for (const peer of n.peers) if (w.linkUp(node, peer) && w.linkUp(peer, node)) side.add(peer);
    const api = w.apiReachable(node);
    const validLease = new Set<string>();
    for (const [name, at] of w.leases) if (w.now - at < TIMING.leaseDurationMs) validLease.add(name);
    if (api) validLease.add(node);
    // With a sparse fan-out the electorate is the voter set (src/election/fanout.ts).
    const voters = (this.voters ??= w.schedule.fanout
      ? votersOf(w.nodes.keys(), w.schedule.fanout.voters, nameHash, new Set(w.schedule.voterPins ?? []))
      : new Set(w.nodes.keys()));
    const votingSide = new Set([...side].filter((n) => voters.has(n)));
    const votingLease = new Set([...validLease].filter((n) => voters.has(n)));
    const members = voters.size;
    const v = decideQuorum({ members, side: votingSide, apiHealthy: api, validLease: votingLease });
    return {
      quorum: v.quorum,
      majority: 2 * votingSide.size > members,
      mayTieBreak: 2 * votingSide.size >= members,
    };
  }

  check(): void {
    const w = this.world;
    const now = w.now;
    this.checks++;
    const calm = now >= w.schedule.faultsEndAt + SETTLE_MS;
    // The truth changes only with faults and Lease writes (and Lease expiry, checked every 10 ms).
    const key = `${w.epoch}/${Math.floor(now / 10)}`;
    if (key !== this.truthKey) {
      this.truthKey = key;
      this.truths = new Map([...w.nodes.keys()].map((name) => [name, this.truth(name)]));
    }
    for (const [name, node] of w.nodes) {
      const t = this.truths.get(name)!;
      since(this.noQuorumSince, name, !t.quorum, now);
      since(this.steadySince, name, t.quorum && node.up && !node.frozen, now);
      since(this.majoritySince, name, t.majority && now - node.startedAt >= TIMING.rejoinAfterMs, now);
      const lost = this.noQuorumSince.get(name);
      const bound = t.mayTieBreak ? FENCE_API_MS : FENCE_MS;
      if (lost !== undefined && now - lost > bound) {
        for (const ip of w.schedule.ips) {
          if (node.answers(ip, now))
            this.fail("fenced", `${name} answers ${ip} without a quorum since ${lost}`);
        }
      }
    }
    if (w.active.size > 0) this.quietSince = Infinity;
    else if (this.quietSince === Infinity) this.quietSince = now;
    const stableMajority = [...this.majoritySince.values()].some((s) => now - s >= AVAILABLE_MS);
    const overlapping = new Set<string>();
    for (const ip of w.schedule.ips) {
      const answering = [...w.nodes.values()].filter((n) => n.answers(ip, now));
      const owners = answering.filter((n) => n.current.get(ip)?.handoverSince === undefined);
      if (calm && answering.length !== 1) {
        this.fail("settled", `${ip} answered by [${answering.map((n) => n.name).join(", ")}]`);
      }
      since(this.dualSince, ip, owners.length > 1, now);
      const dual = this.dualSince.get(ip);
      if (dual !== undefined && now - dual > DUAL_MS) {
        this.fail("single-owner", `${ip} owned by [${owners.map((n) => n.name).join(", ")}] since ${dual}`);
      }
      if (answering.length > 1) overlapping.add(ip);
      since(this.overlapSince, ip, answering.length > 1, now);
      const overlap = this.overlapSince.get(ip);
      if (overlap !== undefined) {
        this.longestOverlapMs = Math.max(this.longestOverlapMs, now - overlap);
        if (now - overlap > OVERLAP_MS) {
          this.fail(
            "overlap",
            `${ip} answered by [${answering.map((n) => n.name).join(", ")}] since ${overlap}`,
          );
        }
      }
      this.checkSticky(
        ip,
        owners.map((n) => n.name),
      );
      since(this.unansweredSince, ip, answering.length === 0 && stableMajority && !w.noisy(), now);
      const gap = this.unansweredSince.get(ip);
      if (gap !== undefined && now - gap > AVAILABLE_MS) {
        this.fail("available", `${ip} unanswered since ${gap} while a node has a stable majority`);
      }
    }
    for (const ip of overlapping) if (!this.overlapping.has(ip)) this.overlaps++;
    this.overlapping = overlapping;
  }

  /** A move of `ip` away from a healthy owner after the faults have been quiet for QUIET_MS. */
  private checkSticky(ip: string, owners: string[]): void {
    const w = this.world;
    const before = this.owners.get(ip) ?? [];
    this.owners.set(ip, owners);
    const previous = this.lastOwner.get(ip);
    // (Re)gaining sole ownership, also after a spell with no owner, restarts the claim's clock.
    if (owners.length === 1 && !(before.length === 1 && before[0] === owners[0])) {
      this.lastOwner.set(ip, owners[0]!);
      this.ownedSince.set(ip, w.now);
    }
    const taker = owners.find((o) => o !== previous && !before.includes(o));
    if (previous === undefined || taker === undefined) return;
    this.moves++;
    const old = w.nodes.get(previous)!;
    // Claims travel in heartbeats: an owner of less than a round or two may not be known yet.
    const known = w.now - (this.ownedSince.get(ip) ?? 0) >= CLAIM_MS;
    // Past its own rejoin: a thawed or healed owner is written off by its peers for a while.
    const steady = this.steadySince.get(previous);
    const healthy =
      steady !== undefined &&
      w.now - steady >= TIMING.rejoinAfterMs + FENCE_MS &&
      w.now - old.startedAt >= TIMING.rejoinAfterMs;
    if (w.schedule.ownership === "sticky" && known && healthy && w.now - this.quietSince >= QUIET_MS) {
      this.fail("sticky", `${taker} took ${ip} from ${previous}, which is up with a quorum`);
    }
  }
}

/** Tracks since when a condition holds (deleted when it stops holding). */
function since(map: Map<string, number>, key: string, holds: boolean, now: number): void {
  if (!holds) map.delete(key);
  else if (!map.has(key)) map.set(key, now);
}
