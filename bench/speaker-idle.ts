/**
 * Idle cost of the speaker (issue 13 target: <= 1 % of a core and <= 80 MB RSS per speaker):
 * the lab with 3 nodes and 1 Service, speakers run from the tsc build (`npm run build` first),
 * sampled from /proc over a window once they have settled.
 *
 *   npm run build && npx tsx bench/speaker-idle.ts [--seconds 30] [--out bench/results/speaker-idle.json]
 *     [--cpu-prof-dir DIR]   (a V8 CPU profile per speaker, written when the speakers stop)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { VIP } from "../lab/addresses.js";
import { LabCluster } from "../lab/cluster.js";
import { seedEnvoyService, assignStatus } from "../lab/seed.js";
import { announcers, speakerReady } from "../lab/speakers.js";
import { waitFor } from "../src/common/wait.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    out: { type: "string", default: "bench/results/speaker-idle.json" },
    "cpu-prof-dir": { type: "string" },
    // Node flags for the speakers, space-separated: by default the chart's NODE_OPTIONS.
    "node-args": { type: "string", default: "--max-semi-space-size=2" },
  },
});
const seconds = Number(values.seconds);
const log = (line: string) => process.stderr.write(`[speaker-idle] ${line}\n`);
const main = join(import.meta.dirname, "..", "dist", "src", "cli", "main.js");
if (!existsSync(main)) throw new Error(`${main} missing: run npm run build first`);

const CLK_TCK = 100;
/** utime + stime in seconds, and RSS in MB, of one process. */
function sample(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return { cpuS, rssMb: rssKb / 1024 };
}

const cluster = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb", progress: log });
try {
  const lab = cluster.lab;
  const svc = await seedEnvoyService(cluster, VIP);
  await assignStatus(cluster.kc, svc.namespace, svc.name, [VIP], "envoy-gateway-pool");
  const speakers = lab.nodes.map((node) =>
    lab.startOnNode(node, `speaker-${node.name}`, process.execPath, [
      ...(values["cpu-prof-dir"]
        ? ["--cpu-prof", "--cpu-prof-interval", "100", "--cpu-prof-dir", values["cpu-prof-dir"]]
        : []),
      ...values["node-args"]!.split(" ").filter(Boolean),
      main,
      "speaker",
      "--kubeconfig",
      cluster.nodeKubeconfig,
      "--node-name",
      node.name,
      // Where lab/speakers.ts reads it (the chart's default, InternalIP:7472).
      "--metrics-address",
      `${node.internalIp}:7472`,
      "--lb-class",
      "metallb",
      "--heartbeat-key-file",
      cluster.heartbeatKeyFile,
    ]),
  );
  await waitFor(
    "speakers ready",
    async () => (await Promise.all(lab.nodes.map(speakerReady))).every(Boolean),
    60_000,
  );
  await waitFor("one announcer", async () => (await announcers(lab, VIP)).length === 1, 30_000);
  await new Promise((r) => setTimeout(r, 10_000)); // settle: start-up work, first GC
  const before = speakers.map((p) => sample(p.child.pid!));
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsedS = (performance.now() - started) / 1000;
  const after = speakers.map((p) => sample(p.child.pid!));
  const perSpeaker = speakers.map((p, i) => ({
    node: p.node,
    cpuPercent: Number(((100 * (after[i]!.cpuS - before[i]!.cpuS)) / elapsedS).toFixed(2)),
    rssMb: Number(after[i]!.rssMb.toFixed(1)),
  }));
  const result = { date: new Date().toISOString(), seconds: elapsedS, build: "tsc (dist/)", perSpeaker };
  log(JSON.stringify(result));
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
  if (values["cpu-prof-dir"]) {
    // V8 writes the profile only on a clean exit: SIGTERM (the speaker leaves and exits), then wait.
    for (const p of speakers) p.child.kill("SIGTERM");
    await Promise.all(speakers.map((p) => p.exited));
  }
} finally {
  await cluster.destroy();
}
