import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { rankNodes } from "../src/election/ranking.js";
import { timelineAscii, timelineSvg } from "../src/ops/plot.js";
import { summarizeProbes, type Probe } from "../src/ops/timeline.js";
import { kubectl } from "../testenv/kubectl.js";
import { VIP } from "./addresses.js";
import { LabCluster } from "./cluster.js";
import { injectFault, restoreNode, type FaultKind } from "./faults.js";
import { ProbeRun } from "./probe-run.js";
import { seedEnvoyService, ENVOY_NAMESPACE } from "./seed.js";
import { announcers, speakerReady } from "./speakers.js";
import { sleep, waitFor } from "../src/common/wait.js";

export interface DemoOptions {
  faults: FaultKind[];
  out: string;
  keep: boolean;
}

const say = (line: string) => console.log(line);
const step = (n: number, text: string) => say(`\n\x1b[1m${n}. ${text}\x1b[0m`);

/**
 * The lab demo: the seed's setup (3 control-plane nodes, the floating IP in front of the Envoy
 * stand-in, MetalLB-compatible manifests with loadBalancerClass metallb), a live probe from the
 * client, the owner failed, the IP moving, and the numbers.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const started = Date.now();
  step(
    1,
    "Building the lab: 3 control-plane nodes, a worker with the Envoy stand-in, a client, a real API server",
  );
  const cluster = await LabCluster.create({
    nodes: 3,
    workers: 1,
    lbClass: "metallb",
    progress: (l) => say(`   ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${l}`),
  });
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    say("\ninterrupted: tearing the lab down");
    void cluster.destroy().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  try {
    const lab = cluster.lab;
    await setupSeed(cluster, VIP, (n, text) => step(n, text), say);
    const ranking = rankNodes(
      lab.nodes.map((n) => n.name),
      VIP,
    );
    await showSeedState(cluster, ranking);

    const results: FaultResult[] = [];
    let allProbes: Probe[] = [];
    const markers: { t: number; label: string }[] = [];
    const prober = new ProbeRun(lab, `http://${VIP}/`, 10, 1000, "demo-prober");
    await prober.ready();
    step(4, `Probing http://${VIP}/ from the client every 10 ms`);
    await sleep(1500);

    let n = 5;
    for (const fault of options.faults) {
      if (interrupted) return;
      results.push(await failAndRestore(lab, prober, fault, ranking, markers, n++));
    }
    allProbes = await prober.stop();

    await showResults(cluster, results, allProbes, markers, options.out, n++);
    if (options.keep) {
      say(`\nLab kept running (namespaces ${lab.prefix}-*). Press Ctrl-C to tear it down.`);
      await new Promise(() => {});
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    if (!interrupted) {
      say("\ntearing the lab down");
      await cluster.destroy();
    }
  }
}

interface FaultResult {
  fault: FaultKind;
  owner: string;
  successor: string;
  unavailableMs: number;
  failed: number;
  probes: number;
}

/** The Services, the ServiceL2Status and the ranking, as a user would look at them. */
async function showSeedState(cluster: LabCluster, ranking: readonly string[]): Promise<void> {
  say(
    indent(
      await kubectl(cluster.cp, [
        "get",
        "svc",
        "-A",
        "-o",
        "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,TYPE:.spec.type,CLASS:.spec.loadBalancerClass,EXTERNAL-IP:.status.loadBalancer.ingress[*].ip",
        "--field-selector",
        "spec.type=LoadBalancer",
      ]),
    ),
  );
  say(indent(await kubectl(cluster.cp, ["get", "servicel2status", "-n", "metallb-system"])));
  say(`   ranking for ${VIP} (sha256(node#ip), lowest first): ${ranking.join(" < ")}`);
}

/** Step `n`: fails the announcing node, measures the move to the successor, restores the node. */
async function failAndRestore(
  lab: LabCluster["lab"],
  prober: ProbeRun,
  fault: FaultKind,
  ranking: readonly string[],
  markers: { t: number; label: string }[],
  n: number,
): Promise<FaultResult> {
  const owner = (await announcers(lab, VIP))[0] ?? ranking[0]!;
  const alive = ranking.filter((r) => r !== owner);
  const successor = alive[0]!;
  step(n, `Failing the announcing node ${owner} (${fault}); expected successor by ranking: ${successor}`);
  const faultAt = Date.now();
  markers.push({ t: faultAt, label: `${fault} ${owner}` });
  await injectFault(lab, lab.node(owner), fault);
  await waitFor(
    `traffic via ${successor}`,
    () => prober.results.some((p) => p.ok && p.t > faultAt && p.body.endsWith(`via ${successor}`)),
    30_000,
  );
  await sleep(1500);
  const window = summarizeProbes(prober.results, faultAt - 500);
  say(
    `   answers now come "via ${successor}"; unavailable for ${window.spanMs} ms, ${window.failed} of ${window.probes} probes failed, ${window.slow} slower than 250 ms`,
  );
  say(
    `   timeline (100 ms per mark, x = all failed): ${timelineAscii(
      prober.results.filter((p) => p.t >= faultAt - 1000),
      100,
    )}`,
  );
  say(`   restoring ${owner}: the IP returns to it by the ranking rule, make-before-break`);
  const restoreAt = Date.now();
  markers.push({ t: restoreAt, label: `restore ${owner}` });
  await restoreNode(lab, lab.node(owner));
  await waitFor(
    `${owner} announcing again`,
    async () => {
      const who = await announcers(lab, VIP);
      return who.length === 1 && who[0] === owner;
    },
    60_000,
  );
  await sleep(1500);
  const back = summarizeProbes(prober.results, restoreAt);
  say(`   back on ${owner}: ${back.failed} failed probes during the return`);
  return {
    fault,
    owner,
    successor,
    unavailableMs: window.spanMs,
    failed: window.failed,
    probes: window.probes,
  };
}

/** The results table, the timeline plot, the class-less Service left alone, the Events. */
async function showResults(
  cluster: LabCluster,
  results: readonly FaultResult[],
  allProbes: readonly Probe[],
  markers: readonly { t: number; label: string }[],
  out: string,
  n: number,
): Promise<void> {
  step(n, "Results");
  say("   fault              owner     -> successor   unavailable   failed/probes");
  for (const r of results) {
    say(
      `   ${r.fault.padEnd(18)} ${r.owner.padEnd(9)} -> ${r.successor.padEnd(11)} ${`${r.unavailableMs} ms`.padStart(11)}   ${r.failed}/${r.probes}`,
    );
  }
  const svgPath = resolve(out);
  writeFileSync(
    svgPath,
    timelineSvg(allProbes, markers, `floatip lab demo: HTTP probes through ${VIP} every 10 ms`),
  );
  say(`   timeline plot: ${svgPath}`);
  const untouched = await cluster.core.readNamespacedService({
    name: "kube-dc-project-lb",
    namespace: "default",
  });
  say(
    `   class-less Service untouched: status ${JSON.stringify(untouched.status?.loadBalancer ?? {})}, annotations ${JSON.stringify(untouched.metadata?.annotations ?? {})}`,
  );
  const events = await cluster.core.listNamespacedEvent({ namespace: ENVOY_NAMESPACE });
  say(indent(events.items.map((e) => `${e.reason}: ${e.message}`).join("\n")));
}

/**
 * The seed's deployment in a lab cluster: Envoy stand-in on the worker, the real kube-proxy, the
 * seed's manifests, a class-less Service that belongs to another controller, the floatip controller
 * and a speaker per control-plane node; returns once one node announces the VIP.
 */
export async function setupSeed(
  cluster: LabCluster,
  vip: string,
  step: (n: number, text: string) => void,
  say: (line: string) => void,
): Promise<{ namespace: string; name: string }> {
  const lab = cluster.lab;
  step(
    2,
    `Applying the seed's manifests with the floating IP ${vip} (IPAddressPool, L2Advertisement on ens3, Envoy Service with loadBalancerClass metallb)`,
  );
  const svc = await seedEnvoyService(cluster, vip);
  const classless = await cluster.core.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "kube-dc-project-lb" },
      spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }] },
    },
  });
  say(
    `   also a class-less LoadBalancer Service (${classless.metadata?.name}) that belongs to kube-dc's EIP controller: floatip must not touch it`,
  );

  step(3, "Starting the floatip controller and a speaker on each control-plane node");
  cluster.startController();
  for (const node of lab.nodes) cluster.startSpeaker(node);
  await waitFor(
    "the controller to assign the IP",
    async () => {
      const s = await cluster.core.readNamespacedService({ name: svc.name, namespace: svc.namespace });
      return s.status?.loadBalancer?.ingress?.[0]?.ip === vip;
    },
    60_000,
  );
  await waitFor(
    "speakers ready",
    async () => (await Promise.all(lab.nodes.map(speakerReady))).every(Boolean),
    60_000,
  );
  const ranking = rankNodes(
    lab.nodes.map((n) => n.name),
    vip,
  );
  await waitFor(
    "one announcing node",
    async () => {
      const who = await announcers(lab, vip);
      return who.length === 1 && who[0] === ranking[0];
    },
    30_000,
  );
  return svc;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `   ${l}`)
    .join("\n");
}
