/**
 * Soak: the lab with three speakers under a 10 ms HTTP probe, both cores busy with spinning
 * processes, for a while (default 10 minutes). Nothing fails, so nothing may move: any ownership
 * change, stall or failed probe is a spurious event.
 *
 *   npx tsx bench/soak.ts [--minutes 10] [--load 2] [--out bench/results/soak.json]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { VIP } from "../lab/addresses.js";
import { LabCluster } from "../lab/cluster.js";
import { ProbeRun } from "../lab/probe-run.js";
import { seedEnvoyService, assignStatus } from "../lab/seed.js";
import { announcers, speakerReady } from "../lab/speakers.js";
import { waitFor } from "../src/common/wait.js";
import { summarizeProbes } from "../src/ops/timeline.js";
import { monotonicNow } from "../src/common/clock.js";
import { startBurners } from "./load.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    load: { type: "string", default: "2" },
    out: { type: "string", default: "bench/results/soak.json" },
  },
});
const minutes = Number(values.minutes);
const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

const cluster = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb", progress: log });
const burners = startBurners(Number(values.load));
try {
  const lab = cluster.lab;
  const svc = await seedEnvoyService(cluster, VIP);
  await assignStatus(cluster.kc, svc.namespace, svc.name, [VIP], "envoy-gateway-pool");
  for (const node of lab.nodes) cluster.startSpeaker(node);
  await waitFor(
    "speakers ready",
    async () => (await Promise.all(lab.nodes.map(speakerReady))).every(Boolean),
    120_000,
  );
  await waitFor("one announcer", async () => (await announcers(lab, VIP)).length === 1, 60_000);
  const owner = (await announcers(lab, VIP))[0]!;
  await new Promise((r) => setTimeout(r, 3000));

  const start = monotonicNow(); // on the probes' clock (src/common/clock.ts)
  const logOffsets = new Map(
    lab.nodes.map((n) => [n.name, readFileSync(lab.latest(`speaker-${n.name}`)!.logFile, "utf8").length]),
  );
  const prober = new ProbeRun(lab, `http://${VIP}/`, 10, 2000, "soak-prober");
  log(`soaking for ${minutes} min with ${burners.count} spinning processes; owner ${owner}`);
  const end = start + minutes * 60_000;
  while (monotonicNow() < end) {
    await new Promise((r) => setTimeout(r, 30_000));
    const s = summarizeProbes(prober.results, start);
    log(
      `${((monotonicNow() - start) / 60_000).toFixed(1)} min: ${s.probes} probes, ${s.failed} failed, ${s.slow} slow, served by ${s.servedBy.map((x) => x.body).join(" -> ")}`,
    );
  }
  const summary = summarizeProbes(await prober.stop(), start);
  const events: Record<string, number> = {};
  for (const node of lab.nodes) {
    const text = readFileSync(lab.latest(`speaker-${node.name}`)!.logFile, "utf8").slice(
      logOffsets.get(node.name),
    );
    for (const line of text.split("\n")) {
      const m = /"event":"(serviceAnnounced|serviceWithdrawn|speakerStalled|handoverStarted)"/.exec(line);
      if (m) events[`${node.name} ${m[1]}`] = (events[`${node.name} ${m[1]}`] ?? 0) + 1;
    }
  }
  const result = {
    minutes,
    load: burners.count,
    owner,
    finalAnnouncers: await announcers(lab, VIP),
    probes: summary.probes,
    failed: summary.failed,
    slow: summary.slow,
    servedBy: summary.servedBy.map((s) => s.body),
    ownershipEvents: events,
  };
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result, null, 2));
} finally {
  burners.stop();
  await cluster.destroy();
}
