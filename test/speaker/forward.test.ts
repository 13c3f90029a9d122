// The edge of handover forwarding with a recorded `nft`: what it loads, when, and what it counts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { V1Node } from "@kubernetes/client-node";
import { renderCleanup } from "../../src/speaker/forward-nft.js";
import { LINGER_MS } from "../../src/speaker/forward-plan.js";
import {
  HandoverForwarder,
  internalAddress,
  previousOwnerOf,
  strictReversePathInterfaces,
  type ForwardStepInput,
  type NftRunner,
} from "../../src/speaker/forward.js";
import { clusterView } from "../support/views.js";
import { planAnnouncements, type PlanNode } from "../../src/speaker/plan.js";

const VIP = "203.0.113.50";
const NODES = ["master-0", "master-1", "master-2"];
const node = (name: string): V1Node => ({
  status: {
    addresses: [
      { type: "InternalIP", address: `198.51.100.${11 + NODES.indexOf(name)}` },
      { type: "InternalIP", address: `2001:db8:2::${11 + NODES.indexOf(name)}` },
      { type: "ExternalIP", address: "203.0.113.11" },
    ],
  },
});

/** A started forwarder on master-1 (idle timeout 60 s unless given, limit 360 s). */
async function startedForwarder(
  nft: NftRunner,
  { idleMs = 60_000, registry = new Registry() }: { idleMs?: number; registry?: Registry } = {},
): Promise<HandoverForwarder> {
  const f = new HandoverForwarder(
    "master-1",
    { idleMs, limitMs: 360_000 },
    registry,
    pino({ level: "silent" }),
    nft,
  );
  await f.start();
  return f;
}

function recorder(listing = "") {
  const calls: { args: string[]; input?: string }[] = [];
  const nft = (args: string[], input?: string) => {
    calls.push({ args, input });
    return Promise.resolve(args[0] === "-j" ? listing : "");
  };
  return { calls, nft, loads: () => calls.filter((c) => c.args[0] === "-f").map((c) => c.input) };
}

const step = (now: number, owner: string, owned: string[], over: Partial<ForwardStepInput> = {}) => ({
  now,
  plans: [{ ip: VIP, owner, candidates: NODES }],
  gone: [] as string[],
  owned: new Set(owned),
  view: clusterView(NODES),
  node,
  ...over,
});

describe("the handover forwarding edge", () => {
  afterEach(() => vi.useRealTimers());

  it("cleans up at start, loads rules once per change, waits for them before announcing, removes them at the end", async () => {
    const r = recorder();
    const registry = new Registry();
    const f = await startedForwarder(r.nft, { registry });
    expect(r.loads()).toEqual([renderCleanup()]);
    f.step(step(0, "master-0", []));
    expect(f.loading(VIP)).toBeUndefined();
    f.step(step(40, "master-1", [VIP]));
    const loading = f.loading(VIP);
    expect(loading).toBeDefined();
    await loading;
    expect(f.loading(VIP)).toBeUndefined();
    expect(r.loads()).toHaveLength(2);
    expect(r.loads()[1]).toContain(`elements = { ${VIP} }`);
    expect(r.loads()[1]).toContain(`elements = { ${VIP} : 198.51.100.11 }`);
    // Nothing changes: nothing is loaded again.
    f.step(step(80, "master-1", [VIP]));
    expect(r.loads()).toHaveLength(2);
    expect(await registry.getSingleMetricAsString("floatip_forward_grace_periods")).toContain(
      "floatip_forward_grace_periods 1",
    );
    // Handing the IP on ends the grace period after the linger and removes the tables.
    f.step(step(120, "master-2", []));
    expect(r.loads()).toHaveLength(2);
    f.step(step(120 + LINGER_MS, "master-2", []));
    await f.close();
    expect(r.loads().slice(2)).toEqual([renderCleanup()]);
    expect(await registry.getSingleMetricAsString("floatip_forward_grace_periods_total")).toContain(
      'reason="notOwner"} 1',
    );
    // After close, steps do nothing.
    f.step(step(160, "master-0", [VIP]));
    expect(r.loads()).toHaveLength(3);
  });

  it("remembers the previous owner across steps that named nobody (this node isolated for a moment)", async () => {
    const r = recorder();
    const f = await startedForwarder(r.nft);
    f.step(step(0, "master-2", []));
    f.step({ ...step(40, "master-1", []), plans: [{ ip: VIP, owner: undefined, candidates: [] }] });
    f.step({
      ...step(80, "master-1", [VIP]),
      plans: [{ ip: VIP, owner: "master-1", candidates: ["master-1"] }],
    });
    await f.loading(VIP);
    expect(r.loads().at(-1)).toContain(`elements = { ${VIP} : 198.51.100.13 }`);
    await f.close();
  });

  it("starts nothing after a crash of the previous owner", async () => {
    const r = recorder();
    const f = await startedForwarder(r.nft);
    f.step(step(0, "master-0", []));
    f.step(step(40, "master-1", [VIP], { view: clusterView(NODES, { "master-0": { alive: false } }) }));
    expect(f.loading(VIP)).toBeUndefined();
    await f.close();
    expect(r.loads().every((t) => t === renderCleanup())).toBe(true);
  });

  it("IPs taken in one step wait for their load together, at most 3 s, with one timer", async () => {
    vi.useFakeTimers();
    const IPS = ["203.0.113.50", "203.0.113.51", "203.0.113.52"];
    // The cleanup at start completes; the forwarding rules never finish loading.
    let loads = 0;
    const nft = (args: string[]) =>
      args[0] === "-f" && ++loads > 1 ? new Promise<string>(() => {}) : Promise.resolve("");
    const f = await startedForwarder(nft);
    const plans = (owner: string) => IPS.map((ip) => ({ ip, owner, candidates: NODES }));
    f.step(step(0, "master-0", [], { plans: plans("master-0") }));
    const timersBefore = vi.getTimerCount();
    f.step(step(40, "master-1", IPS, { plans: plans("master-1") }));
    const waits = IPS.map((ip) => f.loading(ip));
    expect(waits[0]).toBeDefined();
    expect(new Set(waits).size).toBe(1);
    expect(vi.getTimerCount() - timersBefore).toBeLessThanOrEqual(2); // the 3 s wait (+ the counter poll)
    let done = 0;
    for (const w of waits) void w!.then(() => done++);
    await vi.advanceTimersByTimeAsync(2999);
    expect(done).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(3);
    expect(IPS.map((ip) => f.loading(ip))).toEqual([undefined, undefined, undefined]);
  });

  it("a previous owner heard but still rejoining (a restarted view settling) counts as up", async () => {
    const r = recorder();
    const f = await startedForwarder(r.nft);
    f.step(step(0, "master-0", []));
    const rejoining = clusterView(NODES, {
      "master-0": { alive: false, reason: "rejoining: heard for 120 ms of 1000 ms" },
    });
    f.step(step(40, "master-1", [VIP], { view: rejoining }));
    expect(f.loading(VIP)).toBeDefined();
    await f.close();
  });

  it("counts forwarded packets and flows from the counters, and a quiet IP ends after the idle timeout", async () => {
    vi.useFakeTimers();
    const listing = (packets: number) =>
      JSON.stringify({
        nftables: [
          { set: { name: "flows", elem: [{ elem: { val: { concat: [VIP, "203.0.113.100", 40000] } } }] } },
          { set: { name: "forwarded", elem: [{ elem: { val: VIP, counter: { packets, bytes: 0 } } }] } },
        ],
      });
    let packets = 5;
    const calls: string[][] = [];
    const nft = (args: string[]) => {
      calls.push(args);
      return Promise.resolve(args[0] === "-j" && args[3] === "ip" ? listing(packets) : "");
    };
    const registry = new Registry();
    const f = await startedForwarder(nft, { idleMs: 3000, registry });
    f.step(step(0, "master-0", []));
    f.step(step(40, "master-1", [VIP]));
    await f.loading(VIP);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await registry.getSingleMetricAsString("floatip_forwarded_packets_total")).toContain(
      `ip="${VIP}"} 5`,
    );
    expect(await registry.getSingleMetricAsString("floatip_forwarded_flows")).toContain(`ip="${VIP}"} 1`);
    // Activity keeps it going past the idle timeout...
    f.step(step(2000, "master-1", [VIP]));
    packets = 9;
    await vi.advanceTimersByTimeAsync(1000);
    f.step(step(4000, "master-1", [VIP]));
    expect(await registry.getSingleMetricAsString("floatip_forwarded_packets_total")).toContain(
      `ip="${VIP}"} 9`,
    );
    // ...silence ends it.
    await vi.advanceTimersByTimeAsync(3000);
    f.step(step(7500, "master-1", [VIP]));
    expect(await registry.getSingleMetricAsString("floatip_forward_grace_periods_total")).toContain(
      'reason="idle"} 1',
    );
    await f.close();
  });

  it("reads thousands of grace periods' counters less often, one reading at a time, only from the family in grace", async () => {
    vi.useFakeTimers();
    const lists: string[][] = [];
    let release: (() => void) | undefined;
    const nft = (args: string[]) => {
      if (args[0] !== "-j") return Promise.resolve("");
      lists.push(args);
      // The first reading hangs until released (a slow nft).
      return lists.length === 1
        ? new Promise<string>((r) => (release = () => r("{}")))
        : Promise.resolve("{}");
    };
    const f = await startedForwarder(nft);
    const ips = Array.from({ length: 2000 }, (_, i) => `2001:db8:5::${(i + 1).toString(16)}`);
    const plans = (owner: string) => ips.map((ip) => ({ ip, owner, candidates: NODES }));
    f.step(step(0, "master-0", [], { plans: plans("master-0") }));
    f.step(step(40, "master-1", ips, { plans: plans("master-1"), owned: new Set(ips) }));
    await vi.advanceTimersByTimeAsync(9_000);
    expect(lists).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lists).toEqual([["-j", "list", "table", "ip6", "floatip"]]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lists).toHaveLength(1);
    release!();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lists).toHaveLength(2);
    await f.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lists).toHaveLength(2);
  });

  it("logs one line per previous owner when thousands of grace periods start or end together", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const f = new HandoverForwarder(
      "master-1",
      { idleMs: 1000, limitMs: 360_000 },
      new Registry(),
      log,
      recorder().nft,
    );
    await f.start();
    const ips = Array.from({ length: 2000 }, (_, i) => `2001:db8:5::${(i + 1).toString(16)}`);
    const plans = (owner: string) => ips.map((ip) => ({ ip, owner, candidates: NODES }));
    const owned = new Set(ips);
    f.step(step(0, "master-0", [], { plans: plans("master-0") }));
    f.step(step(40, "master-1", ips, { plans: plans("master-1"), owned }));
    f.step(step(2000, "master-1", ips, { plans: [], owned }));
    const of = (event: string) => lines.filter((l) => l.event === event);
    expect(of("forwardStarted")).toHaveLength(1);
    expect(of("forwardStarted")[0]).toMatchObject({ from: "master-0", count: 2000, ip: ips[0] });
    expect(of("forwardEnded")).toHaveLength(1);
    expect(of("forwardEnded")[0]).toMatchObject({ from: "master-0", reason: "idle", count: 2000 });
    await f.close();
  });

  it("logs and carries on when nft fails (no NET_ADMIN, no binary)", async () => {
    const f = await startedForwarder(() => Promise.reject(new Error("Operation not permitted")));
    f.step(step(0, "master-0", []));
    f.step(step(40, "master-1", [VIP]));
    await f.loading(VIP);
    await f.close();
  });
});

describe("helpers", () => {
  it("the previous owner: the last plan's owner, else the ranking's pick without this node", () => {
    const now = new Map([[VIP, { ip: VIP, owner: "master-1", candidates: NODES }]]);
    expect(previousOwnerOf(new Map([[VIP, "master-2"]]), now, "master-1", VIP)).toBe("master-2");
    // 203.0.113.50 ranks master-1, master-0, master-2.
    expect(previousOwnerOf(new Map([[VIP, undefined]]), now, "master-1", VIP)).toBe("master-0");
    expect(previousOwnerOf(new Map(), new Map(), "master-1", VIP)).toBeUndefined();
    // An isolated step planned this node without it taking the IP.
    expect(previousOwnerOf(new Map([[VIP, "master-1"]]), now, "master-1", VIP)).toBe("master-0");
  });

  describe("with preferredNodeSelectors (restarted speaker: no earlier step named an owner)", () => {
    // 203.0.113.50 ranks master-1, master-0, master-2 by hash; master-1 and master-2 are preferred
    // (zone a, weight 10): with everyone up master-1 owns the IP, without it master-2 (not master-0).
    const nodes = new Map<string, PlanNode>(
      NODES.map((n) => [
        n,
        {
          labels: (n === "master-0" ? {} : { zone: "a" }) as Record<string, string>,
          networkUnavailable: false,
          unschedulable: false,
        },
      ]),
    );
    const plan = (self: string, view = clusterView(NODES)) =>
      planAnnouncements({
        self,
        now: 0,
        view,
        nodes,
        advertisements: [
          {
            name: "pref",
            selectsPool: () => true,
            selectsNode: () => true,
            interfaces: ["ens3"],
            preferredWeight: (l) => (l.zone === "a" ? 10 : 0),
          },
        ],
        services: [
          {
            key: "ns/envoy",
            ips: [VIP],
            pool: "pool",
            externalTrafficPolicy: "Cluster",
            hasReadyEndpoint: true,
            readyEndpointNodes: new Set(),
          },
        ],
        current: new Map(),
        options: { excludeCordoned: true, handoverTimeoutMs: 3000 },
      })[0]!;

    it("falls back to the planner's owner without this node, preferences included", () => {
      const mine = plan("master-1");
      expect(mine.owner).toBe("master-1");
      // What the planner chose while master-1 was away.
      const whileAway = plan("master-2", clusterView(NODES, { "master-1": { alive: false } })).owner;
      expect(whileAway).toBe("master-2");
      expect(previousOwnerOf(new Map(), new Map([[VIP, mine]]), "master-1", VIP)).toBe(whileAway);
      // Without the scores the plain ranking would have named master-0.
      expect(
        previousOwnerOf(new Map(), new Map([[VIP, { ...mine, scores: undefined }]]), "master-1", VIP),
      ).toBe("master-0");
    });

    it("a peer that announces the IP is the previous owner, candidate or not (leaving, cordoned)", () => {
      const mine = plan("master-1");
      const now = new Map([[VIP, { ...mine, candidates: ["master-1", "master-2"] }]]);
      expect(previousOwnerOf(new Map(), now, "master-1", VIP, ["master-0"])).toBe("master-0");
      // This node's own announcement says nothing about the previous owner.
      expect(previousOwnerOf(new Map(), now, "master-1", VIP, ["master-1"])).toBe("master-2");
      // An owner an earlier step planned still comes first.
      expect(previousOwnerOf(new Map([[VIP, "master-2"]]), now, "master-1", VIP, ["master-0"])).toBe(
        "master-2",
      );
    });

    it("a restarted speaker forwards to the node that announced the IP, not to the ranking's pick", async () => {
      const r = recorder();
      const f = await startedForwarder(r.nft);
      f.step({
        ...step(0, "master-1", [VIP]),
        plans: [plan("master-1")],
        view: clusterView(NODES, { "master-2": { announcing: new Set([VIP]) } }),
      });
      await f.loading(VIP);
      expect(r.loads().at(-1)).toContain(`elements = { ${VIP} : 198.51.100.13 }`);
      await f.close();
    });
  });

  it("picks the previous owner's InternalIP of the floating IP's family", () => {
    expect(internalAddress(node("master-0"), VIP)).toBe("198.51.100.11");
    expect(internalAddress(node("master-0"), "2001:db8:1::50")).toBe("2001:db8:2::11");
    expect(internalAddress(undefined, VIP)).toBeUndefined();
    expect(
      internalAddress({ status: { addresses: [{ type: "ExternalIP", address: "203.0.113.11" }] } }, VIP),
    ).toBeUndefined();
  });

  it("finds interfaces whose effective rp_filter is strict", () => {
    const root = mkdtempSync(join(tmpdir(), "floatip-rp-"));
    try {
      const set = (name: string, v: number) => {
        mkdirSync(join(root, name), { recursive: true });
        writeFileSync(join(root, name, "rp_filter"), `${v}\n`);
      };
      set("all", 0);
      set("default", 1);
      set("lo", 1);
      set("eth1", 1);
      set("ens3", 2);
      set("ens4", 0);
      expect(strictReversePathInterfaces(root)).toEqual(["eth1"]);
      set("all", 1);
      expect(strictReversePathInterfaces(root)).toEqual(["eth1", "ens4"].sort());
      expect(strictReversePathInterfaces(join(root, "missing"))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
