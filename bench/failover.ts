/**
 * Failover benchmark: N trials each of crash and graceful shutdown of the announcing node, with a
 * 10 ms HTTP probe from the client, for floatip and for keepalived (VRRPv3, Debian package) at
 * advert 1 s and 0.1 s, in the same lab and the same run.
 *
 *   npx tsx bench/failover.ts [--trials 10] [--systems floatip,keepalived-1,keepalived-0.1] [--out bench/results/failover.json]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { VIP } from "../lab/addresses.js";
import { LabCluster } from "../lab/cluster.js";
import { injectFault, restoreNode, type FaultKind } from "../lab/faults.js";
import type { LabNode } from "../lab/lab.js";
import { ProbeRun } from "../lab/probe-run.js";
import { seedEnvoyService, assignStatus } from "../lab/seed.js";
import { nsRun } from "../lab/sh.js";
import { announcers, speakerReady } from "../lab/speakers.js";
import { sleep, waitFor } from "../src/common/wait.js";
import { rankNodes } from "../src/election/ranking.js";
import { percentile, summarizeProbes } from "../src/ops/timeline.js";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "10" },
    systems: { type: "string", default: "floatip,keepalived-1,keepalived-0.1" },
    out: { type: "string", default: "bench/results/failover.json" },
  },
});
const trials = Number(values.trials);
const systems = values.systems!.split(",");

interface Trial {
  system: string;
  kind: "crash" | "graceful";
  owner: string;
  successor: string;
  unavailableMs: number;
  failed: number;
  slow: number;
  probes: number;
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
  const cluster = await LabCluster.create({
    nodes: 3,
    workers: 1,
    lbClass: "metallb",
    progress: (l) => log(l),
  });
  const results: Trial[] = [];
  try {
    const lab = cluster.lab;
    const svc = await seedEnvoyService(cluster, VIP);
    await assignStatus(cluster.kc, svc.namespace, svc.name, [VIP], "envoy-gateway-pool");
    const ranking = rankNodes(
      lab.nodes.map((n) => n.name),
      VIP,
    );

    for (const name of systems) {
      const system =
        name === "floatip"
          ? floatip(cluster, ranking)
          : keepalived(cluster, ranking, Number(name.split("-")[1]));
      log(`system ${name}: starting`);
      for (const node of lab.nodes) system.start(node);
      await system.settle(ranking[0]!);
      for (const kind of ["crash", "graceful"] as const) {
        for (let i = 0; i < trials; i++) {
          const trial = await runTrial(cluster, system, kind, ranking);
          results.push(trial);
          log(
            `${name} ${kind} #${i + 1}: ${trial.unavailableMs} ms unavailable, ${trial.failed} failed, ${trial.slow} slow (${trial.owner} -> ${trial.successor})`,
          );
        }
      }
      await system.stop();
    }
  } finally {
    await cluster.destroy();
  }
  const table = tabulate(results);
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(
    values.out!,
    JSON.stringify({ trials, date: new Date().toISOString(), results, table }, null, 2),
  );
  console.log(markdown(table));
}

async function runTrial(
  cluster: LabCluster,
  system: System,
  kind: "crash" | "graceful",
  ranking: string[],
): Promise<Trial> {
  const lab = cluster.lab;
  const owner = (await system.owner()) ?? ranking[0]!;
  const successor = ranking.find((n) => n !== owner)!;
  const prober = new ProbeRun(lab, `http://${VIP}/`, 10, 2000, `bench-prober-${Date.now()}`);
  await prober.ready();
  await sleep(500);
  const faultAt = Date.now();
  const fault: FaultKind = kind === "crash" ? "crash" : "sigterm";
  await injectFault(lab, lab.node(owner), fault);
  await waitFor(
    "traffic through the successor",
    () => prober.results.some((p) => p.ok && p.t > faultAt && p.body.endsWith(`via ${successor}`)),
    30_000,
    20,
  );
  await sleep(2500);
  const summary = summarizeProbes(await prober.stop(), faultAt - 200);
  await restoreNode(lab, lab.node(owner));
  await system.settle(ranking[0]!);
  return {
    system: system.name,
    kind,
    owner,
    successor,
    unavailableMs: summary.spanMs,
    failed: summary.failed,
    slow: summary.slow,
    probes: summary.probes,
  };
}

function floatip(cluster: LabCluster, ranking: string[]): System {
  const lab = cluster.lab;
  return {
    name: "floatip",
    async owner() {
      const who = await announcers(lab, VIP);
      return who.length === 1 ? who[0] : undefined;
    },
    start(node) {
      cluster.startSpeaker(node);
    },
    async settle(expected) {
      await waitFor(
        "speakers ready",
        async () => (await Promise.all(lab.nodes.map(speakerReady))).every(Boolean),
        60_000,
      );
      await waitFor(
        `${expected} sole announcer`,
        async () => {
          const who = await announcers(lab, VIP);
          return who.length === 1 && who[0] === expected;
        },
        60_000,
      );
      await sleep(1000);
    },
    async stop() {
      for (const node of lab.nodes) {
        lab.forget(`speaker-${node.name}`);
        const p = lab.latest(`speaker-${node.name}`);
        p?.child.kill("SIGKILL");
        await p?.exited;
      }
      void ranking;
    },
  };
}

/** keepalived VRRPv3 on ens3 with the ranking as priorities, so the same node owns the VIP first. */
function keepalived(cluster: LabCluster, ranking: string[], advertS: number): System {
  const lab = cluster.lab;
  const name = `keepalived-${advertS}`;
  const dir = join(lab.logDir, name);
  mkdirSync(dir, { recursive: true });
  const holder = async (): Promise<string | undefined> => {
    const holders: string[] = [];
    for (const node of lab.nodes) {
      const out = await nsRun(node.ns, "ip", ["-o", "addr", "show", "dev", "ens3"]).catch(() => "");
      if (out.includes(` ${VIP}/32`)) holders.push(node.name);
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
    ${VIP}/32 dev ens3
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
      await waitFor(`${expected} holds the VIP`, async () => (await holder()) === expected, 60_000);
      await sleep(Math.max(1000, advertS * 4000));
    },
    async stop() {
      for (const node of lab.nodes) {
        lab.forget(`${name}-${node.name}`);
        const p = lab.latest(`${name}-${node.name}`);
        p?.child.kill("SIGTERM");
        await p?.exited;
        await nsRun(node.ns, "ip", ["addr", "del", `${VIP}/32`, "dev", "ens3"]).catch(() => undefined);
      }
    },
  };
}

interface Row {
  system: string;
  kind: string;
  trials: number;
  p50: number;
  p99: number;
  max: number;
  failedTotal: number;
  failedP50: number;
}

function tabulate(results: Trial[]): Row[] {
  const rows: Row[] = [];
  for (const system of [...new Set(results.map((r) => r.system))]) {
    for (const kind of ["crash", "graceful"]) {
      const t = results.filter((r) => r.system === system && r.kind === kind);
      if (t.length === 0) continue;
      const ms = t.map((r) => r.unavailableMs);
      rows.push({
        system,
        kind,
        trials: t.length,
        p50: percentile(ms, 50),
        p99: percentile(ms, 99),
        max: Math.max(...ms),
        failedTotal: t.reduce((a, r) => a + r.failed, 0),
        failedP50: percentile(
          t.map((r) => r.failed),
          50,
        ),
      });
    }
  }
  return rows;
}

function markdown(rows: Row[]): string {
  const lines = [
    "| system | fault | trials | unavailable p50 | p99 | max | failed requests (total) | failed per trial p50 |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.system} | ${r.kind} | ${r.trials} | ${r.p50} ms | ${r.p99} ms | ${r.max} ms | ${r.failedTotal} | ${r.failedP50} |`,
    );
  }
  return lines.join("\n");
}

await main();
