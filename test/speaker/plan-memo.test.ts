import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ClusterView, MemberView } from "../../src/election/membership.js";
import { PlanMemo } from "../../src/speaker/plan-memo.js";
import {
  planAnnouncements,
  type IpPlan,
  type PlanAdvertisement,
  type PlanInput,
  type PlanNode,
  type PlanService,
} from "../../src/speaker/plan.js";
import { reconcile, type Held } from "../../src/speaker/reconcile.js";
import { healthyMember } from "../support/views.js";

const NODES = ["n0", "n1", "n2", "n3"];
const IPS = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"];

type Op =
  | { kind: "member"; node: number; field: "alive" | "eligible" | "leaving" | "carrier" }
  | { kind: "announcing"; node: number; ips: number[] }
  | { kind: "service"; index: number; ready: boolean; local: boolean; ips: number[] }
  | { kind: "remove"; index: number }
  | { kind: "cordon"; node: number }
  | { kind: "ads" }
  | { kind: "time"; ms: number }
  | { kind: "isolated" }
  | { kind: "claimsKnown" }
  | { kind: "ownership" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("member" as const),
    node: fc.nat(3),
    field: fc.constantFrom("alive" as const, "eligible" as const, "leaving" as const, "carrier" as const),
  }),
  fc.record({ kind: fc.constant("announcing" as const), node: fc.nat(3), ips: fc.uniqueArray(fc.nat(4)) }),
  fc.record({
    kind: fc.constant("service" as const),
    index: fc.nat(5),
    ready: fc.boolean(),
    local: fc.boolean(),
    ips: fc.uniqueArray(fc.nat(4), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({ kind: fc.constant("remove" as const), index: fc.nat(5) }),
  fc.record({ kind: fc.constant("cordon" as const), node: fc.nat(3) }),
  fc.constant({ kind: "ads" as const }),
  fc.record({ kind: fc.constant("time" as const), ms: fc.integer({ min: 0, max: 4000 }) }),
  fc.constant({ kind: "isolated" as const }),
  fc.constant({ kind: "claimsKnown" as const }),
  fc.constant({ kind: "ownership" as const }),
);

/** What a plan decides (reason texts in `excluded` are not compared: see plan-memo.ts). */
const decision = (p: IpPlan) => ({
  ip: p.ip,
  service: p.service,
  owner: p.owner,
  candidates: p.candidates,
  action: p.action,
});

const ownerAndAction = (p: IpPlan) => ({ ip: p.ip, owner: p.owner, action: p.action });

const ad = (): PlanAdvertisement => ({
  name: "all",
  selectsPool: () => true,
  selectsNode: (labels) => labels.zone !== "none",
  interfaces: [],
});

const plainNodes = () =>
  new Map<string, PlanNode>(
    NODES.map((n) => [n, { labels: {}, networkUnavailable: false, unschedulable: false }]),
  );

/**
 * Planner inputs on self n0 for these members and Services; nodes and advertisements are built once
 * (the memo compares them by identity), the view anew per call, as membership gives one.
 */
/** Rounds of `memo` as the speaker runs them: each reconciled into what it holds (`held`). */
function stepper(memo: PlanMemo, input: (now: number, current: Map<string, Held>) => PlanInput) {
  let current = new Map<string, Held>();
  const step = (now: number) => {
    const round = memo.round(input(now, current));
    current = reconcile(round.plans, current, now, round.full ? undefined : round.gone).held;
    return round;
  };
  return { step, held: () => current };
}

/** One Cluster-policy Service per IP of IPS, each with a ready endpoint. */
function clusterServices(): PlanService[] {
  return IPS.map((ip, i) => ({
    key: `ns/s${i}`,
    ips: [ip],
    pool: "pool",
    externalTrafficPolicy: "Cluster",
    hasReadyEndpoint: true,
    readyEndpointNodes: new Set(),
  }));
}

function inputsFor(members: ReadonlyMap<string, MemberView>, services: PlanService[]) {
  const nodes = plainNodes();
  const advertisements = [ad()];
  return (now: number, current: Map<string, Held>): PlanInput => ({
    self: "n0",
    now,
    view: {
      members: new Map(members),
      isolated: false,
      directPeers: 3,
      quorum: { quorum: true, rule: "majority" },
    },
    nodes,
    advertisements,
    services,
    current,
    options: { excludeCordoned: true, handoverTimeoutMs: 3000 },
  });
}

describe("memoized planning", () => {
  it("equals planning everything from scratch after every step of any sequence", () => {
    fc.assert(
      fc.property(fc.constantFrom(...NODES), fc.array(op, { minLength: 1, maxLength: 60 }), (self, ops) => {
        const members = new Map<string, MemberView>(NODES.map((n) => [n, healthyMember(n)]));
        const nodes = plainNodes();
        let services: PlanService[] = [];
        let advertisements = [ad()];
        let current = new Map<string, Held>();
        let now = 0;
        let isolated = false;
        let claimsKnown = true;
        let ownership: "sticky" | "strict" = "sticky";
        // Two deferred Services a round: a death's deferred rest takes several rounds here too.
        const memo = new PlanMemo(2);
        for (const o of ops) {
          const m = members.get(NODES[("node" in o ? o.node : 0) % NODES.length]!)!;
          switch (o.kind) {
            case "member":
              if (o.field === "carrier") members.set(m.node, { ...m, carrier: { ens3: !m.carrier?.ens3 } });
              else members.set(m.node, { ...m, [o.field]: !m[o.field] });
              break;
            case "announcing":
              members.set(m.node, { ...m, announcing: new Set(o.ips.map((i) => IPS[i]!)) });
              break;
            case "service": {
              const svc: PlanService = {
                key: `ns/s${o.index}`,
                ips: o.ips.map((i) => IPS[i]!),
                pool: "pool",
                externalTrafficPolicy: o.local ? "Local" : "Cluster",
                hasReadyEndpoint: o.ready,
                readyEndpointNodes: new Set(o.local ? [NODES[o.index % 4]!] : []),
              };
              services = [...services.filter((s) => s.key !== svc.key), svc];
              break;
            }
            case "remove":
              services = services.filter((s) => s.key !== `ns/s${o.index}`);
              break;
            case "cordon": {
              const n = nodes.get(m.node)!;
              nodes.set(m.node, { ...n, unschedulable: !n.unschedulable });
              break;
            }
            case "ads":
              advertisements = [ad()];
              break;
            case "time":
              now += o.ms;
              break;
            case "isolated":
              isolated = !isolated;
              break;
            case "claimsKnown":
              claimsKnown = !claimsKnown;
              break;
            case "ownership":
              ownership = ownership === "sticky" ? "strict" : "sticky";
              break;
          }
          const view: ClusterView = {
            members: new Map(members),
            isolated,
            directPeers: 3,
            quorum: { quorum: !isolated, rule: "majority", why: "" } as ClusterView["quorum"],
            claimsKnown,
          };
          const input: PlanInput = {
            self,
            now,
            view,
            nodes,
            advertisements,
            services,
            current,
            options: { excludeCordoned: true, handoverTimeoutMs: 3000, ownership },
          };
          const full = planAnnouncements(input);
          let round = memo.round(input);
          // A deferred Service (round.more) keeps its owner and action: only its candidates lag.
          expect(memo.all().map(ownerAndAction)).toEqual(full.map(ownerAndAction));
          // Reconciling only what was re-planned leaves us holding what reconciling all would.
          const all = reconcile(full, current, now).held;
          let part = reconcile(round.plans, current, now, round.full ? undefined : round.gone).held;
          expect(new Map(part)).toEqual(new Map(all));
          // The deferred rest, planned in the next round (the speaker steps again at once).
          let last = input;
          while (round.more) {
            last = { ...input, current: part };
            round = memo.round(last);
            part = reconcile(round.plans, part, now, round.full ? undefined : round.gone).held;
            expect(new Map(part)).toEqual(new Map(all));
          }
          expect(memo.all().map(decision)).toEqual(planAnnouncements(last).map(decision));
          // The speaker holds what reconcile returned, every tick.
          current = part;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("plans nothing on a tick where nothing changed", () => {
    const members = new Map(NODES.map((n) => [n, healthyMember(n)]));
    const services = clusterServices();
    const input = inputsFor(members, services);
    const memo = new PlanMemo();
    let current = new Map<string, Held>();
    const first = memo.round(input(0, current));
    expect(first.full).toBe(true);
    current = reconcile(first.plans, current, 0).held;
    memo.round(input(40, current)); // sees what we took
    const idle = memo.round(input(80, current));
    expect(idle).toEqual({ plans: [], gone: [], full: false, more: false, causes: {} });
    expect(reconcile(idle.plans, current, 80, idle.gone).held).toBe(current);
  });

  it("re-plans only the Services a member's liveness can change (candidate, or left out for liveness)", () => {
    const members = new Map(NODES.map((n) => [n, healthyMember(n)]));
    // s0–s2: Local with endpoints on n0 and n1 only (n3 is left out whatever its liveness); s3, s4: Cluster.
    const services: PlanService[] = IPS.map((ip, i) => ({
      key: `ns/s${i}`,
      ips: [ip],
      pool: "pool",
      externalTrafficPolicy: i < 3 ? "Local" : "Cluster",
      hasReadyEndpoint: true,
      readyEndpointNodes: new Set(i < 3 ? ["n0", "n1"] : []),
    }));
    const input = inputsFor(members, services);
    const memo = new PlanMemo();
    const { step, held } = stepper(memo, input);
    step(0);
    step(40);
    step(80);
    members.set("n3", healthyMember("n3", { alive: false, eligible: false }));
    const dead = step(120);
    expect(dead.full).toBe(false);
    // n3 died: the Services whose IP it owned now, the rest (s3 or s4) a round later.
    const urgent = dead.plans.map((p) => p.service).sort();
    const later = step(120);
    expect(later.more).toBe(false);
    expect(new Set([...urgent, ...later.plans.map((p) => p.service)])).toEqual(new Set(["ns/s3", "ns/s4"]));
    // The same plans as planning everything from scratch.
    const scratch = planAnnouncements(input(120, held()));
    for (const plan of dead.plans) expect(scratch.find((p) => p.ip === plan.ip)?.owner).toBe(plan.owner);
    // n1 (a candidate of every Service) changes: everything is re-planned, still not "full".
    members.set("n1", healthyMember("n1", { leaving: true }));
    const first = step(160);
    expect(first.full).toBe(false);
    // Those whose IP n1 owned now, the others a round later: all five in two rounds.
    const rest = step(160);
    expect(rest.more).toBe(false);
    expect(new Set([...first.plans, ...rest.plans].map((p) => p.service)).size).toBe(5);
  });

  it("re-plans a death's deferred Services a few per round, FIFO, saying `more` until the last", () => {
    const members = new Map(NODES.map((n) => [n, healthyMember(n)]));
    const services = clusterServices();
    const input = inputsFor(members, services);
    const memo = new PlanMemo(1);
    const { step, held } = stepper(memo, input);
    step(0);
    step(40);
    step(80);
    const dead = memo.all().find((p) => p.service === "ns/s0")!.owner!; // owns s0's IP: urgent
    members.set(dead, healthyMember(dead, { alive: false, eligible: false }));
    const urgent = step(120);
    const rounds = [urgent];
    while (rounds.at(-1)!.more) rounds.push(step(120));
    expect(urgent.plans.length).toBeGreaterThan(0);
    expect(urgent.plans.length).toBeLessThan(IPS.length); // the rest deferred
    // One deferred Service per round (the limit; a round may also re-plan one for another cause,
    // such as the IPs the urgent round took), every Service planned once the rounds are over.
    const later = rounds.slice(1);
    expect(later.map((r) => r.causes.deferred)).toEqual(later.map(() => 1));
    expect(later.length).toBe(IPS.length - urgent.plans.length);
    const planned = rounds.flatMap((r) => r.plans.map((p) => p.service));
    expect(new Set(planned).size).toBe(IPS.length);
    expect(memo.all().map((p) => [p.ip, p.owner, p.candidates])).toEqual(
      planAnnouncements(input(120, held())).map((p) => [p.ip, p.owner, p.candidates]),
    );
  });
});
