/**
 * Failover benchmark: for each externalTrafficPolicy (Cluster, Local) and each system (floatip;
 * keepalived VRRPv3 from the Debian package), N trials of each fault of the announcing node —
 * SIGTERM, drain (cordon; floatip only), crash — each followed by the restored node's return, with
 * a 10 ms new-connection probe and >= 50 established keep-alive connections from the client.
 * Every trial measures two moves: the fault and the return.
 *
 *   nice npx tsx bench/failover.ts [--trials 10] [--systems floatip,keepalived-0.1]
 *     [--policies Cluster,Local] [--kinds sigterm,drain,crash] [--connections 50]
 *     [--forwarding on|off] [--speaker-args="--suspect-after-ms 600"] [--out bench/results/failover.json]
 *     [--keep-logs dir]
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { startBackends, type LabEndpoint } from "../lab/backends.js";
import { LabCluster } from "../lab/cluster.js";
import { injectFault, restoreNode } from "../lab/faults.js";
import type { LabNode } from "../lab/lab.js";
import { ProbeRun, SessionsRun } from "../lab/probe-run.js";
import { applySeed, assignStatus } from "../lab/seed.js";
import { nsRun } from "../lab/sh.js";
import { announcers, speakerReady } from "../lab/speakers.js";
import { sleep, waitFor } from "../src/common/wait.js";
import { rankNodes } from "../src/election/ranking.js";
import { KubeApi } from "../src/kube/api.js";
import { loadConnection } from "../src/kube/connection.js";
import { cordon } from "../src/ops/failover-test.js";
import { establishedReport, type MoveImpact } from "../src/ops/sessions.js";
import { percentile, summarizeProbes, type Probe } from "../src/ops/timeline.js";
import { startBurners } from "./load.js";
import { monotonicNow } from "../src/common/clock.js";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "10" },
    systems: { type: "string", default: "floatip,keepalived-0.1" },
    policies: { type: "string", default: "Cluster,Local" },
    kinds: { type: "string", default: "sigterm,drain,crash" },
    connections: { type: "string", default: "50" },
    // Handover forwarding (src/speaker/forward*.ts) is the speaker's default; "off" measures without.
    forwarding: { type: "string", default: "on" },
    // Extra speaker flags, space-separated (e.g. a slower failure detector on a loaded machine).
    "speaker-args": { type: "string", default: "" },
    out: { type: "string", default: "bench/results/failover.json" },
    // Copy the lab's process logs (speakers' forwardStarted/forwardEnded events) here before teardown.
    "keep-logs": { type: "string" },
    // Processes spinning at 100 % for the whole run (the loaded machine of issue 8's crash target).
    load: { type: "string", default: "0" },
  },
});
const trials = Number(values.trials);
const systems = values.systems!.split(",");
const policies = values.policies!.split(",") as Policy[];
const kinds = values.kinds!.split(",") as Kind[];
const connections = Number(values.connections);
if (values.forwarding !== "on" && values.forwarding !== "off") throw new Error("--forwarding: on or off");
const forwarding = values.forwarding === "on";
const speakerArgs = values["speaker-args"]!.split(" ").filter(Boolean);

type Policy = "Cluster" | "Local";
type Kind = "sigterm" | "drain" | "crash";
const VIPS: Record<Policy, string> = { Cluster: "203.0.113.50", Local: "203.0.113.51" };

/** One move's numbers: new connections (probes) and established ones (sessions). */
interface MoveResult {
  unavailableMs: number;
  failed: number;
  slow: number;
  probes: number;
  connections: number;
  lost: number;
  resets: number;
  stalls: number;
  errors: number;
}

interface Trial {
  system: string;
  policy: Policy;
  kind: Kind;
  /** Wall-clock time of the fault (for finding the trial in the speakers' logs). */
  at: string;
  owner: string;
  successor: string;
  fault: MoveResult;
  return: MoveResult;
  /** The speakers' events during the trial (event or event:reason → count), to explain a loss. */
  speakerEvents: Record<string, number>;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Adapter per system: who owns the VIP now, and how to (re)start it on a node. */
interface System {
  name: string;
  owner(): Promise<string | undefined>;
  start(node: LabNode): void;
  settle(expectedOwner: string): Promise<void>;
  stop(): Promise<void>;
}

async function main(): Promise<void> {
  const cluster = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb", progress: log });
  const burners = startBurners(Number(values.load));
  const results: Trial[] = [];
  const failures: string[] = [];
  try {
    const lab = cluster.lab;
    // Cluster: the Envoy stand-in on the worker; Local: one on each control-plane node.
    const eps = await startBackends(lab, [...lab.workers, ...lab.nodes], { DRAIN_LIMIT_MS: "5000" });
    await seedPolicy(
      cluster,
      "Cluster",
      eps.filter((e) => e.node.startsWith("worker")),
    );
    await seedPolicy(
      cluster,
      "Local",
      eps.filter((e) => !e.node.startsWith("worker")),
    );
    for (const policy of policies) {
      const vip = VIPS[policy];
      const ranking = rankNodes(
        lab.nodes.map((n) => n.name),
        vip,
      );
      for (const name of systems) {
        const system =
          name === "floatip"
            ? floatip(cluster, vip)
            : keepalived(cluster, ranking, vip, Number(name.split("-")[1]));
        log(`${policy}: system ${name}: starting`);
        for (const node of lab.nodes) system.start(node);
        await system.settle(ranking[0]!);
        for (const kind of kinds) {
          if (kind === "drain" && name !== "floatip") continue; // keepalived does not read Kubernetes
          for (let i = 0; i < trials; i++) {
            let trial: Trial;
            try {
              trial = await runTrial(cluster, system, policy, kind, ranking);
            } catch (err) {
              // A loaded machine can miss a deadline: say so, keep what was measured, go on.
              failures.push(`${name} ${policy} ${kind} #${i + 1}: ${(err as Error).message}`);
              log(`${failures.at(-1)!}`);
              await system.settle(ranking[0]!).catch(() => undefined);
              continue;
            }
            results.push(trial);
            save(results, failures);
            log(
              `${name} ${policy} ${kind} #${i + 1} (${trial.owner} -> ${trial.successor}): ${describe(trial.fault)}; return: ${describe(trial.return)}`,
            );
          }
        }
        await system.stop();
      }
    }
  } finally {
    burners.stop();
    if (values["keep-logs"]) cpSync(cluster.lab.logDir, values["keep-logs"], { recursive: true });
    await cluster.destroy();
  }
  console.log(markdown(save(results, failures)));
}

/** Writes what was measured so far (after every trial: a long run stopped early keeps its data). */
function save(results: Trial[], failures: string[]): Row[] {
  const table = tabulate(results);
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(
    values.out!,
    JSON.stringify(
      {
        trials,
        connections,
        forwarding,
        speakerArgs,
        load: Number(values.load),
        date: new Date().toISOString(),
        loadAverage: loadavg(),
        failures,
        results,
        table,
      },
      null,
      2,
    ),
  );
  return table;
}

async function seedPolicy(cluster: LabCluster, policy: Policy, endpoints: LabEndpoint[]): Promise<void> {
  const svc = await applySeed(cluster.kc, {
    ips: [VIPS[policy]],
    poolName: `pool-${policy.toLowerCase()}`,
    serviceName: `envoy-${policy.toLowerCase()}`,
    externalTrafficPolicy: policy,
    endpoints,
  });
  await assignStatus(cluster.kc, svc.namespace, svc.name, [VIPS[policy]], `pool-${policy.toLowerCase()}`);
}

function describe(m: MoveResult): string {
  return `${m.unavailableMs} ms unavailable, ${m.failed} failed new, ${m.lost}/${m.connections} established lost (${m.resets} resets, ${m.stalls} stalls, ${m.errors} errors)`;
}

/** The node that carried a probe: Cluster answers "worker-0 via <node>", Local "<node>". */
function carrier(p: Probe): string {
  return / via (\S+)$/.exec(p.body)?.[1] ?? p.server ?? p.body;
}

async function runTrial(
  cluster: LabCluster,
  system: System,
  policy: Policy,
  kind: Kind,
  ranking: string[],
): Promise<Trial> {
  const lab = cluster.lab;
  const url = `http://${VIPS[policy]}/`;
  const owner = (await system.owner()) ?? ranking[0]!;
  const prober = new ProbeRun(lab, url, 10, 2000, `bench-prober-${Date.now()}`);
  const sessions = new SessionsRun(lab, url, { connections }, `bench-sessions-${Date.now()}`);
  await prober.ready();
  await sessions.ready();
  await sleep(500);
  const faultAt = monotonicNow();
  if (kind === "drain") await setCordon(cluster, owner, true);
  else await injectFault(lab, lab.node(owner), kind);
  const moved = await waitFor(
    "traffic through another node",
    () => prober.results.find((p) => p.ok && p.t > faultAt && carrier(p) !== owner),
    30_000,
    20,
  );
  await sleep(2500);
  const restoreAt = monotonicNow();
  if (kind === "drain") await setCordon(cluster, owner, false);
  else await restoreNode(lab, lab.node(owner));
  await system.settle(ranking[0]!);
  await sleep(1500);
  const probes = await prober.stop();
  const events = await sessions.stop();
  const established = establishedReport(events, [
    { t: faultAt, label: kind, planned: kind !== "crash" },
    { t: restoreAt, label: "return", planned: true },
  ]);
  const move = (from: number, to: number, impact: MoveImpact): MoveResult => {
    const s = summarizeProbes(probes, from, to);
    return {
      unavailableMs: s.spanMs,
      failed: s.failed,
      slow: s.slow,
      probes: s.probes,
      connections: established.connections,
      lost: impact.connectionsLost,
      resets: impact.resets,
      stalls: impact.stalls,
      errors: impact.errors,
    };
  };
  return {
    system: system.name,
    policy,
    kind,
    at: new Date(faultAt).toISOString(),
    owner,
    successor: carrier(moved),
    fault: move(faultAt - 200, restoreAt, established.moves[0]!),
    return: move(restoreAt, Infinity, established.moves[1]!),
    speakerEvents: speakerEvents(lab.logDir, faultAt - 200),
  };
}

/** Events the speakers logged since `since` (wall clock): forwarding, withdrawals, stalls. */
const COUNTED = /^(forward|serviceWithdrawn|speakerStalled|handoverStarted)/;
function speakerEvents(logDir: string, since: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of readdirSync(logDir).filter((f) => /^speaker-.*\.log$/.test(f))) {
    for (const line of readFileSync(join(logDir, file), "utf8").split("\n")) {
      let e: { time?: string; event?: string; reason?: string };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue; // not a log record (or the line being written)
      }
      if (!e.event || !COUNTED.test(e.event) || !e.time || Date.parse(e.time) < since) continue;
      const key = e.reason ? `${e.event}:${e.reason}` : e.event;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

function floatip(cluster: LabCluster, vip: string): System {
  const lab = cluster.lab;
  return {
    name: "floatip",
    async owner() {
      const who = await announcers(lab, vip);
      return who.length === 1 ? who[0] : undefined;
    },
    start(node) {
      cluster.startSpeaker(node, [...(forwarding ? [] : ["--no-handover-forwarding"]), ...speakerArgs]);
    },
    async settle(expected) {
      await waitFor(
        "speakers ready",
        async () => (await Promise.all(lab.nodes.map(speakerReady))).every(Boolean),
        120_000,
      );
      await waitFor(
        `${expected} sole announcer`,
        async () => {
          const who = await announcers(lab, vip);
          return who.length === 1 && who[0] === expected;
        },
        120_000,
      );
    },
    async stop() {
      for (const node of lab.nodes) {
        lab.forget(`speaker-${node.name}`);
        const p = lab.latest(`speaker-${node.name}`);
        p?.child.kill("SIGKILL");
        await p?.exited;
      }
    },
  };
}

/**
 * keepalived VRRPv3 on ens3 with the ranking as priorities (so the same node owns the VIP first),
 * preempting (the restored node takes the VIP back, like floatip's ranking). Runs only inside the
 * lab's node namespaces; stop() ends it and removes the VIP.
 */
function keepalived(cluster: LabCluster, ranking: string[], vip: string, advertS: number): System {
  const lab = cluster.lab;
  const name = `keepalived-${advertS}`;
  const dir = join(lab.logDir, `${name}-${vip}`);
  mkdirSync(dir, { recursive: true });
  const holder = async (): Promise<string | undefined> => {
    const holders: string[] = [];
    for (const node of lab.nodes) {
      const out = await nsRun(node.ns, "ip", ["-o", "addr", "show", "dev", "ens3"]).catch(() => "");
      if (out.includes(` ${vip}/32`)) holders.push(node.name);
    }
    return holders.length === 1 ? holders[0] : undefined;
  };
  return {
    name,
    owner: holder,
    start(node) {
      const priority = 200 - ranking.indexOf(node.name) * 50;
      const conf = join(dir, `${node.name}.conf`);
      writeFileSync(
        conf,
        `global_defs {
  vrrp_version 3
  router_id ${node.name}
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  interface ens3
  virtual_router_id 51
  priority ${priority}
  advert_int ${advertS}
  virtual_ipaddress {
    ${vip}/32 dev ens3
  }
}
`,
      );
      lab.startOnNode(node, `${name}-${node.name}`, "keepalived", [
        "--dont-fork",
        "--log-console",
        "--vrrp",
        "--use-file",
        conf,
        "--pid",
        join(dir, `${node.name}.pid`),
        "--vrrp_pid",
        join(dir, `${node.name}.vrrp.pid`),
        "--checkers_pid",
        join(dir, `${node.name}.checkers.pid`),
      ]);
    },
    async settle(expected) {
      await waitFor(`${expected} holds the VIP`, async () => (await holder()) === expected, 120_000);
      await sleep(Math.max(1000, advertS * 4000));
    },
    async stop() {
      for (const node of lab.nodes) {
        lab.forget(`${name}-${node.name}`);
        const p = lab.latest(`${name}-${node.name}`);
        p?.child.kill("SIGTERM");
        await p?.exited;
        await nsRun(node.ns, "ip", ["addr", "del", `${vip}/32`, "dev", "ens3"]).catch(() => undefined);
      }
    },
  };
}

interface Row {
  system: string;
  policy: Policy;
  move: string;
  trials: number;
  p50: number;
  p99: number;
  max: number;
  failedTotal: number;
  /** New-connection probes slower than 250 ms (a retransmitted SYN, or a loaded machine). */
  slowTotal: number;
  /** Established connections per trial. */
  connections: number;
  lostTotal: number;
  lostPerTrialMax: number;
  resetsTotal: number;
  stallsTotal: number;
}

function row(system: string, policy: Policy, move: string, moves: MoveResult[]): Row {
  const ms = moves.map((m) => m.unavailableMs);
  const total = (f: (m: MoveResult) => number) => moves.reduce((a, m) => a + f(m), 0);
  return {
    system,
    policy,
    move,
    trials: moves.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: Math.max(...ms),
    failedTotal: total((m) => m.failed),
    slowTotal: total((m) => m.slow),
    connections: Math.min(...moves.map((m) => m.connections)),
    lostTotal: total((m) => m.lost),
    lostPerTrialMax: Math.max(...moves.map((m) => m.lost)),
    resetsTotal: total((m) => m.resets),
    stallsTotal: total((m) => m.stalls),
  };
}

function tabulate(results: Trial[]): Row[] {
  const rows: Row[] = [];
  for (const policy of ["Cluster", "Local"] as const) {
    for (const system of [...new Set(results.map((r) => r.system))]) {
      const mine = results.filter((r) => r.system === system && r.policy === policy);
      for (const kind of ["sigterm", "drain", "crash"] as const) {
        const t = mine.filter((r) => r.kind === kind);
        if (t.length === 0) continue;
        rows.push(
          row(
            system,
            policy,
            kind,
            t.map((r) => r.fault),
          ),
        );
        rows.push(
          row(
            system,
            policy,
            `return after ${kind}`,
            t.map((r) => r.return),
          ),
        );
      }
    }
  }
  return rows;
}

function markdown(rows: Row[]): string {
  const lines = [
    "| policy | system | move | trials | unavailable p50 | p99 | max | failed new requests | slow new | established per trial | lost (total) | lost per trial max | resets | stalls |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.policy} | ${r.system} | ${r.move} | ${r.trials} | ${r.p50} ms | ${r.p99} ms | ${r.max} ms | ${r.failedTotal} | ${r.slowTotal} | ${r.connections} | ${r.lostTotal} | ${r.lostPerTrialMax} | ${r.resetsTotal} | ${r.stallsTotal} |`,
    );
  }
  return lines.join("\n");
}

await main();

/** Cordons (or uncordons) a node through a client of its own, closed after. */
async function setCordon(cluster: LabCluster, node: string, unschedulable: boolean): Promise<void> {
  const api = new KubeApi(await loadConnection(cluster.cp.kubeconfigPath));
  try {
    await cordon(api, node, unschedulable);
  } finally {
    api.close();
  }
}
