import { describe, expect, it } from "vitest";
import type { ClusterView, MemberView } from "../../src/election/membership.js";
import { clusterView } from "../support/views.js";
import { ownerOf, rankNodes } from "../../src/election/ranking.js";
import {
  EXCLUDE_LB_LABEL,
  planAnnouncements,
  type PlanInput,
  type PlanNode,
  type PlanService,
  standbyInterfaces,
} from "../../src/speaker/plan.js";

const NODES = ["master-0", "master-1", "master-2"];
const VIP = "203.0.113.50";

function view(overrides: Record<string, Partial<MemberView>> = {}, isolated = false): ClusterView {
  return clusterView(NODES, overrides, isolated);
}

const service: PlanService = {
  key: "envoy-gateway-system/envoy",
  ips: [VIP],
  pool: "envoy-gateway-pool",
  externalTrafficPolicy: "Cluster",
  hasReadyEndpoint: true,
  readyEndpointNodes: new Set(["master-1"]),
};

function input(self: string, extra: Partial<PlanInput> = {}): PlanInput {
  const nodes = new Map<string, PlanNode>(
    NODES.map((n) => [n, { labels: {}, networkUnavailable: false, unschedulable: false }]),
  );
  return {
    self,
    now: 10_000,
    view: view(),
    nodes,
    advertisements: [
      {
        name: "envoy-gateway-l2",
        selectsPool: (p) => p === "envoy-gateway-pool",
        selectsNode: () => true,
        interfaces: ["ens3"],
      },
    ],
    services: [service],
    current: new Map(),
    options: { excludeCordoned: true, handoverTimeoutMs: 3000 },
    ...extra,
  };
}

const owner = ownerOf(NODES, VIP)!;
const [, second] = rankNodes(NODES, VIP);

describe("announcement plan", () => {
  it("exactly one node announces, the ranking winner, on the advertised interface", () => {
    const plans = NODES.map((n) => planAnnouncements(input(n))[0]!);
    expect(plans.filter((p) => p.action.kind === "announce")).toHaveLength(1);
    const mine = planAnnouncements(input(owner))[0]!;
    expect(mine.action).toEqual({ kind: "announce", interfaces: ["ens3"] });
  });

  it.each([
    ["dead speaker", { members: { alive: false } }],
    ["leaving speaker", { members: { leaving: true, eligible: false } }],
    ["no carrier on ens3", { members: { carrier: { ens3: false, ens4: true } } }],
  ])("moves the IP to the next node on %s", (_label, change) => {
    const v = view({ [owner]: change.members });
    expect(planAnnouncements(input(second!, { view: v }))[0]!.owner).toBe(second);
    expect(planAnnouncements(input(second!, { view: v }))[0]!.action.kind).toBe("announce");
  });

  it.each([
    ["exclude label", { labels: { [EXCLUDE_LB_LABEL]: "" } }],
    ["NetworkUnavailable", { networkUnavailable: true }],
    ["cordon", { unschedulable: true }],
  ])("excludes a node by %s", (_label, patch) => {
    const base = input(second!);
    const nodes = new Map(base.nodes);
    nodes.set(owner, { ...nodes.get(owner)!, ...patch });
    const plan = planAnnouncements({ ...base, nodes })[0]!;
    expect(plan.owner).toBe(second);
    expect(plan.excluded[owner]).toBeTruthy();
  });

  it("keeps cordoned nodes when cordon exclusion is off", () => {
    const base = input(owner, { options: { excludeCordoned: false, handoverTimeoutMs: 3000 } });
    const nodes = new Map(base.nodes);
    nodes.set(owner, { ...nodes.get(owner)!, unschedulable: true });
    expect(planAnnouncements({ ...base, nodes })[0]!.owner).toBe(owner);
  });

  it("externalTrafficPolicy Local announces only from nodes with a local ready endpoint", () => {
    const plan = planAnnouncements(
      input("master-1", { services: [{ ...service, externalTrafficPolicy: "Local" }] }),
    )[0]!;
    expect(plan.owner).toBe("master-1");
    expect(plan.candidates).toEqual(["master-1"]);
  });

  it("announces nothing without a ready endpoint, and withdraws what it announced", () => {
    const svc = { ...service, hasReadyEndpoint: false };
    expect(planAnnouncements(input(owner, { services: [svc] }))[0]!.action.kind).toBe("none");
    const current = new Map([[VIP, {}]]);
    expect(planAnnouncements(input(owner, { services: [svc], current }))[0]!.action).toEqual({
      kind: "withdraw",
      reason: "noReadyEndpoints",
    });
  });

  it("announces nothing for a pool no L2Advertisement covers (IP assigned, no ARP)", () => {
    const plan = planAnnouncements(input(owner, { advertisements: [] }))[0]!;
    expect(plan.owner).toBeUndefined();
    expect(plan.action.kind).toBe("none");
  });

  it("honours nodeSelectors and per-pool interfaces", () => {
    const ads = [
      {
        name: "a",
        selectsPool: () => true,
        selectsNode: (l: Readonly<Record<string, string>>) => l.edge === "true",
        interfaces: ["ens4"],
      },
    ];
    const base = input("master-2", {
      advertisements: ads,
      view: view({ "master-2": { carrier: { ens3: true, ens4: true } } }),
    });
    const nodes = new Map(base.nodes);
    nodes.set("master-2", { ...nodes.get("master-2")!, labels: { edge: "true" } });
    const plan = planAnnouncements({ ...base, nodes })[0]!;
    expect(plan.candidates).toEqual(["master-2"]);
    expect(plan.action).toEqual({ kind: "announce", interfaces: ["ens4"] });
  });

  describe("make-before-break handover", () => {
    const leavingView = view({ [owner]: { leaving: true, eligible: false } });

    it("a leaving owner keeps answering until its successor announces", () => {
      const current = new Map([[VIP, { handoverSince: 9_000 }]]);
      const plan = planAnnouncements(input(owner, { view: leavingView, current }))[0]!;
      expect(plan.action).toMatchObject({ kind: "handover", to: second });
    });

    it("stops once the successor's heartbeat lists the IP", () => {
      const v = view({
        [owner]: { leaving: true, eligible: false },
        [second!]: { announcing: new Set([VIP]) },
      });
      const plan = planAnnouncements(
        input(owner, { view: v, current: new Map([[VIP, { handoverSince: 9_000 }]]) }),
      )[0]!;
      expect(plan.action).toEqual({ kind: "withdraw", reason: "notOwner" });
    });

    it("stops after the handover timeout in any case", () => {
      const plan = planAnnouncements(
        input(owner, { view: leavingView, current: new Map([[VIP, { handoverSince: 6_000 }]]) }),
      )[0]!;
      expect(plan.action).toEqual({ kind: "withdraw", reason: "handoverTimeout" });
    });

    it("a successor heard only through others cannot confirm: a tenth of the timeout, not all of it", () => {
      const v = view({ [owner]: { leaving: true, eligible: false }, [second!]: { direct: false } });
      const at = (since: number) =>
        planAnnouncements(input(owner, { view: v, current: new Map([[VIP, { handoverSince: since }]]) }))[0]!
          .action;
      expect(at(9_800)).toMatchObject({ kind: "handover", to: second }); // 200 ms in
      expect(at(9_700)).toEqual({ kind: "withdraw", reason: "handoverUnconfirmable" }); // 300 ms in
      // Heard first-hand, it waits for the confirmation as before.
      const direct = view({ [owner]: { leaving: true, eligible: false }, [second!]: { direct: true } });
      const plan = planAnnouncements(
        input(owner, { view: direct, current: new Map([[VIP, { handoverSince: 9_000 }]]) }),
      )[0]!;
      expect(plan.action).toMatchObject({ kind: "handover", to: second });
    });

    it("a stalled (written-off) speaker stops at once", () => {
      const v = view({ [owner]: { eligible: false } });
      const plan = planAnnouncements(input(owner, { view: v, current: new Map([[VIP, {}]]) }))[0]!;
      expect(plan.action).toEqual({ kind: "withdraw", reason: "notReady" });
    });
  });

  it("an isolated speaker withdraws everything", () => {
    const plan = planAnnouncements(input(owner, { view: view({}, true), current: new Map([[VIP, {}]]) }))[0]!;
    expect(plan.action).toEqual({ kind: "withdraw", reason: "isolated" });
  });
});

describe("MetalLB v0.16 advertisement fields", () => {
  const labelled = (labels: Record<string, Record<string, string>>) =>
    new Map<string, PlanNode>(
      NODES.map((n) => [n, { labels: labels[n] ?? {}, networkUnavailable: false, unschedulable: false }]),
    );
  const matches = (sel: Record<string, string>) => (l: Readonly<Record<string, string>>) =>
    Object.entries(sel).every(([k, v]) => l[k] === v);
  /** An advertisement with preferredNodeSelectors given as (labels, weight) pairs. */
  const preferring = (
    prefs: [Record<string, string>, number][],
    selectsNode: (l: Readonly<Record<string, string>>) => boolean = () => true,
  ) => ({
    name: "pref",
    selectsPool: (p: string) => p === "envoy-gateway-pool",
    selectsNode,
    interfaces: ["ens3"],
    preferredWeight: (l: Readonly<Record<string, string>>) =>
      prefs.reduce((sum, [sel, w]) => sum + (matches(sel)(l) ? w : 0), 0),
  });
  // A node that loses the plain hash ranking, so a preference visibly changes the owner.
  const last = rankNodes(NODES, VIP).at(-1)!;

  it("a preferred node wins the owner ranking over the hash order", () => {
    const nodes = labelled({ [last]: { zone: "a" } });
    const i = input(last, { nodes, advertisements: [preferring([[{ zone: "a" }, 10]])] });
    expect(planAnnouncements(i)[0]).toMatchObject({ owner: last, action: { kind: "announce" } });
  });

  it("weights of matching selectors add up; the highest sum wins", () => {
    const [a, b] = rankNodes(NODES, VIP);
    // b matches two entries (30 + 30), a one (50): b wins although a ranks first by hash.
    const nodes = labelled({ [a!]: { ssd: "yes" }, [b!]: { zone: "a", rack: "1" } });
    const ad = preferring([
      [{ ssd: "yes" }, 50],
      [{ zone: "a" }, 30],
      [{ rack: "1" }, 30],
    ]);
    expect(planAnnouncements(input(b!, { nodes, advertisements: [ad] }))[0]!.owner).toBe(b);
  });

  it("any eligible node takes over when the preferred one is not available", () => {
    const nodes = labelled({ [last]: { zone: "a" } });
    const v = view({ [last]: { alive: false } });
    const ad = preferring([[{ zone: "a" }, 100]]);
    const p = planAnnouncements(input(owner, { nodes, view: v, advertisements: [ad] }))[0]!;
    expect(p.owner).toBe(owner === last ? second : owner);
    expect(p.owner).not.toBe(last);
  });

  it("a preference counts only on nodes the advertisement's nodeSelectors allow", () => {
    const nodes = labelled({ [last]: { zone: "a", edge: "no" } });
    // This advertisement prefers zone a but may not use nodes labelled edge=no.
    const ad = preferring([[{ zone: "a" }, 100]], (l) => l.edge !== "no");
    const plain = {
      name: "plain",
      selectsPool: (p: string) => p === "envoy-gateway-pool",
      selectsNode: () => true,
      interfaces: ["ens3"],
    };
    const p = planAnnouncements(input(last, { nodes, advertisements: [ad, plain] }))[0]!;
    // No weight anywhere it counts: the plain hash order decides.
    expect(p.owner).toBe(ownerOf(NODES, VIP));
    expect(p.owner).not.toBe(last);
  });

  it("serviceSelectors: only matching Services are announced through the advertisement", () => {
    const ad = {
      name: "only-envoy",
      selectsPool: (p: string) => p === "envoy-gateway-pool",
      selectsNode: () => true,
      interfaces: ["ens3"],
      hasServiceSelectors: true,
      selectsService: matches({ app: "envoy" }),
    };
    const envoy = { ...service, labels: { app: "envoy" } };
    const other = { ...service, key: "team/x", labels: { app: "x" } };
    expect(planAnnouncements(input(owner, { advertisements: [ad], services: [envoy] }))[0]!.action.kind).toBe(
      "announce",
    );
    const p = planAnnouncements(input(owner, { advertisements: [ad], services: [other] }))[0]!;
    expect(p.owner).toBeUndefined();
    expect(p.excluded[owner]).toContain("no L2Advertisement");
  });

  it("a Service with allow-shared-ip is not announced through serviceSelectors advertisements", () => {
    const ad = {
      name: "only-envoy",
      selectsPool: (p: string) => p === "envoy-gateway-pool",
      selectsNode: () => true,
      interfaces: ["ens3"],
      hasServiceSelectors: true,
      selectsService: matches({ app: "envoy" }),
    };
    const sharing = { ...service, labels: { app: "envoy" }, sharesIP: true };
    const current = new Map([[VIP, {}]]);
    const p = planAnnouncements(input(owner, { advertisements: [ad], services: [sharing], current }))[0]!;
    expect(p.action).toEqual({ kind: "withdraw", reason: "sharedIPWithServiceSelector" });
    // Without serviceSelectors, sharing is fine.
    expect(planAnnouncements(input(owner, { services: [sharing] }))[0]!.action.kind).toBe("announce");
  });
});

describe("sticky ownership", () => {
  const sticky = { excludeCordoned: true, handoverTimeoutMs: 3000, ownership: "sticky" as const };
  const known = (overrides: Record<string, Partial<MemberView>> = {}): ClusterView => ({
    ...view(overrides),
    claimsKnown: true,
  });
  const holder = second!;

  it("the node answering for the IP keeps it although another ranks first", () => {
    const mine = planAnnouncements(
      input(holder, { view: known(), current: new Map([[VIP, {}]]), options: sticky }),
    );
    expect(mine[0]!.owner).toBe(holder);
    expect(mine[0]!.action.kind).toBe("announce");
    // The ranking winner (say, restored) sees the holder's claim in its heartbeats and stays out.
    const winner = planAnnouncements(
      input(owner, { view: known({ [holder]: { announcing: new Set([VIP]) } }), options: sticky }),
    );
    expect(winner[0]!.owner).toBe(holder);
    expect(winner[0]!.action.kind).toBe("none");
  });

  it("two claimants: the ranking breaks the tie and the other hands over", () => {
    const both = known({ [owner]: { announcing: new Set([VIP]) } });
    const loser = planAnnouncements(
      input(holder, { view: both, current: new Map([[VIP, {}]]), options: sticky }),
    );
    expect(loser[0]!.owner).toBe(owner);
    expect(loser[0]!.action.kind).toBe("withdraw"); // the winner already lists it: make-before-break done
  });

  it("a claimant that is no longer a candidate (dead, cordoned) keeps nothing", () => {
    const dead = known({ [holder]: { alive: false, eligible: false, announcing: new Set([VIP]) } });
    expect(planAnnouncements(input(owner, { view: dead, options: sticky }))[0]!.action.kind).toBe("announce");
  });

  it("falls back to strict ranking while claims are not known first-hand", () => {
    const partial = { ...view({ [holder]: { announcing: new Set([VIP]) } }), claimsKnown: false };
    expect(planAnnouncements(input(owner, { view: partial, options: sticky }))[0]!.owner).toBe(owner);
    // strict mode ignores claims altogether
    const strict = planAnnouncements(
      input(owner, { view: known({ [holder]: { announcing: new Set([VIP]) } }) }),
    );
    expect(strict[0]!.owner).toBe(owner);
  });

  it("a new IP (nobody claims it) goes by ranking", () => {
    expect(planAnnouncements(input(owner, { view: known(), options: sticky }))[0]!.owner).toBe(owner);
  });
});

describe("standby interfaces (ports opened ahead of a takeover)", () => {
  const ad = (
    interfaces: string[],
    selectsNode: (l: Readonly<Record<string, string>>) => boolean = () => true,
  ) => ({
    name: "ad",
    selectsPool: () => true,
    selectsNode,
    interfaces,
  });
  const node = (labels: Record<string, string> = {}): PlanNode => ({
    labels,
    networkUnavailable: false,
    unschedulable: false,
  });
  const carrier = { ens3: true, ens4: true, ens5: false };

  it("are the selecting advertisements' interfaces with carrier, over every pool", () => {
    const ads = [ad(["ens3"]), ad(["ens4", "ens5"]), ad(["ens6"], (l) => l.zone === "b")];
    expect(standbyInterfaces(ads, node({ zone: "a" }), carrier)).toEqual(["ens3", "ens4"]);
    expect(standbyInterfaces([ad([])], node(), carrier)).toEqual(["ens3", "ens4"]); // no list: every interface
  });

  it("are none where the node can never announce", () => {
    expect(standbyInterfaces([ad(["ens3"], () => false)], node(), carrier)).toEqual([]);
    expect(standbyInterfaces([ad(["ens3"])], node({ [EXCLUDE_LB_LABEL]: "" }), carrier)).toEqual([]);
    expect(standbyInterfaces([ad(["ens3"])], undefined, carrier)).toEqual([]);
  });
});
