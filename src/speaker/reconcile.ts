/**
 * From plans to effects. Pure: given what the planner decided per IP and what this speaker answers
 * for now, it returns the new set of held IPs and the list of things to do (answer, stop answering,
 * start a handover, write status). The speaker only executes the effects.
 */
import type { IpPlan } from "./plan.js";

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
  | { kind: "withdraw"; ip: string; service: string; reason: string }
  /** The Service's ServiceL2Status/Event: announced from these interfaces, or (undefined) not by us. */
  | { kind: "status"; service: string; announced?: { ips: string[]; pool: string; interfaces: string[] } };

export interface Reconciled {
  held: Map<string, Held>;
  effects: Effect[];
}

export function reconcile(
  plans: readonly IpPlan[],
  current: ReadonlyMap<string, Held>,
  now: number,
): Reconciled {
  const held = new Map<string, Held>([...current].map(([ip, h]) => [ip, { ...h }]));
  const effects: Effect[] = [];
  const planned = new Set<string>();
  const announcedServices = new Map<string, { ips: string[]; pool: string; interfaces: Set<string> }>();
  const changedServices = new Set<string>();
  const withdraw = (ip: string, service: string, reason: string) => {
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
        cur.handoverSince = now;
        effects.push({ kind: "handover", ip: plan.ip, service: plan.service, to: action.to });
      }
    } else if (action.kind === "withdraw") {
      withdraw(plan.ip, plan.service, action.reason);
      changedServices.add(plan.service);
    }
  }
  for (const [ip, cur] of [...held]) {
    if (!planned.has(ip)) {
      withdraw(ip, cur.service, "serviceGone");
      changedServices.add(cur.service);
    }
  }
  for (const service of changedServices) {
    const entry = announcedServices.get(service);
    if (entry) {
      effects.push({
        kind: "status",
        service,
        announced: { ips: entry.ips, pool: entry.pool, interfaces: [...entry.interfaces] },
      });
    } else if (![...held.values()].some((h) => h.service === service)) {
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
