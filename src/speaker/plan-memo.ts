/**
 * Planning per Service only when its inputs changed. The tick runs every 40 ms; re-planning 5,000
 * Services each time cost tens of milliseconds, although almost nothing changes between two ticks.
 * A Service's plans depend on:
 *  - the Service entry itself (the model replaces the object when a watch event changes it),
 *  - what every speaker may do: liveness, eligibility, leaving, carrier, quorum, claims known
 *    (the view's fingerprint), the Nodes, the advertisements and the options — any change there
 *    re-plans everything,
 *  - per IP: who announces it (members' `announcing`) and what we hold (`current`, handover start),
 *  - the clock, only while a handover runs (its timeout): such Services are re-planned every tick.
 * Pure apart from its memory: the same inputs give what `planAnnouncements` gives for them (a
 * property test checks it after every step of random sequences). Reason texts in `excluded` (say,
 * "no heartbeat for 1234 ms") are not inputs: they are as of the last re-plan.
 */
import type { ClusterView, MemberView } from "../election/membership.js";
import { planAnnouncements, type IpPlan, type PlanInput, type PlanNode, type PlanService } from "./plan.js";

export interface PlanRound {
  /** Plans of the Services re-planned this round (all of them when `full`). */
  plans: IpPlan[];
  /** IPs that no Service has any more (withdraw them). Empty when `full`. */
  gone: string[];
  full: boolean;
  /**
   * Services left for the next round (`deferred`): a member that can no longer own IPs (it died,
   * stopped being eligible, is leaving) re-plans first the Services whose IPs it owned; for the
   * others only their candidate lists change, so they wait for the next rounds (plan them soon),
   * DEFERRED_PER_ROUND at a time.
   */
  more: boolean;
  /** Services re-planned this round per cause (each counted under the first cause that made it dirty). */
  causes: Partial<Record<ReplanCause, number>>;
}

export type ReplanCause =
  "deferred" | "members" | "services" | "claims" | "held" | "handover" | "all" | "sharers";

interface Entry {
  svc: PlanService;
  plans: IpPlan[];
}

/** The parts of the view and options every plan depends on, as one string (members apart). */
function fingerprint(input: PlanInput): string {
  const self = input.view.members.get(input.self);
  return [
    input.self,
    self ? memberKey(self) : "-",
    String(input.view.isolated),
    String(input.view.claimsKnown ?? false),
    `${input.options.excludeCordoned}/${input.options.handoverTimeoutMs}/${input.options.ownership ?? ""}`,
  ].join("|");
}

/** Whether a member key (memberKey) says the member may own IPs: alive, eligible, not leaving. */
function mayOwn(key: string): boolean {
  return key.startsWith("110");
}

/** What a plan reads of one member (plan.ts exclusionReason): liveness, flags, carrier. */
function memberKey(m: MemberView): string {
  let carrier = "-";
  if (m.carrier) {
    carrier = "";
    for (const name of Object.keys(m.carrier).sort()) carrier += `${name}=${m.carrier[name]},`;
  }
  return `${+m.alive}${+m.eligible}${+m.leaving}:${carrier}`;
}

/**
 * Whether a plan can change when `node`'s liveness, flags or carrier change: it is a candidate,
 * or it was left out for one of those (plan.ts checks them before anything the view does not
 * decide: Node labels, cordon, advertisements, local endpoints). A member left out for such a
 * reason stays out whatever its liveness.
 */
function dependsOnMember(plan: IpPlan, node: string): boolean {
  if (plan.candidates.includes(node)) return true;
  const reason = plan.excluded[node];
  return (
    reason !== undefined && (reason.startsWith("speaker ") || reason.startsWith("no announce interface"))
  );
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * Deferred Services re-planned per round. A death at scale defers thousands (1,671 IPs dead, 3,300
 * Services whose candidate lists change): re-planned in one step that took 252 ms in the lab (plan
 * 201 ms, bench/README.md), ARP and NDP answers for every IP waiting behind it. In rounds of 256, a
 * heartbeat interval apart, each step stays short; only the candidate lists lag meanwhile.
 */
export const DEFERRED_PER_ROUND = 256;

export class PlanMemo {
  /** `deferredPerRound`: see DEFERRED_PER_ROUND (tests make it small to cover several rounds). */
  constructor(private readonly deferredPerRound = DEFERRED_PER_ROUND) {}

  private readonly entries = new Map<string, Entry>();
  private readonly servicesOfIp = new Map<string, Set<string>>();
  private services: readonly PlanService[] | undefined;
  private key = "";
  private readonly members = new Map<string, string>();
  private advertisements: PlanInput["advertisements"] | undefined;
  private nodes = new Map<string, PlanNode>();
  private announcing = new Map<string, ReadonlySet<string>>();
  private held = new Map<string, number | undefined>();
  private heldFrom: ReadonlyMap<string, unknown> | undefined;
  /** Services with a handover running: re-planned every tick (its timeout). */
  private readonly timed = new Set<string>();
  /** Services whose re-plan waits a round (see PlanRound.more). */
  private deferred = new Set<string>();
  /** Members that may no longer own IPs since the last round (the others changed otherwise). */
  private lost = new Set<string>();

  /**
   * Each planned IP with the nodes that may own it (and `self`, so that a node warming up already
   * watches its neighbours): the input of the sparse fan-out's watch set (election/fanout.ts).
   */
  *candidates(self: string): Iterable<readonly [string, readonly string[]]> {
    for (const { plans } of this.entries.values())
      for (const p of plans)
        yield [p.ip, p.candidates.includes(self) ? p.candidates : [...p.candidates, self]];
  }

  /** Plans what changed since the last round. */
  round(input: PlanInput): PlanRound {
    const dirty = new Set<string>();
    for (const key of this.deferred) {
      if (dirty.size >= this.deferredPerRound) break;
      dirty.add(key);
    }
    for (const key of dirty) this.deferred.delete(key);
    const causes: PlanRound["causes"] = {};
    const count = (cause: ReplanCause, before: number) => {
      if (dirty.size > before) causes[cause] = dirty.size - before;
    };
    count("deferred", 0);
    const gone: string[] = [];
    const changed = this.globalChanged(input);
    const full = changed === true;
    // One member's liveness: only the plans that can change with it (the others keep theirs).
    const byMembers = new Set<string>();
    if (changed instanceof Set && changed.size > 0) this.dirtyByMembers(changed, byMembers);
    let n = dirty.size;
    this.syncServices(input.services, dirty, gone);
    // An IP a Service gave up may still be another's: that one decides alone now.
    for (const ip of gone) this.dirtyIp(ip, dirty);
    count("services", n);
    n = dirty.size;
    this.dirtyByClaims(input.view, dirty);
    count("claims", n);
    n = dirty.size;
    this.dirtyByHeld(input.current, dirty);
    count("held", n);
    n = dirty.size;
    for (const key of this.timed) dirty.add(key);
    count("handover", n);
    n = dirty.size;
    if (full) for (const key of this.entries.keys()) dirty.add(key);
    else this.urgentFirst(changed as Set<string>, byMembers, dirty);
    count(full ? "all" : "members", n);
    n = dirty.size;
    this.withSharers(dirty);
    count("sharers", n);
    const plans: IpPlan[] = [];
    for (const key of dirty) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      entry.plans = planAnnouncements({ ...input, services: [entry.svc] });
      if (entry.plans.some((p) => p.action.kind === "handover")) this.timed.add(key);
      else this.timed.delete(key);
      if (!full) plans.push(...entry.plans);
    }
    for (const key of dirty) this.deferred.delete(key); // a sharer of an urgent one went with it
    const more = this.deferred.size > 0;
    if (full) return { plans: this.all(), gone: [], full: true, more, causes };
    return { plans, gone: gone.filter((ip) => !this.servicesOfIp.has(ip)), full: false, more, causes };
  }

  /** Every current plan, in the order of the Services. */
  all(): IpPlan[] {
    const out: IpPlan[] = [];
    for (const svc of this.services ?? []) out.push(...(this.entries.get(svc.key)?.plans ?? []));
    return out;
  }

  /**
   * Our own view, the member set, Nodes, advertisements or options changed: true, everything is
   * re-planned. Otherwise the peers whose liveness, flags or carrier changed (maybe none).
   */
  private globalChanged(input: PlanInput): boolean | Set<string> {
    let changed = false;
    const key = fingerprint(input);
    if (key !== this.key) changed = true;
    this.key = key;
    const members = new Set<string>();
    if (input.view.members.size !== this.members.size) changed = true;
    for (const m of input.view.members.values()) {
      if (m.node === input.self) continue;
      const before = this.members.get(m.node);
      const now = memberKey(m);
      if (before === undefined) changed = true;
      else if (before !== now) members.add(m.node);
    }
    this.lost = new Set();
    for (const node of members) {
      const m = input.view.members.get(node)!;
      if (mayOwn(this.members.get(node)!) && !(m.alive && m.eligible && !m.leaving)) this.lost.add(node);
    }
    if (changed || members.size > 0) {
      this.members.clear();
      for (const m of input.view.members.values()) this.members.set(m.node, memberKey(m));
    }
    if (input.advertisements !== this.advertisements) changed = true;
    this.advertisements = input.advertisements;
    // The model updates its Node map in place: compare entries (one object per Node event).
    if (input.nodes.size !== this.nodes.size) changed = true;
    else for (const [name, node] of input.nodes) if (this.nodes.get(name) !== node) changed = true;
    if (changed) this.nodes = new Map(input.nodes);
    return changed || members;
  }

  /**
   * Of the Services a member change made dirty, those whose IPs a member that can no longer own
   * them owned are planned now; the rest wait a round when every changed member only lost the
   * right to own (dying takes the owner away from its own IPs only: the ranking, sticky claims
   * and preference scores pick the same owner among the others). A takeover of thousands of IPs
   * then plans a third of the Services before announcing, not all of them.
   */
  private urgentFirst(
    changed: ReadonlySet<string>,
    byMembers: ReadonlySet<string>,
    dirty: Set<string>,
  ): void {
    const onlyLost = changed.size > 0 && [...changed].every((node) => this.lost.has(node));
    for (const key of byMembers) {
      if (dirty.has(key)) continue;
      const owned = this.entries.get(key)?.plans.some((p) => p.owner !== undefined && changed.has(p.owner));
      if (onlyLost && !owned) this.deferred.add(key);
      else dirty.add(key);
    }
  }

  private dirtyByMembers(members: ReadonlySet<string>, dirty: Set<string>): void {
    const nodes = [...members];
    for (const [key, entry] of this.entries) {
      if (entry.plans.some((p) => nodes.some((node) => dependsOnMember(p, node)))) dirty.add(key);
    }
  }

  /** New, changed and removed Service entries (the model replaces an entry's object on change). */
  private syncServices(services: readonly PlanService[], dirty: Set<string>, gone: string[]): void {
    if (services === this.services) return;
    const before = this.services;
    this.services = services;
    if (before?.length === services.length && this.replacedInPlace(before, services, dirty, gone)) return;
    const seen = new Set<string>();
    for (const svc of services) {
      seen.add(svc.key);
      const entry = this.entries.get(svc.key);
      if (entry?.svc === svc) continue;
      if (entry) this.unindex(entry.svc, gone);
      this.entries.set(svc.key, { svc, plans: [] });
      for (const ip of svc.ips) this.index(ip, svc.key);
      dirty.add(svc.key);
    }
    for (const [key, entry] of this.entries) {
      if (seen.has(key)) continue;
      this.entries.delete(key);
      this.timed.delete(key);
      this.unindex(entry.svc, gone);
    }
  }

  /** The model replaced some entries in place (same keys, same order): only those changed. */
  private replacedInPlace(
    before: readonly PlanService[],
    services: readonly PlanService[],
    dirty: Set<string>,
    gone: string[],
  ): boolean {
    for (let i = 0; i < services.length; i++) if (services[i]!.key !== before[i]!.key) return false;
    for (let i = 0; i < services.length; i++) {
      const svc = services[i]!;
      if (svc === before[i]) continue;
      const entry = this.entries.get(svc.key);
      if (entry) this.unindex(entry.svc, gone);
      this.entries.set(svc.key, { svc, plans: [] });
      for (const ip of svc.ips) this.index(ip, svc.key);
      dirty.add(svc.key);
    }
    return true;
  }

  private index(ip: string, key: string): void {
    const set = this.servicesOfIp.get(ip) ?? new Set<string>();
    set.add(key);
    this.servicesOfIp.set(ip, set);
  }

  private unindex(svc: PlanService, gone: string[]): void {
    for (const ip of svc.ips) {
      const set = this.servicesOfIp.get(ip);
      set?.delete(svc.key);
      if (set?.size === 0) this.servicesOfIp.delete(ip);
      gone.push(ip);
    }
  }

  /** IPs whose announcers changed (make-before-break, sticky claims). */
  private dirtyByClaims(view: ClusterView, dirty: Set<string>): void {
    const next = new Map<string, ReadonlySet<string>>();
    for (const m of view.members.values()) {
      const before = this.announcing.get(m.node) ?? new Set<string>();
      next.set(m.node, m.announcing);
      if (before === m.announcing || sameSet(before, m.announcing)) continue;
      for (const ip of m.announcing) if (!before.has(ip)) this.dirtyIp(ip, dirty);
      for (const ip of before) if (!m.announcing.has(ip)) this.dirtyIp(ip, dirty);
    }
    for (const [node, before] of this.announcing)
      if (!next.has(node)) for (const ip of before) this.dirtyIp(ip, dirty);
    this.announcing = next;
  }

  /** IPs we took, dropped or started handing over since the last round. */
  private dirtyByHeld(current: ReadonlyMap<string, { handoverSince?: number }>, dirty: Set<string>): void {
    // The same map as last round (reconcile hands it back when nothing changed): O(1).
    if (current === this.heldFrom) return;
    this.heldFrom = current;
    let changed = current.size !== this.held.size;
    for (const [ip, h] of current) {
      if (!this.held.has(ip) || this.held.get(ip) !== h.handoverSince) {
        changed = true;
        this.dirtyIp(ip, dirty);
      }
    }
    if (!changed) return;
    for (const ip of this.held.keys()) if (!current.has(ip)) this.dirtyIp(ip, dirty);
    this.held = new Map([...current].map(([ip, h]) => [ip, h.handoverSince]));
  }

  private dirtyIp(ip: string, dirty: Set<string>): void {
    for (const key of this.servicesOfIp.get(ip) ?? []) dirty.add(key);
  }

  /** Services that share an IP with a dirty one, transitively, are planned with it (one plan per IP wins). */
  private withSharers(dirty: Set<string>): void {
    const queue = [...dirty];
    for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
      for (const ip of this.entries.get(key)?.svc.ips ?? []) {
        for (const other of this.servicesOfIp.get(ip) ?? []) {
          if (dirty.has(other)) continue;
          dirty.add(other);
          queue.push(other);
        }
      }
    }
  }
}
