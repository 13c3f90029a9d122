/**
 * All-to-all against the sparse heartbeat fan-out with real speakers (issue 13): a lab with N
 * speaker namespaces (default 10) and one Service, the speakers from the tsc build, one lab per
 * mode. Idle window: datagrams per second each speaker's namespace sends and receives, CPU and RSS
 * per speaker (from /proc), owner changes and event-loop stalls the speakers logged. Then crash
 * trials: the owner is killed with its links down (lab/faults.ts "crash"), the outage is what a
 * 10 ms HTTP prober through the VIP saw (spanMs: first to last failed or slow probe, as in
 * src/ops/timeline.ts), and the owner is restored before the next trial.
 *
 *   npm run build && npx tsx bench/speaker-fanout.ts [--nodes 10] [--fanout all|sparse|both]
 *     [--seconds 30] [--trials 3] [--out bench/results/speaker-fanout.json]
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setPriority } from "node:os";
import { parseArgs } from "node:util";
import { VIP } from "../lab/addresses.js";
import { LabCluster } from "../lab/cluster.js";
import { restoreNode } from "../lab/faults.js";
import type { LabProcess } from "../lab/lab.js";
import { ProbeRun } from "../lab/probe-run.js";
import { assignStatus, seedEnvoyService } from "../lab/seed.js";
import { run } from "../lab/sh.js";
import { announcedAt, announcers, crashNode, speakerReady } from "../lab/speakers.js";
import { sleep, waitFor } from "../src/common/wait.js";
import { rankNodes } from "../src/election/ranking.js";
import { summarizeProbes } from "../src/ops/timeline.js";
import { loadAverage, sampleProcess, startBuiltSpeaker, type ProcSample } from "./lab-speakers.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "10" },
    fanout: { type: "string", default: "both" },
    seconds: { type: "string", default: "30" },
    trials: { type: "string", default: "3" },
    out: { type: "string", default: "bench/results/speaker-fanout.json" },
  },
});
const nodes = Number(values.nodes);
const seconds = Number(values.seconds);
const trials = Number(values.trials);
const modes = values.fanout === "both" ? ["all", "sparse"] : [values.fanout!];
const log = (line: string) => process.stderr.write(`[speaker-fanout] ${line}\n`);
const url = `http://${VIP}/`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** Log lines of these events since `from` (ms since the epoch), over every speaker's log. */
function countEvents(procs: LabProcess[], events: string[], from: number): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(events.map((e) => [e, 0]));
  for (const p of procs) {
    for (const line of readFileSync(p.logFile, "utf8").split("\n")) {
      const event = /"event":"(\w+)"/.exec(line)?.[1];
      const time = /"time":"([^"]+)"/.exec(line)?.[1];
      if (event && event in out && time && Date.parse(time) >= from) out[event]!++;
    }
  }
  return out;
}

async function idle(speakers: LabProcess[]) {
  const before = speakers.map((p) => sampleProcess(p.child.pid!));
  const loadBefore = loadAverage();
  const from = Date.now();
  const started = performance.now();
  await sleep(seconds * 1000); // a measurement window, not a wait for an event
  const s = (performance.now() - started) / 1000;
  const after = speakers.map((p) => sampleProcess(p.child.pid!));
  const rate = (f: (x: ProcSample) => number, i: number) => (f(after[i]!) - f(before[i]!)) / s;
  const perSpeaker = speakers.map((p, i) => ({
    node: p.node!,
    cpuPercent: Number((100 * rate((x) => x.cpuS, i)).toFixed(2)),
    rssMb: Number(after[i]!.rssMb.toFixed(1)),
    sentPerS: Math.round(rate((x) => x.udpOut, i)),
    receivedPerS: Math.round(rate((x) => x.udpIn, i)),
  }));
  const events = countEvents(speakers, ["serviceAnnounced", "speakerStalled"], from);
  return { seconds: Number(s.toFixed(1)), load: [loadBefore, loadAverage()], perSpeaker, events };
}

async function crashTrial(c: LabCluster, owner: string, successors: string[]) {
  const prober = new ProbeRun(c.lab, url);
  await prober.ready();
  // The prober is the instrument: run niced with the bench on a loaded machine it misses part of
  // the gap (too few probes). It alone runs at the default priority (the speakers ask for -10).
  for (const pid of (await run("ip", ["netns", "pids", c.lab.clientNs])).split(/\s+/).filter(Boolean))
    setPriority(Number(pid), 0);
  // The client must reach the VIP through the owner (its ARP entry may still name a previous one).
  const viaOwner = await waitFor(
    `served via ${owner}`,
    () => prober.results.some((p) => p.ok && p.body.endsWith(` via ${owner}`)),
    30_000,
  ).catch(() => false);
  const servedBefore = prober.results.filter((p) => p.ok).at(-1)?.body;
  const crashAt = await crashNode(c.lab, c.lab.node(owner));
  await waitFor(
    "a new owner serves",
    () => prober.results.some((p) => p.ok && p.t > crashAt && successors.some((n) => p.body.endsWith(n))),
    30_000,
  );
  const moved = summarizeProbes(await prober.stop(), crashAt);
  const newOwners = (await announcers(c.lab, VIP)).filter((n) => n !== owner);
  const announced = newOwners.map((n) => announcedAt(c.lab, n, VIP, crashAt) ?? Number.NaN);
  await restoreNode(c.lab, c.lab.node(owner));
  await waitFor(
    "all speakers ready",
    async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
    180_000,
  );
  await waitFor("the owner back alone", async () => (await announcers(c.lab, VIP)).join() === owner, 120_000);
  return {
    // From the crash to the new owner's announcement (its log): needs no prober.
    takeoverMs: Math.min(...announced) - crashAt,
    // From the first failed or slow (> 250 ms: a SYN to the dead MAC, retransmitted) probe to the last.
    spanMs: moved.spanMs,
    unavailableMs: moved.unavailableMs,
    failed: moved.failed,
    slow: moved.slow,
    viaOwner,
    servedBefore,
    servedAfter: moved.servedBy.map((x) => x.body),
    newOwners,
    load: loadAverage(),
  };
}

async function runMode(mode: string) {
  const c = await LabCluster.create({ nodes, workers: 1, lbClass: "metallb", progress: log });
  try {
    const svc = await seedEnvoyService(c, VIP);
    await assignStatus(c.kc, svc.namespace, svc.name, [VIP], "envoy-gateway-pool");
    const args = ["--ownership", "strict", "--heartbeat-fanout", mode];
    const speakers = c.lab.nodes.map((node) => startBuiltSpeaker(c, node, args));
    const ranking = rankNodes(
      c.lab.nodes.map((n) => n.name),
      VIP,
    );
    await waitFor(
      "speakers ready",
      async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
      180_000,
    );
    await waitFor(
      "the owner alone",
      async () => (await announcers(c.lab, VIP)).join() === ranking[0],
      120_000,
    );
    await sleep(10_000); // settle: start-up work, first GC
    log(`${mode}: idle window of ${seconds} s`);
    const idleRun = await idle(speakers);
    log(`${mode}: ${JSON.stringify(idleRun)}`);
    const crashes = [];
    for (let t = 0; t < trials; t++) {
      const trial = await crashTrial(c, ranking[0]!, ranking.slice(1));
      log(`${mode}: crash ${t + 1}/${trials}: ${JSON.stringify(trial)}`);
      crashes.push(trial);
    }
    const cpu = idleRun.perSpeaker.map((p) => p.cpuPercent);
    const sent = idleRun.perSpeaker.map((p) => p.sentPerS);
    const summary = {
      cpuPercentMedian: median(cpu),
      cpuPercentMax: Math.max(...cpu),
      sentPerSMedian: median(sent),
      sentPerSMax: Math.max(...sent),
      takeoverMs: crashes.map((x) => x.takeoverMs),
      spanMs: crashes.map((x) => x.spanMs),
      unavailableMs: crashes.map((x) => x.unavailableMs),
    };
    return { mode, nodes, summary, idle: idleRun, crashes };
  } finally {
    if (process.env.FLOATIP_DEBUG)
      cpSync(c.lab.logDir, `/tmp/speaker-fanout-${mode}-logs`, { recursive: true });
    await c.destroy();
  }
}

const results = [];
for (const mode of modes) results.push(await runMode(mode));
const result = { date: new Date().toISOString(), build: "tsc (dist/)", results };
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
log(JSON.stringify(results.map((r) => ({ mode: r.mode, ...r.summary }))));
