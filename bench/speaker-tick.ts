/**
 * The speaker's per-tick planning cost at scale, pure parts only (no API server, no sockets):
 * 5,000 LoadBalancer Services from an IPv6 pool and 20,000 ClusterIP Services, each with an
 * EndpointSlice, fed to the model as watch events; then, per 40 ms tick, model → plan → reconcile
 * for a 3-node member view (a new view object each tick, as membership gives one). Planning is
 * memoized per Service (plan-memo.ts) unless --full. Issue 13 target: tick p99 <= 2 ms.
 *
 * --bad-input adds issue 13's bad input: the pool gains a million-address range (2001:db8:2::/108),
 * one Service lists 1,000 IPs from it in its status (its EndpointSlice churns every tick), and 400
 * EndpointSlice updates arrive per tick (10,000/s) spread over all slices, each moving its endpoint
 * to another node. The CPU spent on those watch events between ticks is measured beside the tick.
 *
 * --crashes: master-1 dies at tick 25 of every 50 and returns at tick 45; peers' heartbeats list the
 * IPs the plans gave them, so the step after a death re-plans and takes over what master-1 held.
 * Those ticks are reported apart (crashTickMs), with the IPs this node took.
 *
 *   npx tsx bench/speaker-tick.ts [--ticks 500] [--full] [--churn 1] [--bad-input] [--crashes] [--out bench/results/speaker-tick.json]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { ANNOTATION_IP_ALLOCATED_FROM_POOL } from "../src/api/annotations.js";
import type { Service } from "../src/api/types.js";
import type { ClusterView } from "../src/election/membership.js";
import { ModelBuilder } from "../src/speaker/model.js";
import { planAnnouncements } from "../src/speaker/plan.js";
import { PlanMemo } from "../src/speaker/plan-memo.js";
import { reconcile, type Held } from "../src/speaker/reconcile.js";
import { clusterView } from "../test/support/views.js";

const { values } = parseArgs({
  options: {
    ticks: { type: "string", default: "500" },
    lb: { type: "string", default: "5000" },
    clusterip: { type: "string", default: "20000" },
    out: { type: "string", default: "bench/results/speaker-tick.json" },
    /** Re-plan every Service every tick (the cost before plan-memo.ts). */
    full: { type: "boolean", default: false },
    /** EndpointSlice updates per tick (0 = an idle cluster). */
    churn: { type: "string", default: "1" },
    /** The million-address range, the 1,000-IP Service and 400 slice updates per tick (above). */
    "bad-input": { type: "boolean", default: false },
    /** Every 50 ticks master-1 crashes (tick 25) and returns (tick 45): the takeover's pure cost. */
    crashes: { type: "boolean", default: false },
    /**
     * --crashes: full collections before each crash tick, as a speaker sees between two failovers
     * (9-12 in 5 quiet minutes at scale): how much slower the take-over runs after them (it did,
     * and --no-flush-bytecode did not help: bench/README.md); needs node --expose-gc.
     */
    "age-gcs": { type: "string", default: "0" },
  },
});
const ageGcs = Number(values["age-gcs"]);
const fullGc = (globalThis as { gc?: () => void }).gc;
if (ageGcs > 0 && !fullGc) throw new Error("--age-gcs needs node --expose-gc (NODE_OPTIONS=--expose-gc)");
const bad = values["bad-input"];
/** IPs the wide Service lists in its status (--bad-input). */
const WIDE_IPS = 1000;
const NODES = ["master-0", "master-1", "master-2"];
const lb = Number(values.lb);
const clusterIp = Number(values.clusterip);

const builder = new ModelBuilder(undefined);
const loadStart = performance.now();
const poolAddresses = bad ? ["2001:db8:1::/112", "2001:db8:2::/108"] : ["2001:db8:1::/112"];
builder.pool("add", { metadata: { name: "v6" }, spec: { addresses: poolAddresses } });
builder.advertisement("add", {
  metadata: { name: "l2" },
  spec: { ipAddressPools: ["v6"], interfaces: ["ens3"] },
});
for (const n of NODES) builder.node("add", { metadata: { name: n, labels: {} } });
const service = (i: number, type: "LoadBalancer" | "ClusterIP"): Service => ({
  metadata: {
    namespace: `ns-${i % 50}`,
    name: `svc-${type}-${i}`,
    annotations:
      type === "LoadBalancer"
        ? { [ANNOTATION_IP_ALLOCATED_FROM_POOL]: "v6" }
        : ({} as Record<string, string>),
  },
  spec: { type },
  status:
    type === "LoadBalancer"
      ? { loadBalancer: { ingress: [{ ip: `2001:db8:1::${(i + 1).toString(16)}` }] } }
      : {},
});
const slice = (i: number, type: string, node = NODES[i % 3]) => ({
  addressType: "IPv4",
  metadata: {
    namespace: `ns-${i % 50}`,
    name: `svc-${type}-${i}-abcde`,
    labels: { "kubernetes.io/service-name": `svc-${type}-${i}` },
  },
  endpoints: [{ addresses: ["10.0.0.1"], nodeName: node, conditions: { ready: true } }],
});
const wide: Service = {
  metadata: {
    namespace: "ns-wide",
    name: "svc-wide",
    annotations: { [ANNOTATION_IP_ALLOCATED_FROM_POOL]: "v6" },
  },
  spec: { type: "LoadBalancer" },
  status: {
    loadBalancer: {
      ingress: Array.from({ length: WIDE_IPS }, (_, i) => ({ ip: `2001:db8:2::${(i + 1).toString(16)}` })),
    },
  },
};
const wideSlice = (t: number) => ({
  ...slice(0, "wide", NODES[t % 3]),
  metadata: {
    namespace: "ns-wide",
    name: "svc-wide-abcde",
    labels: { "kubernetes.io/service-name": "svc-wide" },
  },
});
for (let i = 0; i < lb; i++) {
  builder.service("add", service(i, "LoadBalancer"));
  builder.slice("add", slice(i, "LoadBalancer"));
}
for (let i = 0; i < clusterIp; i++) {
  builder.service("add", service(i, "ClusterIP"));
  builder.slice("add", slice(i, "ClusterIP"));
}
if (bad) {
  builder.service("add", wide);
  builder.slice("add", wideSlice(0));
}
const loadMs = performance.now() - loadStart;

/** One tick's worth of EndpointSlice updates. */
function churnSlices(t: number): void {
  if (bad) {
    builder.slice("update", wideSlice(t));
    // Spread over every slice; each update moves the endpoint to the next node (a change the
    // planner reads), the worst case per event.
    for (let c = 0; c < churn; c++) {
      const n = t * churn + c;
      const i = Math.floor(n / 2) % (n % 2 === 0 ? lb : clusterIp);
      const type = n % 2 === 0 ? "LoadBalancer" : "ClusterIP";
      builder.slice("update", slice(i, type, NODES[(i + t) % 3]));
    }
    return;
  }
  // EndpointSlices change every tick (25/s each), as a churning cluster would.
  for (let c = 0; c < churn; c++) {
    const i = (t * churn + c) % lb;
    builder.slice("update", {
      ...slice(i, "LoadBalancer"),
      metadata: { ...slice(i, "LoadBalancer").metadata },
    });
  }
}

let held = new Map<string, Held>();
const samples: number[] = [];
const churn = Number(bad && values.churn === "1" ? 400 : values.churn);
/** CPU time per tick (user + system): on a loaded machine wall time mostly measures the queue. */
const cpuSamples: number[] = [];
const memo = new PlanMemo();
let memoPlans: readonly { ip: string; owner?: string }[] = [];
/** CPU spent on the watch events that arrived since the previous tick. */
const eventCpuSamples: number[] = [];
/** Services re-planned per tick. */
const replanned: number[] = [];
/** --crashes: each IP's owner as last planned (the peers' heartbeats list theirs), and crash ticks. */
const ownerOf = new Map<string, string>();
const crashSamples: number[] = [];
const tookPerCrash: number[] = [];
const crashAt = (t: number) => values.crashes && t % 50 === 25;
const crashed = (t: number) => values.crashes && t % 50 >= 25 && t % 50 < 45;
const peerView = (t: number): ClusterView => {
  const announcing = new Map(NODES.map((n) => [n, new Set<string>()]));
  for (const [ip, owner] of ownerOf) announcing.get(owner)?.add(ip);
  const over = Object.fromEntries(NODES.map((n) => [n, { announcing: announcing.get(n)! }]));
  if (crashed(t)) Object.assign(over["master-1"]!, { alive: false, eligible: false, announcing: new Set() });
  return clusterView(NODES, over);
};
for (let t = 0; t < Number(values.ticks); t++) {
  const eventCpu = process.cpuUsage();
  churnSlices(t);
  const ec = process.cpuUsage(eventCpu);
  eventCpuSamples.push((ec.user + ec.system) / 1000);
  // Built before the clock starts: membership hands the step its view.
  const view: ClusterView = values.crashes ? peerView(t) : clusterView(NODES);
  if (crashAt(t)) for (let g = 0; g < ageGcs; g++) fullGc!();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const heldBefore = held.size;
  const model = builder.model(["ens3"]);
  const input = {
    self: "master-0",
    now: t * 40,
    view,
    nodes: model.nodes,
    advertisements: model.advertisements,
    services: model.services,
    current: held,
    options: { excludeCordoned: true, handoverTimeoutMs: 3000 },
  };
  if (values.full) {
    held = reconcile(planAnnouncements(input), held, t * 40).held;
    replanned.push(model.services.length);
  } else {
    const round = memo.round(input);
    memoPlans = round.plans;
    held = reconcile(round.plans, held, t * 40, round.full ? undefined : round.gone).held;
    replanned.push(round.full ? model.services.length : new Set(round.plans.map((p) => p.service)).size);
  }
  const took = performance.now() - start;
  samples.push(took);
  if (crashAt(t)) {
    crashSamples.push(took);
    tookPerCrash.push(held.size - heldBefore);
  }
  if (values.crashes) for (const p of memoPlans) if (p.owner !== undefined) ownerOf.set(p.ip, p.owner);
  const cpu = process.cpuUsage(cpuStart);
  cpuSamples.push((cpu.user + cpu.system) / 1000);
}
// The first tick plans everything (start-up); the steady state is what the target is about.
const steady = (xs: number[]) => xs.slice(1).sort((a, b) => a - b);
const quantiles = (xs: number[]) => {
  const q = (p: number) => Number(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(2));
  return { p50: q(0.5), p99: q(0.99), max: q(1) };
};
const result = {
  date: new Date().toISOString(),
  lbServices: lb,
  clusterIpServices: clusterIp,
  slices: lb + clusterIp,
  loadEventsMs: Math.round(loadMs),
  ticks: samples.length,
  mode: values.full ? "full re-plan" : "memoized",
  badInput: bad,
  churnPerTick: churn,
  firstTickMs: Number(samples[0]!.toFixed(1)),
  tickMs: quantiles(steady(samples)),
  tickCpuMs: quantiles(steady(cpuSamples)),
  eventCpuMsPerTick: quantiles(steady(eventCpuSamples)),
  replannedPerTick: quantiles(steady(replanned)),
  wideServiceIpsHeld: [...held.keys()].filter((ip) => ip.startsWith("2001:db8:2::")).length,
  loadAverage: Number(loadavg()[0]!.toFixed(1)),
  ownedIps: held.size,
  ...(values.crashes
    ? {
        crashTickMs: quantiles(crashSamples.sort((a, b) => a - b)),
        tookPerCrash,
        ageGcs,
        execArgv: process.execArgv,
      }
    : {}),
  rssMb: Math.round(process.memoryUsage().rss / 1048576),
};
process.stderr.write(`${JSON.stringify(result)}\n`);
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
