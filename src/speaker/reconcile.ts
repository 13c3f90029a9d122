/**
 * From plans to effects. Pure: given what the planner decided per IP and what this speaker answers
 * for now, it returns the new set of held IPs and the list of things to do (answer, stop answering,
 * start a handover, write status). The speaker only executes the effects.
 */
import type { IpPlan } from "./plan.js";
import type { WithdrawReason } from "./withdraw.js";

/** An IP this speaker answers for, the Service it belongs to, and when its handover started. */
export interface Held {
  service: string;
  pool: string;
  handoverSince?: number;
}

export type Effect =
  /** Answer for `ip` on these interfaces; `took` says why it is new (undefined: already ours). */
  | { kind: "announce"; ip: string; service: string; interfaces: string[]; took?: "owner" | "reclaimed" }
  | { kind: "handover"; ip: string; service: string; to: string | undefined }
  | { kind: "withdraw"; ip: string; service: string; reason: WithdrawReason }
  /** The Service's ServiceL2Status/Event: announced from these interfaces, or (undefined) not by us. */
  | { kind: "status"; service: string; announced?: { ips: string[]; pool: string; interfaces: string[] } };

export interface Reconciled {
  held: Map<string, Held>;
  effects: Effect[];
}

const STRENGTH = { announce: 3, handover: 2, withdraw: 1, none: 0 } as const;

/**
 * One plan per IP: if two plans name the same IP (two Services sharing it that were not merged),
 * the strongest action wins (ties: the smaller Service key), so one Service without endpoints cannot withdraw what another
 * announces (which would flap every tick).
 */
function onePlanPerIp(plans: readonly IpPlan[]): readonly IpPlan[] {
  const byIp = new Map<string, IpPlan>();
  for (const plan of plans) {
    const seen = byIp.get(plan.ip);
    const a = STRENGTH[plan.action.kind];
    const b = seen ? STRENGTH[seen.action.kind] : -1;
    // Ties go to the smaller Service key: the same whatever order the plans come in.
    if (a > b || (a === b && plan.service < seen!.service)) byIp.set(plan.ip, plan);
  }
  return byIp.size === plans.length ? plans : [...byIp.values()];
}

/**
 * `plans` are every IP's plans, or with `gone` (plan-memo.ts) only those re-planned this round:
 * then an IP without a plan is left as it is unless `gone` names it (its Service went away).
 */
export function reconcile(
  allPlans: readonly IpPlan[],
  current: ReadonlyMap<string, Held>,
  now: number,
  gone?: Iterable<string>,
): Reconciled {
  // Nothing re-planned (an idle tick with plan-memo.ts): nothing to do, same map back.
  if (allPlans.length === 0 && gone !== undefined && [...gone].length === 0)
    return { held: current as Map<string, Held>, effects: [] };
  const plans = onePlanPerIp(allPlans);
  // Entries are replaced, never changed in place: a shallow copy leaves `current` as it was.
  const held = new Map<string, Held>(current);
  const effects: Effect[] = [];
  const planned = new Set<string>();
  const announcedServices = new Map<string, { ips: string[]; pool: string; interfaces: Set<string> }>();
  const changedServices = new Set<string>();
  const withdraw = (ip: string, service: string, reason: WithdrawReason) => {
    if (!held.has(ip)) return;
    held.delete(ip);
    effects.push({ kind: "withdraw", ip, service, reason });
  };
  for (const plan of plans) {
    planned.add(plan.ip);
    const action = plan.action;
    const cur = held.get(plan.ip);
    if (action.kind === "announce") {
      const effect: Effect = {
        kind: "announce",
        ip: plan.ip,
        service: plan.service,
        interfaces: action.interfaces,
      };
      if (!cur || cur.handoverSince !== undefined) {
        held.set(plan.ip, { service: plan.service, pool: plan.pool });
        changedServices.add(plan.service);
        effect.took = cur ? "reclaimed" : "owner";
      } else if (cur.service !== plan.service) {
        // Same IP, new users (a Service started or stopped sharing it): keep answering, fix status.
        changedServices.add(cur.service);
        changedServices.add(plan.service);
        held.set(plan.ip, { ...cur, service: plan.service });
      }
      effects.push(effect);
      const entry = announcedServices.get(plan.service) ?? {
        ips: [],
        pool: plan.pool,
        interfaces: new Set(),
      };
      entry.ips.push(plan.ip);
      action.interfaces.forEach((i) => entry.interfaces.add(i));
      announcedServices.set(plan.service, entry);
    } else if (action.kind === "handover") {
      if (cur && cur.handoverSince === undefined) {
        held.set(plan.ip, { ...cur, handoverSince: now });
        effects.push({ kind: "handover", ip: plan.ip, service: plan.service, to: action.to });
      }
    } else if (action.kind === "withdraw") {
      withdraw(plan.ip, plan.service, action.reason);
      changedServices.add(plan.service);
    }
  }
  for (const ip of gone ?? [...held.keys()]) {
    const cur = held.get(ip);
    if (cur && !planned.has(ip)) {
      withdraw(ip, cur.service, "serviceGone");
      changedServices.add(cur.service);
    }
  }
  // Services with an IP still held (handing over): one pass, not one per changed Service.
  let stillHeld: Set<string> | undefined;
  for (const service of changedServices) {
    const entry = announcedServices.get(service);
    if (entry) {
      effects.push({
        kind: "status",
        service,
        announced: { ips: entry.ips, pool: entry.pool, interfaces: [...entry.interfaces] },
      });
    } else if (!(stillHeld ??= new Set([...held.values()].map((h) => h.service))).has(service)) {
      effects.push({ kind: "status", service });
    }
  }
  return { held, effects };
}

/** IPs this speaker owns (not merely answering during a handover): what its heartbeats list. */
export function ownedIps(held: ReadonlyMap<string, Held>): string[] {
  const out: string[] = [];
  for (const [ip, h] of held) if (h.handoverSince === undefined) out.push(ip);
  return out;
}

/**
 * Whether another MAC claiming `ip` is a real conflict: we own it (not handing it over) and no
 * peer in the member view says it announces it. A peer that does is a takeover in progress (its
 * gratuitous ARP can arrive a heartbeat before its claim), which the plan resolves, not a fight.
 */
export function isGenuineConflict(
  ip: string,
  self: string,
  held: ReadonlyMap<string, Held>,
  members: Iterable<{ node: string; announcing: ReadonlySet<string> }>,
): boolean {
  const h = held.get(ip);
  if (!h || h.handoverSince !== undefined) return false;
  for (const m of members) if (m.node !== self && m.announcing.has(ip)) return false;
  return true;
}
