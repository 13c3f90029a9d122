import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { rankNodes } from "../src/election/ranking.js";
import { timelineAscii, timelineSvg } from "../src/ops/plot.js";
import { establishedReport, formatMoveImpact, summarizeSessions, type Move } from "../src/ops/sessions.js";
import { summarizeProbes, type Probe } from "../src/ops/timeline.js";
import { kubectl } from "../testenv/kubectl.js";
import { VIP } from "./addresses.js";
import { LabCluster, type LabClusterOptions } from "./cluster.js";
import { injectFault, restoreNode, type FaultKind } from "./faults.js";
import { ProbeRun, SessionsRun } from "./probe-run.js";
import { seedThroughEnvoyGateway, type GatewaySeed } from "./gateway.js";
import { ENVOY_NAMESPACE } from "./seed.js";
import { announcers, speakerReady } from "./speakers.js";
import { sleep, waitFor } from "../src/common/wait.js";
import { monotonicNow } from "../src/common/clock.js";

export interface DemoOptions {
  faults: FaultKind[];
  out: string;
  keep: boolean;
  /** Established keep-alive connections beside the new-connection probes (0: none). */
  connections: number;
  /** Run the controller and the speakers from the source tree instead of floatip's image. */
  fromSource: boolean;
}

const say = (line: string) => console.log(line);
const step = (n: number, text: string) => say(`\n\x1b[1m${n}. ${text}\x1b[0m`);

/** One demo run: what the steps after the setup share. */
interface DemoRun {
  cluster: LabCluster;
  lab: LabCluster["lab"];
  ranking: string[];
  prober: ProbeRun;
  sessions: SessionsRun | undefined;
  results: {
    fault: FaultKind;
    owner: string;
    successor: string;
    unavailableMs: number;
    failed: number;
    probes: number;
  }[];
  markers: { t: number; label: string }[];
  moves: (Move & { planned: boolean })[];
}

/**
 * The lab demo: the seed's setup (3 control-plane nodes, the floating IP in front of the Envoy
 * stand-in, MetalLB-compatible manifests with loadBalancerClass metallb), a live probe from the
 * client, the owner failed, the IP moving, and the numbers.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const cluster = await buildLab(options.fromSource);
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
    await showSeed(cluster, ranking);
    const run = await startProbing(cluster, ranking, options);

    let n = 5;
    for (const fault of options.faults) {
      if (interrupted) return;
      const owner = await failOwner(run, fault, n++);
      await restoreOwner(run, owner);
    }
    await reportResults(run, n++, options);
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

async function buildLab(fromSource: boolean): Promise<LabCluster> {
  const started = performance.now();
  step(
    1,
    "Building the lab: 3 control-plane nodes, a worker with the Envoy stand-in, a client, a real API server",
  );
  return LabCluster.create(
    seedClusterOptions(fromSource, (l) =>
      say(`   ${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s  ${l}`),
    ),
  );
}

/** The Services with their class and IP, who announces, and the ranking. */
async function showSeed(cluster: LabCluster, ranking: string[]): Promise<void> {
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

async function startProbing(cluster: LabCluster, ranking: string[], options: DemoOptions): Promise<DemoRun> {
  const lab = cluster.lab;
  const prober = new ProbeRun(lab, `http://${VIP}/`, 10, 1000, "demo-prober");
  const sessions =
    options.connections > 0
      ? new SessionsRun(lab, `http://${VIP}/`, { connections: options.connections }, "demo-sessions")
      : undefined;
  await prober.ready();
  await sessions?.ready();
  step(
    4,
    `Probing http://${VIP}/ from the client every 10 ms${sessions ? `, and ${sessions.connections} keep-alive connections sending a request every 50 ms` : ""}`,
  );
  await sleep(1500);
  return { cluster, lab, ranking, prober, sessions, results: [], markers: [], moves: [] };
}

/** What the last move did to the established connections, as one line. */
function lastMove({ sessions, moves }: DemoRun): void {
  if (!sessions) return;
  const s = summarizeSessions(sessions.events, moves);
  say(`   established connections, ${formatMoveImpact(s.moves.at(-1)!, s.connections)}`);
}

/** Fails the announcing node, waits for traffic via its successor and shows the outage; returns the node. */
async function failOwner(run: DemoRun, fault: FaultKind, n: number): Promise<string> {
  const { lab, ranking, prober, markers, moves, results } = run;
  const owner = (await announcers(lab, VIP))[0] ?? ranking[0]!;
  const alive = ranking.filter((r) => r !== owner);
  const successor = alive[0]!;
  step(n, `Failing the announcing node ${owner} (${fault}); expected successor by ranking: ${successor}`);
  const faultAt = monotonicNow(); // on the probes' clock
  markers.push({ t: faultAt, label: `${fault} ${owner}` });
  moves.push({ t: faultAt, label: `${fault} ${owner}`, planned: fault === "sigterm" });
  await injectFault(lab, lab.node(owner), fault);
  await waitFor(
    `traffic via ${successor}`,
    () => prober.results.some((p) => p.ok && p.t > faultAt && p.body.endsWith(`via ${successor}`)),
    30_000,
  );
  await sleep(1500);
  const window = summarizeProbes(prober.results, faultAt - 500);
  results.push({
    fault,
    owner,
    successor,
    unavailableMs: window.spanMs,
    failed: window.failed,
    probes: window.probes,
  });
  say(
    `   answers now come "via ${successor}"; unavailable for ${window.spanMs} ms, ${window.failed} of ${window.probes} probes failed, ${window.slow} slower than 250 ms`,
  );
  say(
    `   timeline (100 ms per mark, x = all failed): ${timelineAscii(
      prober.results.filter((p) => p.t >= faultAt - 1000),
      100,
    )}`,
  );
  lastMove(run);
  return owner;
}

/** Restores the failed node and waits until it announces again (the ranking brings the IP back). */
async function restoreOwner(run: DemoRun, owner: string): Promise<void> {
  const { lab, prober, markers, moves } = run;
  say(`   restoring ${owner}: the IP returns to it by the ranking rule, make-before-break`);
  const restoreAt = monotonicNow();
  markers.push({ t: restoreAt, label: `restore ${owner}` });
  moves.push({ t: restoreAt, label: `return of ${owner}`, planned: true });
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
  lastMove(run);
}

/** Stops the probes and prints the results: the table, established connections, the plot, the untouched Service, Events. */
async function reportResults(run: DemoRun, n: number, options: DemoOptions): Promise<void> {
  const { cluster, prober, sessions, results, markers, moves } = run;
  const allProbes: Probe[] = await prober.stop();
  const sessionEvents = (await sessions?.stop()) ?? [];

  step(n, "Results");
  say("   fault              owner     -> successor   unavailable   failed/probes");
  for (const r of results) {
    say(
      `   ${r.fault.padEnd(18)} ${r.owner.padEnd(9)} -> ${r.successor.padEnd(11)} ${`${r.unavailableMs} ms`.padStart(11)}   ${r.failed}/${r.probes}`,
    );
  }
  if (sessions) {
    const e = establishedReport(sessionEvents, moves);
    say(
      `   established connections (${e.connections} keep-alive clients): ${e.plannedLost} lost on planned moves, ${e.unplannedLost} on unplanned ones (a crash loses the NAT state with the node)`,
    );
    for (const m of e.moves) say(`     ${formatMoveImpact(m, e.connections)}`);
  }
  const svgPath = resolve(options.out);
  writeFileSync(
    svgPath,
    timelineSvg(
      allProbes,
      markers,
      `floatip lab demo: HTTP probes through ${VIP} every 10 ms`,
      sessionEvents,
    ),
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
 * The lab the demo and `floatip-lab up` build: 3 control-plane nodes, a worker, class metallb, and
 * floatip from its own image as the chart runs it (`fromSource`: from the source tree, for
 * development). Both kinds of speaker use MetalLB's ownership (a restored node takes the IP back),
 * which the demo shows; the chart's default is sticky.
 */
export function seedClusterOptions(fromSource: boolean, progress: (line: string) => void): LabClusterOptions {
  return {
    nodes: 3,
    workers: 1,
    lbClass: "metallb",
    progress,
    image: fromSource ? undefined : { sets: ["speaker.ownership=strict"] },
  };
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
): Promise<GatewaySeed> {
  const lab = cluster.lab;
  step(
    2,
    `Applying the seed's manifests with the floating IP ${vip} (IPAddressPool, L2Advertisement on ens3, EnvoyProxy with loadBalancerClass metallb, GatewayClass, Gateway); the real Envoy Gateway controller creates the Envoy Service`,
  );
  const svc = await seedThroughEnvoyGateway(cluster, vip);
  say(`   Envoy Gateway created ${svc.namespace}/${svc.name}`);
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

  step(
    3,
    `Starting the floatip controller and a speaker on each control-plane node, ${cluster.options.image ? "from floatip's image as the chart runs them" : "from the source tree"}`,
  );
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
