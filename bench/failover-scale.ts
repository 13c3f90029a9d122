/**
 * Crash failover at issue 13's scale, in the lab: 3 control-plane nodes with speakers from the tsc
 * build, a worker with the Envoy stand-in, an IPv6 pool with 5,000 LoadBalancer Services (each
 * with its IP in status; one of them, 2001:db8:1::50, is the probed Service, real end to end:
 * client → VIP → kube-proxy → stand-in) and 20,000 ClusterIP Services, every Service with one
 * EndpointSlice of 5 endpoints (bench/scale-objects.ts). Once every IP is announced by exactly one
 * node (its first in the ranking, `--ownership strict`):
 *  - a quiet window: speaker CPU and RSS, tick lag from /metrics, stalls and ownership events, and
 *    the steps from the first scrape at which no speaker had writes pending apart (afterWrites);
 *  - N crash trials of the probed IP's owner (its speaker SIGKILLed first, then the node:
 *    lab/speakers.ts crashNode): the probed IP's unavailability to a new connection every 10 ms,
 *    its takeover (survivor's log), and how long until every IP the node announced is announced
 *    by a survivor (logs, and the survivors' /state); then the node is restored and the cluster
 *    settles again (the restored speaker re-lists everything and takes its IPs back).
 *
 *   npm run build && nice npx tsx bench/failover-scale.ts [--trials 10] [--lb 5000] [--clusterip 20000]
 *     [--endpoints 5] [--concurrency 16] [--bulk-proxied] [--headless] [--quiet-seconds 60]
 *     [--speaker-args="--suspect-after-ms 600"] [--node-args="--max-semi-space-size=2 --perf-basic-prof"]
 *     [--own-cpu]  (a never-crashed speaker's event loop alone on CPU 0, every other thread on the rest)
 *     [--out bench/results/failover-scale.json] [--keep-logs dir]
 *
 * --bulk-proxied leaves the bulk Services to kube-proxy (4 kube-proxies programming 25,000 Services);
 * by default they carry service.kubernetes.io/service-proxy-name, which kube-proxy filters out of its
 * watches while the speaker (like MetalLB's) reads them as any other Service. --headless makes the
 * ClusterIP Services headless (no cluster IP to allocate: see scale-objects.ts).
 *
 * kube-apiserver and etcd run at the default priority even when the bench is niced: a real control
 * plane does not share the speakers' CPU, and starved it fails their Lease renewals.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, setPriority } from "node:os";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { VIP6 } from "../lab/addresses.js";
import { startBackends } from "../lab/backends.js";
import { LabCluster } from "../lab/cluster.js";
import { restoreNode } from "../lab/faults.js";
import type { Lab } from "../lab/lab.js";
import { ProbeRun } from "../lab/probe-run.js";
import { applySeed, assignStatus } from "../lab/seed.js";
import { run } from "../lab/sh.js";
import { crashNode, speakerReady, speakerState } from "../lab/speakers.js";
import { monotonicNow } from "../src/common/clock.js";
import { sleep, waitFor } from "../src/common/wait.js";
import { rankNodes } from "../src/election/ranking.js";
import { KubeApi } from "../src/kube/api.js";
import { loadConnection } from "../src/kube/connection.js";
import { percentile, summarizeProbes, type Probe } from "../src/ops/timeline.js";
import {
  CHART_NODE_OPTIONS,
  giveMainThreadOwnCpu,
  ownCpuPlan,
  pinCpus,
  sampleProcess,
  startBuiltSpeaker,
  stopForProfiles,
} from "./lab-speakers.js";
import { bulkIp, createPool, createScale, type ScaleTimings } from "./scale-objects.js";
import {
  countEvents,
  eventLines,
  gcDeltas,
  ownQuantiles,
  phaseQuantiles,
  counterDeltas,
  scrapeAll,
  tickQuantiles,
  type Scrape,
} from "./speaker-metrics.js";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "10" },
    /** LoadBalancer Services, the probed one included. */
    lb: { type: "string", default: "5000" },
    clusterip: { type: "string", default: "20000" },
    endpoints: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
    "bulk-proxied": { type: "boolean", default: false },
    headless: { type: "boolean", default: false },
    "quiet-seconds": { type: "string", default: "60" },
    "speaker-args": { type: "string", default: "" },
    /** Node flags for the speakers (default: the chart's NODE_OPTIONS), e.g. --perf-basic-prof for perf. */
    "node-args": { type: "string", default: CHART_NODE_OPTIONS.join(" ") },
    "own-cpu": { type: "boolean", default: false },
    out: { type: "string", default: "bench/results/failover-scale.json" },
    "keep-logs": { type: "string" },
  },
});
const trials = Number(values.trials);
const lbCount = Number(values.lb);
const speakerArgs = ["--ownership", "strict", ...values["speaker-args"]!.split(" ").filter(Boolean)];
const nodeArgs = values["node-args"]!.split(" ").filter(Boolean);
const POOL = "v6-pool";
const URL = `http://[${VIP6}]/`;
/** Events that mean an IP moved or a speaker stalled (counted per trial and in the quiet window). */
const EVENTS = ["serviceAnnounced", "serviceWithdrawn", "handoverStarted", "speakerStalled"];
const log = (line: string) => process.stderr.write(`[failover-scale] ${line}\n`);
/** Window before a crash in which any ownership event or stall is reported with the trial. */
const PRE_CRASH_MS = 5000;
const load = () => loadavg().map((x) => Number(x.toFixed(1)));

/** A probe slower than this counts as unavailability (summarizeProbes' slowMs). */
const SLOW_PROBE_MS = 250;

interface Trial {
  at: string;
  owner: string;
  successor: string;
  /** Load average (1, 5, 15 min) just before the crash. */
  loadAverage: number[];
  /** IPs the crashed node announced. */
  crashedIps: number;
  /** From the first failed or slow (> 250 ms) probe to the last (summarizeProbes spanMs). */
  unavailableMs: number;
  longestOutageMs: number;
  failed: number;
  slow: number;
  probes: number;
  /** Crash → the probed IP's first announcement by a survivor (its log). */
  takeoverMs: number;
  /** Crash → the last of the crashed node's IPs announced by a survivor (their logs). */
  allIpsMs: number;
  /** Crashed IPs without a survivor's serviceAnnounced line after the crash (should be 0). */
  allIpsMissingInLogs: number;
  /** Crash → the survivors' /state together list every crashed IP (polled every 250 ms). */
  allIpsStateMs: number;
  /** Restore → every IP announced once, by its first-ranked node (the restored speaker re-lists). */
  restoreS: number;
  /** Each speaker's peak RSS (VmHWM) after the restore, by node. */
  peakRssMb: Record<string, number>;
  /**
   * Every failed or slow probe (after the crash, by its start) with its duration and carrier: where
   * the span of `unavailableMs` came from (one contiguous outage, or a stray slow probe later).
   */
  degradedProbes: { startMs: number; ms: number; ok: boolean; via: string }[];
  /** The survivors' slowStep lines from 1 s before the crash to 10 s after: their phases. */
  slowSteps: { node: unknown; afterCrashMs: number; ms: unknown; cpuWaitMs: unknown; phases: unknown }[];
  /** Each survivor's timeout for the owner just before the crash (its /state). */
  detectionTimeoutMs: Record<string, number | null>;
  speakerEvents: Record<string, number>;
  /** Events in the PRE_CRASH_MS before the crash: anything here means it did not start settled. */
  eventsBeforeCrash: Record<string, number>;
}

interface Result {
  date: string;
  build: "tsc (dist/)";
  lbServices: number;
  clusterIpServices: number;
  endpointsPerSlice: number;
  bulkProxied: boolean;
  headless: boolean;
  speakerArgs: string[];
  probedVip: string;
  creation?: ScaleTimings & { loadAverage: number[] };
  startup?: { readyS: number; settledS: number; loadAverage: number[] };
  quiet?: Awaited<ReturnType<typeof quietWindow>>;
  /** RSS (MB) of each speaker (lab order) every 5 s from their start to the quiet window's end. */
  rssTimelineMb?: number[][];
  /** --own-cpu: which speaker had CPU 0 to itself (one never crashed), and where the rest ran. */
  ownCpu?: string;
  trials: Trial[];
  failures: string[];
  summary?: Record<string, number>;
}

async function main(): Promise<void> {
  const ownCpu = values["own-cpu"] ? ownCpuPlan() : undefined;
  // Before the lab starts: everything it starts inherits the other CPUs.
  if (ownCpu) pinCpus(process.pid, ownCpu.othersCpus);
  const cluster = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb", progress: log });
  const result: Result = {
    date: new Date().toISOString(),
    build: "tsc (dist/)",
    lbServices: lbCount,
    clusterIpServices: Number(values.clusterip),
    endpointsPerSlice: Number(values.endpoints),
    bulkProxied: values["bulk-proxied"]!,
    headless: values.headless!,
    speakerArgs,
    probedVip: VIP6,
    trials: [],
    failures: [],
  };
  const concurrency = Number(values.concurrency);
  for (const pid of Object.values(cluster.cp.pids())) setPriority(pid, 0);
  const api = new KubeApi(await loadConnection(cluster.cp.kubeconfigPath), {
    maxSockets: concurrency,
    timeoutMs: 60_000,
  });
  let rssSampler: NodeJS.Timeout | undefined;
  try {
    const lab = cluster.lab;
    const endpoints = await startBackends(lab, lab.workers);
    await createPool(api, POOL, [VIP6]);
    const svc = await applySeed(cluster.kc, {
      ips: [VIP6],
      poolName: POOL,
      serviceName: "envoy-v6",
      endpoints,
    });
    await assignStatus(cluster.kc, svc.namespace, svc.name, [VIP6], POOL);
    log(
      `creating ${lbCount - 1} + ${values.clusterip} Services with EndpointSlices (${concurrency} at a time)`,
    );
    const timings = await createScale(api, POOL, {
      lb: lbCount - 1,
      clusterIp: Number(values.clusterip),
      endpointsPerSlice: Number(values.endpoints),
      concurrency,
      nodes: [...lab.nodes, ...lab.workers].map((n) => n.name),
      proxied: values["bulk-proxied"]!,
      headless: values.headless!,
      progress: log,
    });
    result.creation = { ...timings, loadAverage: load() };
    log(`created: ${JSON.stringify(result.creation)}`);
    save(result);

    const names = lab.nodes.map((n) => n.name);
    const ips = [VIP6, ...Array.from({ length: lbCount - 1 }, (_, i) => bulkIp(i))];
    const firstOf = new Map(ips.map((ip) => [ip, rankNodes(names, ip)[0]!]));
    const owner = firstOf.get(VIP6)!;
    const started = performance.now();
    const speakers = lab.nodes.map((node) => startBuiltSpeaker(cluster, node, speakerArgs, nodeArgs));
    const rssTimeline: number[][] = (result.rssTimelineMb = []);
    rssSampler = setInterval(() => {
      const pids = lab.nodes.map((n) => lab.latest(`speaker-${n.name}`)?.child.pid);
      rssTimeline.push(pids.map((pid) => (pid ? Math.round(sampleProcess(pid).rssMb) : Number.NaN)));
    }, 5000);
    await waitFor("speakers ready", () => allReady(lab), 600_000, 1000);
    const readyS = (performance.now() - started) / 1000;
    if (ownCpu) {
      const i = lab.nodes.findIndex((n) => n.name !== owner); // never crashed
      result.ownCpu = giveMainThreadOwnCpu(lab.nodes[i]!.name, speakers[i]!.child.pid!, ownCpu);
    }
    await waitFor(`${ips.length} IPs announced once each`, () => settled(lab, firstOf), 600_000, 2000);
    result.startup = {
      readyS: round1(readyS),
      settledS: round1((performance.now() - started) / 1000),
      loadAverage: load(),
    };
    log(`speakers settled: ${JSON.stringify(result.startup)}`);
    await sleep(15_000); // start-up work drains (ServiceL2Status writes, first GCs)
    result.quiet = await quietWindow(lab, Number(values["quiet-seconds"]));
    clearInterval(rssSampler);
    log(`quiet window: ${JSON.stringify(result.quiet)}`);
    save(result);

    for (let i = 0; i < trials; i++) {
      try {
        const trial = await crashTrial(cluster, owner, firstOf);
        result.trials.push(trial);
        log(
          `crash ${i + 1}/${trials} (${trial.owner} -> ${trial.successor}, load ${trial.loadAverage[0]}): ` +
            `probed IP ${trial.unavailableMs} ms unavailable (${trial.failed} failed), takeover ${trial.takeoverMs} ms, ` +
            `all ${trial.crashedIps} IPs ${trial.allIpsMs} ms (state ${trial.allIpsStateMs} ms), restore ${trial.restoreS} s`,
        );
      } catch (err) {
        // A loaded machine can miss a deadline: say so, keep what was measured, go on.
        result.failures.push(`crash #${i + 1}: ${(err as Error).message}`);
        log(result.failures.at(-1)!);
        await restoreNode(lab, lab.node(owner));
        await waitFor("settled after a failed trial", () => settled(lab, firstOf), 600_000, 2000);
      }
      result.summary = summarize(result.trials);
      save(result);
    }
  } finally {
    clearInterval(rssSampler);
    api.close();
    if (values["keep-logs"]) cpSync(cluster.lab.logDir, values["keep-logs"], { recursive: true });
    // Each restore starts a new speaker process; the latest of each node is the live one.
    if (nodeArgs.includes("--cpu-prof"))
      await stopForProfiles(cluster.lab.nodes.map((n) => cluster.lab.latest(`speaker-${n.name}`)!));
    await cluster.destroy();
  }
  log(`summary: ${JSON.stringify(result.summary)}`);
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function save(result: Result): void {
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
}

function summarize(trials: Trial[]): Record<string, number> {
  const q = (f: (t: Trial) => number, p: number) => percentile(trials.map(f), p);
  const out: Record<string, number> = { trials: trials.length };
  for (const [name, f] of [
    ["unavailableMs", (t: Trial) => t.unavailableMs],
    ["takeoverMs", (t: Trial) => t.takeoverMs],
    ["allIpsMs", (t: Trial) => t.allIpsMs],
    ["allIpsStateMs", (t: Trial) => t.allIpsStateMs],
  ] as const) {
    out[`${name}P50`] = q(f, 50);
    out[`${name}P99`] = q(f, 99);
    out[`${name}Max`] = q(f, 100);
  }
  return out;
}

async function allReady(lab: Lab): Promise<boolean> {
  return (await Promise.all(lab.nodes.map(speakerReady))).every(Boolean);
}

/**
 * Settled: every speaker answers and counts every node alive and eligible, and every IP is
 * announced by exactly one node, its first in the ranking (strict ownership).
 */
async function settled(lab: Lab, firstOf: ReadonlyMap<string, string>): Promise<boolean> {
  const states = await Promise.all(lab.nodes.map((n) => speakerState(n, 5)));
  if (states.some((s) => !s)) return false;
  const all = states.every((s) =>
    lab.nodes.every((n) => s!.members.some((m) => m.node === n.name && m.alive && m.eligible)),
  );
  if (!all) return false;
  const by = new Map<string, string[]>();
  for (const s of states)
    for (const ip of Object.keys(s!.announcing)) by.set(ip, [...(by.get(ip) ?? []), s!.node]);
  if (by.size !== firstOf.size) return false;
  for (const [ip, first] of firstOf) if (by.get(ip)?.join() !== first) return false;
  return true;
}

/** Idle cost at scale: CPU, RSS, tick lag, stalls and ownership events over `seconds`. */
async function quietWindow(lab: Lab, seconds: number) {
  const procs = lab.nodes.map((n) => lab.latest(`speaker-${n.name}`)!);
  const scrapes: Scrape[][] = [await scrapeAll(lab.nodes)];
  const before = procs.map((p) => sampleProcess(p.child.pid!));
  const loadBefore = load();
  const from = Date.now();
  const t0 = performance.now();
  // Scraped every 10 s (a Prometheus-like interval; each scrape resets the lag gauge).
  const scrapeEveryMs = 10_000;
  while (performance.now() - t0 < seconds * 1000) {
    await sleep(Math.min(scrapeEveryMs, seconds * 1000 - (performance.now() - t0)));
    scrapes.push(await scrapeAll(lab.nodes));
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const after = procs.map((p) => sampleProcess(p.child.pid!));
  const perSpeaker = lab.nodes.map((n, i) => {
    const mine = scrapes.map((s) => s[i]!);
    const lagMs = mine.slice(1).map((s) => Math.round(s.lagSeconds * 1000));
    return {
      node: n.name,
      cpuPercent: Number(((100 * (after[i]!.cpuS - before[i]!.cpuS)) / elapsedS).toFixed(2)),
      rssMb: Math.round(after[i]!.rssMb),
      /** Peak RSS since the speaker started (VmHWM): the start's list, plans and writes included. */
      peakRssMb: Math.round(after[i]!.peakRssMb),
      announced: mine.at(-1)!.announced,
      /** Largest tick lag per 10 s scrape interval. */
      maxTickLagMs: lagMs,
      ownershipChanges: mine.at(-1)!.ownershipChanges - mine[0]!.ownershipChanges,
      tick: tickQuantiles(mine[0]!, mine.at(-1)!),
      stepOwn: ownQuantiles(mine[0]!, mine.at(-1)!),
      phases: phaseQuantiles(mine[0]!, mine.at(-1)!),
      gc: gcDeltas(mine[0]!, mine.at(-1)!),
      kubeRequests: counterDeltas(mine[0]!.kubeRequests, mine.at(-1)!.kubeRequests),
      replans: counterDeltas(mine[0]!.replans, mine.at(-1)!.replans),
    };
  });
  // The start's ServiceL2Status and Event writes drain into the window: the steps once every
  // speaker had written all it had to (the first scrape with nothing pending), apart.
  const caughtUp = scrapes.findIndex((s) => s.every((x) => x.writesPending === 0));
  const afterWrites =
    caughtUp < 0
      ? undefined
      : {
          fromS: round1(Math.min(elapsedS, (caughtUp * scrapeEveryMs) / 1000)),
          perSpeaker: lab.nodes.map((n, i) => ({
            node: n.name,
            tick: tickQuantiles(scrapes[caughtUp]![i]!, scrapes.at(-1)![i]!),
            stepOwn: ownQuantiles(scrapes[caughtUp]![i]!, scrapes.at(-1)![i]!),
          })),
        };
  return {
    seconds: round1(elapsedS),
    loadAverage: [loadBefore, load()],
    perSpeaker,
    /** The steps from the first scrape at which no speaker had writes pending to the window's end. */
    afterWrites,
    events: countEvents(
      procs.map((p) => p.logFile),
      EVENTS,
      from,
    ),
  };
}

/** The node that carried a probe: the stand-in on the worker answers "worker-0 via <node>". */
function carrier(p: Probe): string {
  return / via (\S+)$/.exec(p.body)?.[1] ?? p.body;
}

/** Earliest serviceAnnounced time (ms since the epoch) per IP in these logs, at or after `from`. */
function firstAnnouncements(files: string[], from: number): Map<string, number> {
  const first = new Map<string, number>();
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.includes('"event":"serviceAnnounced"')) continue;
      const e = JSON.parse(line) as { time: string; ips?: string[] };
      const at = Date.parse(e.time);
      if (at < from) continue;
      for (const ip of e.ips ?? []) if (!(first.get(ip)! <= at)) first.set(ip, at);
    }
  }
  return first;
}

async function crashTrial(
  cluster: LabCluster,
  owner: string,
  firstOf: ReadonlyMap<string, string>,
): Promise<Trial> {
  const lab = cluster.lab;
  const survivors = lab.nodes.filter((n) => n.name !== owner);
  const state = await speakerState(lab.node(owner), 5);
  const crashed = Object.keys(state?.announcing ?? {});
  if (!crashed.includes(VIP6)) throw new Error(`${owner} does not announce ${VIP6}`);
  const prober = new ProbeRun(lab, URL, 10, 2000, `scale-prober-${Date.now()}`);
  // The prober is the instrument: the bench runs niced on a loaded machine; the prober need not.
  for (const pid of (await run("ip", ["netns", "pids", lab.clientNs])).split(/\s+/).filter(Boolean))
    setPriority(Number(pid), 0);
  await prober.ready();
  await waitFor(
    `served via ${owner}`,
    () => prober.results.some((p) => p.ok && carrier(p) === owner),
    30_000,
  );
  await sleep(500);
  // A stall while the prober started (CPU) can have moved IPs: crash only a settled cluster.
  await waitFor("settled before the crash", () => settled(lab, firstOf), 120_000, 500);
  // How long each survivor waits before writing the owner off (adaptive: 3 × its p99 gap, clamped).
  const timeouts = await Promise.all(survivors.map((n) => speakerState(n, 5)));
  const detectionTimeoutMs = Object.fromEntries(
    survivors.map((n, i) => [n.name, timeouts[i]?.members.find((m) => m.node === owner)?.timeoutMs ?? null]),
  );
  const loadAverage = load();
  const crashMono = monotonicNow();
  const crashAt = await crashNode(lab, lab.node(owner));
  const moved = await waitFor(
    "traffic through a survivor",
    () => prober.results.find((p) => p.ok && p.t > crashMono && carrier(p) !== owner),
    60_000,
    20,
  );
  const coveredAt = await waitFor(
    `survivors announce all ${crashed.length} IPs of ${owner}`,
    async () => {
      const states = await Promise.all(survivors.map((n) => speakerState(n, 5)));
      const union = new Set(states.flatMap((s) => Object.keys(s?.announcing ?? {})));
      return crashed.every((ip) => union.has(ip)) && Date.now();
    },
    120_000,
    250,
  );
  await sleep(1000);
  const probes = (await prober.stop()).filter((p) => p.t >= crashMono);
  const s = summarizeProbes(probes, crashMono, Infinity, { slowMs: SLOW_PROBE_MS });
  const degradedProbes = probes
    .filter((p) => !p.ok || p.ms > SLOW_PROBE_MS)
    .map((p) => ({ startMs: Math.round(p.t - crashMono), ms: Math.round(p.ms), ok: p.ok, via: carrier(p) }));
  const logs = survivors.map((n) => lab.latest(`speaker-${n.name}`)!.logFile);
  // The speakers' lines reach their files through this (niced, busy) process: on a loaded machine
  // seconds after /state shows them. Wait for them (up to 30 s), then read.
  const first = await waitFor(
    "the survivors' serviceAnnounced lines",
    () => {
      const f = firstAnnouncements(logs, crashAt);
      return crashed.every((ip) => f.has(ip)) && f;
    },
    30_000,
    500,
  ).catch(() => firstAnnouncements(logs, crashAt));
  const times = crashed.map((ip) => first.get(ip)).filter((t): t is number => t !== undefined);
  const allLogs = lab.nodes.map((n) => lab.latest(`speaker-${n.name}`)!.logFile);
  const speakerEvents = countEvents(allLogs, EVENTS, crashAt);
  const eventsBefore = countEvents(allLogs, EVENTS, crashAt - PRE_CRASH_MS);
  for (const [k, v] of Object.entries(speakerEvents)) eventsBefore[k]! -= v;
  // Where the survivors' slow steps spent their time (the takeover step among them).
  const slowSteps = eventLines(logs, "slowStep", crashAt - 1000, crashAt + 10_000).map((e) => ({
    node: e.node,
    afterCrashMs: Date.parse(String(e.time)) - crashAt,
    ms: e.ms,
    cpuWaitMs: e.cpuWaitMs,
    phases: e.phases,
  }));
  const restoring = performance.now();
  await restoreNode(lab, lab.node(owner));
  await waitFor("every IP back on its first-ranked node", () => settled(lab, firstOf), 600_000, 2000);
  // Peak RSS of each speaker now: the restarted one's covers its start against a full cluster.
  const peakRssMb = Object.fromEntries(
    lab.nodes.map((n) => [
      n.name,
      Math.round(sampleProcess(lab.latest(`speaker-${n.name}`)!.child.pid!).peakRssMb),
    ]),
  );
  return {
    at: new Date(crashAt).toISOString(),
    owner,
    successor: carrier(moved),
    loadAverage,
    crashedIps: crashed.length,
    unavailableMs: s.spanMs,
    longestOutageMs: s.unavailableMs,
    failed: s.failed,
    slow: s.slow,
    probes: s.probes,
    takeoverMs: (first.get(VIP6) ?? Number.NaN) - crashAt,
    allIpsMs: Math.max(...times) - crashAt,
    allIpsMissingInLogs: crashed.length - times.length,
    allIpsStateMs: coveredAt - crashAt,
    restoreS: round1((performance.now() - restoring) / 1000),
    peakRssMb,
    detectionTimeoutMs,
    degradedProbes,
    slowSteps,
    speakerEvents,
    eventsBeforeCrash: Object.fromEntries(Object.entries(eventsBefore).filter(([, v]) => v > 0)),
  };
}

await main();
