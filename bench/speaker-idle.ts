/**
 * Idle cost of the speaker (issue 13 target: <= 1 % of a core and <= 80 MB RSS per speaker):
 * the lab with 3 nodes and 1 Service, speakers run from the tsc build (`npm run build` first),
 * sampled from /proc over a window once they have settled.
 *
 *   npm run build && npx tsx bench/speaker-idle.ts [--seconds 30] [--out bench/results/speaker-idle.json]
 *     [--cpu-prof-dir DIR]   (a V8 CPU profile per speaker, written when the speakers stop)
 *     [--node-args="..."]    (Node flags for the speakers; by default the chart's NODE_OPTIONS)
 *     [--env NAME=VALUE]...  (more environment for the speakers, e.g. MALLOC_ARENA_MAX=2)
 *     [--own-cpu]            (master-0's event loop alone on CPU 0, every other thread on the rest:
 *                             a node with a core to spare, not three nodes on two CPUs)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { VIP } from "../lab/addresses.js";
import { LabCluster } from "../lab/cluster.js";
import { seedEnvoyService, assignStatus } from "../lab/seed.js";
import { announcers, speakerMetric, speakerReady } from "../lab/speakers.js";
import { waitFor } from "../src/common/wait.js";
import { gcDeltas, ownQuantiles, phaseQuantiles, scrapeAll, tickQuantiles } from "./speaker-metrics.js";
import {
  CHART_NODE_OPTIONS,
  loadAverage,
  giveMainThreadOwnCpu,
  ownCpuPlan,
  pinCpus,
  sampleProcess,
  sampleThreads,
  sampleThreadSwitches,
  startBuiltSpeaker,
  stopForProfiles,
} from "./lab-speakers.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    out: { type: "string", default: "bench/results/speaker-idle.json" },
    "cpu-prof-dir": { type: "string" },
    "node-args": { type: "string", default: CHART_NODE_OPTIONS.join(" ") },
    "own-cpu": { type: "boolean", default: false },
    env: { type: "string", multiple: true, default: [] },
  },
});
const ownCpu = values["own-cpu"] ? ownCpuPlan() : undefined;
// Before the lab starts: everything it starts inherits the other CPUs.
if (ownCpu) pinCpus(process.pid, ownCpu.othersCpus);
const seconds = Number(values.seconds);
const log = (line: string) => process.stderr.write(`[speaker-idle] ${line}\n`);
const cluster = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb", progress: log });
try {
  const lab = cluster.lab;
  const svc = await seedEnvoyService(cluster, VIP);
  await assignStatus(cluster.kc, svc.namespace, svc.name, [VIP], "envoy-gateway-pool");
  const nodeArgs = [
    ...(values["cpu-prof-dir"]
      ? ["--cpu-prof", "--cpu-prof-interval", "100", "--cpu-prof-dir", values["cpu-prof-dir"]]
      : []),
    ...values["node-args"]!.split(" ").filter(Boolean),
  ];
  const env = Object.fromEntries(
    values.env!.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  const speakers = lab.nodes.map((node) => startBuiltSpeaker(cluster, node, [], nodeArgs, env));
  await waitFor(
    "speakers ready",
    async () => (await Promise.all(lab.nodes.map(speakerReady))).every(Boolean),
    60_000,
  );
  const pinned = ownCpu && giveMainThreadOwnCpu(lab.nodes[0]!.name, speakers[0]!.child.pid!, ownCpu);
  await waitFor("one announcer", async () => (await announcers(lab, VIP)).length === 1, 30_000);
  // Idle means no handover grace period running: one polls nft every second (the start-up move
  // from the first speaker ready to the ranking's owner starts one; it ends 60 s after its last packet).
  log("waiting for start-up grace periods to end (up to 90 s)");
  await waitFor(
    "no grace period",
    async () =>
      (await Promise.all(lab.nodes.map((n) => speakerMetric(n, "floatip_forward_grace_periods")))).every(
        (v) => v === 0,
      ),
    90_000,
  );
  await new Promise((r) => setTimeout(r, 10_000)); // settle: start-up work, first GC
  // Scraped outside the sampled window: rendering /metrics is not idle work.
  const scrapesBefore = await scrapeAll(lab.nodes);
  const before = speakers.map((p) => sampleProcess(p.child.pid!));
  const threadsBefore = speakers.map((p) => sampleThreads(p.child.pid!));
  const switchesBefore = speakers.map((p) => sampleThreadSwitches(p.child.pid!));
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsedS = (performance.now() - started) / 1000;
  const after = speakers.map((p) => sampleProcess(p.child.pid!));
  const threadsAfter = speakers.map((p) => sampleThreads(p.child.pid!));
  const switchesAfter = speakers.map((p) => sampleThreadSwitches(p.child.pid!));
  const scrapesAfter = await scrapeAll(lab.nodes);
  const perSpeaker = speakers.map((p, i) => ({
    node: p.node,
    cpuPercent: Number(((100 * (after[i]!.cpuS - before[i]!.cpuS)) / elapsedS).toFixed(2)),
    rssMb: Number(after[i]!.rssMb.toFixed(1)),
    rssAnonMb: Number(after[i]!.rssAnonMb.toFixed(1)),
    rssFileMb: Number(after[i]!.rssFileMb.toFixed(1)),
    threadCpuPercent: Object.fromEntries(
      [...threadsAfter[i]!].map(([name, cpuS]) => [
        name,
        Number(((100 * (cpuS - (threadsBefore[i]!.get(name) ?? 0))) / elapsedS).toFixed(2)),
      ]),
    ),
    // Step durations (drain included) and their phases, as bucket bounds.
    step: tickQuantiles(scrapesBefore[i]!, scrapesAfter[i]!),
    stepOwn: ownQuantiles(scrapesBefore[i]!, scrapesAfter[i]!),
    phases: phaseQuantiles(scrapesBefore[i]!, scrapesAfter[i]!),
    gc: gcDeltas(scrapesBefore[i]!, scrapesAfter[i]!),
    threadWakeupsPerSecond: Object.fromEntries(
      [...switchesAfter[i]!]
        .map(
          ([name, n]) =>
            [name, Number(((n - (switchesBefore[i]!.get(name) ?? 0)) / elapsedS).toFixed(1))] as const,
        )
        .filter(([, rate]) => rate > 0),
    ),
  }));
  const result = {
    date: new Date().toISOString(),
    loadAverage: loadAverage(),
    seconds: elapsedS,
    build: "tsc (dist/)",
    nodeArgs: values["node-args"],
    env,
    ownCpu: pinned,
    perSpeaker,
  };
  log(JSON.stringify(result));
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
  if (values["cpu-prof-dir"]) await stopForProfiles(speakers);
} finally {
  await cluster.destroy();
}
