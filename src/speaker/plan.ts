/**
 * Which IPs this speaker answers for, and why. Pure: every speaker runs the same function on the
 * same inputs (Kubernetes objects plus the gossiped member view) and so agrees on one owner per IP.
 */
import type { ClusterView } from "../election/membership.js";
import { ownerOf, stickyOwnerOf, type OwnershipMode } from "../election/ranking.js";
import type { WithdrawReason } from "./withdraw.js";

export const EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers";

export interface PlanNode {
  labels: Readonly<Record<string, string>>;
  networkUnavailable: boolean;
  unschedulable: boolean;
}

/** An L2Advertisement already resolved against pools: which pools, which nodes, which interfaces. */
export interface PlanAdvertisement {
  name: string;
  selectsPool(pool: string): boolean;
  selectsNode(labels: Readonly<Record<string, string>>): boolean;
  /** Empty = every eligible interface of the node. */
  interfaces: readonly string[];
  /** serviceSelectors (MetalLB v0.16): absent = every Service of the selected pools. */
  selectsService?(labels: Readonly<Record<string, string>>): boolean;
  hasServiceSelectors?: boolean;
  /** Sum of the preferredNodeSelectors weights matching a node (0 = no preference). */
  preferredWeight?(labels: Readonly<Record<string, string>>): number;
}

export interface PlanService {
  key: string;
  ips: readonly string[];
  pool: string;
  externalTrafficPolicy: "Cluster" | "Local";
  /** At least one ready (or serving) endpoint anywhere. */
  hasReadyEndpoint: boolean;
  /** Nodes with a local ready endpoint (used for ETP Local). */
  readyEndpointNodes: ReadonlySet<string>;
  /** Service labels, for advertisement serviceSelectors. */
  labels?: Readonly<Record<string, string>>;
  /** Carries allow-shared-ip (either prefix): not announced through serviceSelectors advertisements. */
  sharesIP?: boolean;
}

export interface PlanOptions {
  /** Cordoned nodes stop being candidates (moves the IP off a node before `kubectl drain` finishes). */
  excludeCordoned: boolean;
  /** How long a former owner keeps answering while waiting for its successor to confirm. */
  handoverTimeoutMs: number;
  /**
   * The same when the successor is heard only through others (it cannot confirm); default a tenth
   * of the handover timeout (300 ms: several heartbeat rounds).
   */
  unconfirmableGraceMs?: number;
  /**
   * `sticky`: an IP stays with the node answering for it while that node is a candidate; applied
   * only while the view says every speaker knows every other's claims (`claimsKnown`), else strict.
   * Default `strict` (MetalLB's ranking).
   */
  ownership?: OwnershipMode;
}

export interface PlanInput {
  self: string;
  now: number;
  view: ClusterView;
  nodes: ReadonlyMap<string, PlanNode>;
  advertisements: readonly PlanAdvertisement[];
  services: readonly PlanService[];
  /** IPs we answer for right now, with when we stopped being their owner (handover start), if so. */
  current: ReadonlyMap<string, { handoverSince?: number }>;
  options: PlanOptions;
}

export type IpAction =
  | { kind: "announce"; interfaces: string[] }
  | { kind: "handover"; to: string | undefined; interfaces: string[] }
  | { kind: "withdraw"; reason: WithdrawReason }
  | { kind: "none" };

export interface IpPlan {
  ip: string;
  service: string;
  pool: string;
  owner: string | undefined;
  candidates: string[];
  /** preferredNodeSelectors scores the owner was chosen with (forward.ts ranks a previous owner by them). */
  scores?: ReadonlyMap<string, number>;
  action: IpAction;
  /** Why nodes were left out (node → reason), for logs and `floatip verify`. */
  excluded: Record<string, string>;
}

/** The advertisements that apply to a Service: its pool's, narrowed by their serviceSelectors. */
export function advertisementsFor(
  ads: readonly PlanAdvertisement[],
  svc: Pick<PlanService, "pool" | "labels">,
): PlanAdvertisement[] {
  return ads.filter((ad) => ad.selectsPool(svc.pool) && (ad.selectsService?.(svc.labels ?? {}) ?? true));
}

/**
 * preferredNodeSelectors weights per node, summed over the Service's advertisements; a preference
 * counts only on nodes that advertisement's nodeSelectors allow. Undefined when nobody has a weight.
 */
export function preferenceScores(
  ads: readonly PlanAdvertisement[],
  nodes: ReadonlyMap<string, PlanNode>,
): Map<string, number> | undefined {
  const scores = new Map<string, number>();
  for (const [name, node] of nodes) {
    let total = 0;
    for (const ad of ads) if (ad.selectsNode(node.labels)) total += ad.preferredWeight?.(node.labels) ?? 0;
    if (total > 0) scores.set(name, total);
  }
  return scores.size > 0 ? scores : undefined;
}

/** The announce interfaces a node would use, or undefined when none of `ads` (the Service's) covers it. */
function advertisedInterfaces(
  ads: readonly PlanAdvertisement[],
  labels: Readonly<Record<string, string>>,
): { all: boolean; names: Set<string> } | undefined {
  let found = false;
  let all = false;
  const names = new Set<string>();
  for (const ad of ads) {
    if (!ad.selectsNode(labels)) continue;
    found = true;
    if (ad.interfaces.length === 0) all = true;
    for (const name of ad.interfaces) names.add(name);
  }
  return found ? { all, names } : undefined;
}

/** Interfaces with carrier among those the advertisements allow on a node. */
function usableInterfaces(
  allowed: { all: boolean; names: Set<string> },
  carrier: Readonly<Record<string, boolean>>,
): string[] {
  const up = Object.keys(carrier).filter((name) => carrier[name] === true);
  return (allowed.all ? up : up.filter((name) => allowed.names.has(name))).sort();
}

/**
 * The interfaces this node may have to answer on: those the advertisements that select it allow,
 * with carrier. The announcer keeps a port open on each (Announcer.standBy), so that a takeover
 * does not wait for the kernel to open one.
 */
export function standbyInterfaces(
  ads: readonly PlanAdvertisement[],
  node: PlanNode | undefined,
  carrier: Readonly<Record<string, boolean>>,
): string[] {
  if (!node || EXCLUDE_LB_LABEL in node.labels) return [];
  const allowed = advertisedInterfaces(ads, node.labels);
  return allowed ? usableInterfaces(allowed, carrier) : [];
}

function exclusionReason(
  input: PlanInput,
  node: string,
  svc: PlanService,
  ads: readonly PlanAdvertisement[],
): { reason: string } | { interfaces: string[] } {
  const member = input.view.members.get(node);
  if (!member) return { reason: "no speaker" };
  if (!member.alive) return { reason: `speaker not alive (${member.reason})` };
  if (member.leaving) return { reason: "speaker leaving" };
  if (!member.eligible) return { reason: "speaker warming up" };
  const info = input.nodes.get(node);
  if (!info) return { reason: "no Node object" };
  if (EXCLUDE_LB_LABEL in info.labels) return { reason: `label ${EXCLUDE_LB_LABEL}` };
  if (info.networkUnavailable) return { reason: "NetworkUnavailable" };
  if (input.options.excludeCordoned && info.unschedulable) return { reason: "cordoned" };
  const allowed = advertisedInterfaces(ads, info.labels);
  if (!allowed) return { reason: `no L2Advertisement for pool ${svc.pool} selects this node` };
  if (svc.externalTrafficPolicy === "Local" && !svc.readyEndpointNodes.has(node)) {
    return { reason: "externalTrafficPolicy Local and no local ready endpoint" };
  }
  // Carrier comes first-hand or relayed (peers.ts); when it cannot be told (a relayed "some" that
  // the interface names it last told us cannot express), the peer is a candidate: it checks its own.
  const interfaces = member.carrier ? usableInterfaces(allowed, member.carrier) : ["(unknown)"];
  if (interfaces.length === 0) return { reason: "no announce interface with carrier" };
  return { interfaces };
}

export function planAnnouncements(input: PlanInput): IpPlan[] {
  const plans: IpPlan[] = [];
  const selfView = input.view.members.get(input.self);
  for (const svc of input.services) {
    const excluded: Record<string, string> = {};
    const usable = new Map<string, string[]>();
    const ads = advertisementsFor(input.advertisements, svc);
    // MetalLB v0.16: a sharing Service is never announced through serviceSelectors advertisements.
    const sharedWithSelectors = svc.sharesIP === true && ads.some((ad) => ad.hasServiceSelectors === true);
    if (svc.hasReadyEndpoint && !sharedWithSelectors) {
      for (const node of input.view.members.keys()) {
        const verdict = exclusionReason(input, node, svc, ads);
        if ("reason" in verdict) excluded[node] = verdict.reason;
        else usable.set(node, verdict.interfaces);
      }
    }
    const scores = preferenceScores(ads, input.nodes);
    const sticky = input.options.ownership === "sticky" && input.view.claimsKnown === true;
    for (const ip of svc.ips) {
      const candidates = [...usable.keys()];
      const owner = sticky
        ? stickyOwnerOf(candidates, ip, (node) => claims(input, node, ip), scores)
        : ownerOf(candidates, ip, scores);
      const plan: IpPlan = {
        ip,
        service: svc.key,
        pool: svc.pool,
        owner,
        candidates,
        scores,
        action: { kind: "none" },
        excluded,
      };
      const current = input.current.get(ip);
      if (sharedWithSelectors) {
        plan.action = current
          ? { kind: "withdraw", reason: "sharedIPWithServiceSelector" }
          : { kind: "none" };
      } else if (input.view.isolated) {
        plan.action = current ? { kind: "withdraw", reason: "isolated" } : { kind: "none" };
      } else if (!svc.hasReadyEndpoint) {
        plan.action = current ? { kind: "withdraw", reason: "noReadyEndpoints" } : { kind: "none" };
      } else if (owner === input.self) {
        plan.action = { kind: "announce", interfaces: usable.get(owner) ?? [] };
      } else if (current) {
        plan.action = handover(input, ip, owner, current.handoverSince, selfView?.carrier ?? {});
      }
      plans.push(plan);
    }
  }
  return plans;
}

/** Whether `node` answers for `ip` as its owner now: ourselves from what we hold, peers from their heartbeats. */
function claims(input: PlanInput, node: string, ip: string): boolean {
  if (node === input.self) {
    const held = input.current.get(ip);
    return held !== undefined && held.handoverSince === undefined;
  }
  return input.view.members.get(node)?.announcing.has(ip) ?? false;
}

/** How long a former owner answers on when its successor cannot confirm (heard only through others). */
export function unconfirmableGraceMs(options: PlanOptions): number {
  return options.unconfirmableGraceMs ?? options.handoverTimeoutMs / 10;
}

/**
 * Make-before-break: a former owner keeps answering until its successor says (in its heartbeat)
 * that it announces the IP, so clients never see a gap. It stops at once when it must not answer
 * (it stalled and was written off, or nobody may own the IP), and after a timeout in any case.
 */
function handover(
  input: PlanInput,
  ip: string,
  owner: string | undefined,
  since: number | undefined,
  carrier: Readonly<Record<string, boolean>>,
): IpAction {
  if (owner === undefined) return { kind: "withdraw", reason: "noEligibleNode" };
  const selfView = input.view.members.get(input.self);
  if (!selfView?.alive || (!selfView.eligible && !selfView.leaving))
    return { kind: "withdraw", reason: "notReady" };
  const successor = input.view.members.get(owner);
  if (successor?.announcing.has(ip)) return { kind: "withdraw", reason: "notOwner" };
  const held = since === undefined ? 0 : input.now - since;
  if (held >= input.options.handoverTimeoutMs) return { kind: "withdraw", reason: "handoverTimeout" };
  // Its announcements reach us only first-hand, so a successor heard only through others never
  // confirms (two MACs answered for the whole timeout). It announced in the round in which it told
  // the others it may own, before their reports reached us: a short grace covers the rest.
  if (successor?.direct === false && held >= unconfirmableGraceMs(input.options)) {
    return { kind: "withdraw", reason: "handoverUnconfirmable" };
  }
  const interfaces = Object.keys(carrier).filter((n) => carrier[n] === true);
  return { kind: "handover", to: owner, interfaces };
}
