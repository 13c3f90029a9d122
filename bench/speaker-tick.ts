/**
 * The speaker's per-tick planning cost at scale, pure parts only (no API server, no sockets):
 * 5,000 LoadBalancer Services from an IPv6 pool and 20,000 ClusterIP Services, each with an
 * EndpointSlice, fed to the model as watch events; then, per 40 ms tick, model → plan → reconcile
 * for a 3-node member view. Issue 13 target: tick p99 <= 2 ms.
 *
 *   npx tsx bench/speaker-tick.ts [--ticks 500] [--out bench/results/speaker-tick.json]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { ANNOTATION_IP_ALLOCATED_FROM_POOL } from "../src/api/annotations.js";
import type { Service } from "../src/api/types.js";
import type { ClusterView } from "../src/election/membership.js";
import { ModelBuilder } from "../src/speaker/model.js";
import { planAnnouncements } from "../src/speaker/plan.js";
import { reconcile, type Held } from "../src/speaker/reconcile.js";
import { clusterView } from "../test/support/views.js";

const { values } = parseArgs({
  options: {
    ticks: { type: "string", default: "500" },
    lb: { type: "string", default: "5000" },
    clusterip: { type: "string", default: "20000" },
    out: { type: "string", default: "bench/results/speaker-tick.json" },
  },
});
const NODES = ["master-0", "master-1", "master-2"];
const lb = Number(values.lb);
const clusterIp = Number(values.clusterip);

const builder = new ModelBuilder(undefined);
const loadStart = performance.now();
builder.pool("add", { metadata: { name: "v6" }, spec: { addresses: ["2001:db8:1::/112"] } });
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
const slice = (i: number, type: string) => ({
  addressType: "IPv4",
  metadata: {
    namespace: `ns-${i % 50}`,
    name: `svc-${type}-${i}-abcde`,
    labels: { "kubernetes.io/service-name": `svc-${type}-${i}` },
  },
  endpoints: [{ addresses: ["10.0.0.1"], nodeName: NODES[i % 3], conditions: { ready: true } }],
});
for (let i = 0; i < lb; i++) {
  builder.service("add", service(i, "LoadBalancer"));
  builder.slice("add", slice(i, "LoadBalancer"));
}
for (let i = 0; i < clusterIp; i++) {
  builder.service("add", service(i, "ClusterIP"));
  builder.slice("add", slice(i, "ClusterIP"));
}
const loadMs = performance.now() - loadStart;

const view: ClusterView = clusterView(NODES);
let held = new Map<string, Held>();
const samples: number[] = [];
for (let t = 0; t < Number(values.ticks); t++) {
  // One EndpointSlice changes every tick (25/s), as a churning cluster would.
  builder.slice("update", {
    ...slice(t % lb, "LoadBalancer"),
    metadata: { ...slice(t % lb, "LoadBalancer").metadata },
  });
  const start = performance.now();
  const model = builder.model(["ens3"]);
  const plans = planAnnouncements({
    self: "master-0",
    now: t * 40,
    view,
    nodes: model.nodes,
    advertisements: model.advertisements,
    services: model.services,
    current: held,
    options: { excludeCordoned: true, handoverTimeoutMs: 3000 },
  });
  held = reconcile(plans, held, t * 40).held;
  samples.push(performance.now() - start);
}
samples.sort((a, b) => a - b);
const q = (p: number) =>
  Number(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(2));
const result = {
  date: new Date().toISOString(),
  lbServices: lb,
  clusterIpServices: clusterIp,
  slices: lb + clusterIp,
  loadEventsMs: Math.round(loadMs),
  ticks: samples.length,
  tickMs: { p50: q(0.5), p99: q(0.99), max: q(1) },
  ownedIps: held.size,
  rssMb: Math.round(process.memoryUsage().rss / 1048576),
};
process.stderr.write(`${JSON.stringify(result)}\n`);
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
