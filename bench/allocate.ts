/**
 * Allocation benchmark against a real kube-apiserver: 10,000 LoadBalancer Services, one controller
 * (run as a child process, exactly as `floatip controller`, so its RSS is its own), timed until every
 * Service shows an IP in status. Then the controller is restarted and must restore all 10,000 without
 * a single write.
 *
 *   npx tsx bench/allocate.ts [--services 10000] [--concurrency 16] [--runtime dist|tsx]
 *                             [--entry cli|command] [--node-options="--max-old-space-size=160"]
 *                             [--out bench/results/allocate.json]
 *
 * --runtime dist (default) first compiles the project with tsc into dist/ and runs the compiled
 * JavaScript, as the container image does; --runtime tsx runs the TypeScript sources through tsx,
 * whose loader thread adds ~40 MB of RSS.
 * --entry cli (default) runs `floatip controller` through the full CLI; --entry command runs only the
 * controller command, to see what the rest of the CLI costs in RSS.
 * --node-options: the controller's Node flags; by default the chart's (NODE_OPTIONS in its
 * Deployment: the old generation capped at its 256Mi memory limit less 96 MiB).
 *
 * 10,000 IPv4 addresses don't exist in the documentation ranges, so the testenv control plane is
 * started with a larger IPv6 cluster-IP range and the Services are IPv6 single-stack, allocated from
 * 2001:db8::/112. Only documentation prefixes are used.
 */
import * as k8s from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { KubeApi } from "../src/kube/api.js";
import { connectionFromKubeConfig } from "../src/kube/fallback.js";
import { Reflector } from "../src/kube/reflector.js";
import { slimService, type CachedService } from "../src/controller/slim.js";
import { repoRoot } from "../testenv/binaries.js";
import { installCrds } from "../testenv/kubectl.js";
import { startControlPlane } from "../testenv/controlplane.js";
import { sleep, waitFor } from "../src/common/wait.js";
import { freePort } from "../testenv/process.js";
import { pool } from "./pool.js";
import { CHART_CONTROLLER_NODE_OPTIONS } from "./lab-speakers.js";

const { values: args } = parseArgs({
  options: {
    services: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "16" },
    namespaces: { type: "string", default: "10" },
    runtime: { type: "string", default: "dist" },
    entry: { type: "string", default: "cli" },
    "node-options": { type: "string", default: CHART_CONTROLLER_NODE_OPTIONS.join(" ") },
    out: { type: "string" },
    /** Appends the controller's info-level JSON log to this file (default: warnings only, discarded). */
    "controller-log": { type: "string" },
  },
});
const SERVICES = Number(args.services);
const CONCURRENCY = Number(args.concurrency);
const NAMESPACES = Number(args.namespaces);
const RUNTIME = args.runtime === "tsx" ? "tsx" : "dist";
const ENTRY = args.entry === "command" ? "command" : "cli";
const LB_CLASS = "floatip-bench";
const POOL = "2001:db8::/112";
const root = repoRoot();

const say = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);
const quiet = pino({ level: "error" });

interface Child {
  proc: ChildProcess;
  peakRssMb: () => number;
  stop(): Promise<void>;
}

/** User+system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ=100)
  } catch {
    return 0;
  }
}

function readStatusKb(pid: number, field: "VmHWM"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Compiles the project into dist/ (type errors elsewhere in the tree don't stop tsc from emitting). */
async function build(): Promise<void> {
  const tsc = join(root, "node_modules/typescript/bin/tsc");
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: root, stdio: "ignore" });
    p.on("exit", resolve);
  });
  if (!existsSync(join(root, "dist/src/cli/main.js")))
    throw new Error(`tsc produced no dist/src/cli/main.js (exit ${code})`);
  if (code !== 0) say(`tsc reported type errors (exit ${code}); running what it emitted`);
}

/** `floatip controller` in its own Node process, so its RSS is its own. */
function startController(kubeconfig: string, metricsPort: number): Child {
  const ext = RUNTIME === "tsx" ? "ts" : "js";
  const dir = RUNTIME === "tsx" ? join(root, "src/cli") : join(root, "dist/src/cli");
  const loader = RUNTIME === "tsx" ? ["--import", "tsx"] : [];
  const entry =
    ENTRY === "cli"
      ? [...loader, join(dir, `main.${ext}`), "controller"]
      : [
          ...loader,
          "--input-type=module",
          "-e",
          `import { controllerCommand } from ${JSON.stringify(pathToFileURL(join(dir, `controller.${ext}`)).href)};` +
            "await controllerCommand().parseAsync(process.argv.slice(1), { from: 'user' });",
          "--",
        ];
  const proc = spawn(
    process.execPath,
    [
      ...args["node-options"]!.split(" ").filter(Boolean),
      ...entry,
      "--kubeconfig",
      kubeconfig,
      "--lb-class",
      LB_CLASS,
      "--metrics-address",
      `127.0.0.1:${metricsPort}`,
      "--write-concurrency",
      String(CONCURRENCY),
    ],
    {
      cwd: root,
      env: { ...process.env, FLOATIP_LOG_LEVEL: args["controller-log"] ? "info" : "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  if (args["controller-log"]) proc.stdout?.pipe(createWriteStream(args["controller-log"], { flags: "a" }));
  let tail = "";
  const keep = (d: Buffer): void => void (tail = (tail + d.toString()).slice(-4000));
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  // VmHWM is the kernel's own peak-RSS record; sampled until exit because it vanishes with the process.
  let hwm = 0;
  const timer = setInterval(() => (hwm = Math.max(hwm, readStatusKb(proc.pid!, "VmHWM"))), 250);
  proc.on("exit", (code, signal) => {
    clearInterval(timer);
    if (code !== 0 && signal !== "SIGTERM") say(`controller exited ${code ?? signal}; last output:\n${tail}`);
  });
  return {
    proc,
    peakRssMb: () => Math.max(hwm, readStatusKb(proc.pid!, "VmHWM")) / 1024,
    stop: async () => {
      hwm = Math.max(hwm, readStatusKb(proc.pid!, "VmHWM"));
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

async function metric(port: number, name: string, labels = ""): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let sum = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith(name) && line.includes(labels)) sum += Number(line.split(" ").pop());
    }
    return sum;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<void> {
  if (RUNTIME === "dist") {
    say("compiling with tsc into dist/");
    await build();
  }
  say(`starting a control plane (dual-stack Service range) for ${SERVICES} Services`);
  // Dual-stack with an IPv6 range that holds a million cluster IPs, and room in etcd.
  const cp = await startControlPlane({
    serviceClusterIpRange: "192.0.2.0/24,2001:db8:ffff::/108",
    etcdQuotaBackendBytes: 4 * 1024 ** 3,
  });
  let controller: Child | undefined;
  let watcher: Reflector<CachedService> | undefined;
  try {
    await installCrds(cp, [join(root, "deploy/crds")]);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const api = new KubeApi(await connectionFromKubeConfig(kc), { maxSockets: 64, timeoutMs: 60_000 });
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-${i}`);
    for (const ns of ["metallb-system", ...namespaces]) {
      await api.request("POST", "/api/v1/namespaces", { body: { metadata: { name: ns } } });
    }
    await api.request("POST", "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools", {
      body: {
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        metadata: { name: "bench-v6" },
        spec: { addresses: [POOL] },
      },
    });

    say(`creating ${SERVICES} Services in ${NAMESPACES} namespaces`);
    const t0 = performance.now();
    const names = Array.from({ length: SERVICES }, (_, i) => ({
      ns: namespaces[i % NAMESPACES]!,
      name: `svc-${i}`,
    }));
    await pool(names, 64, async ({ ns, name }) => {
      await api.request("POST", `/api/v1/namespaces/${ns}/services`, {
        body: {
          metadata: { name, labels: { app: name } },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: LB_CLASS,
            ipFamilies: ["IPv6"],
            ipFamilyPolicy: "SingleStack",
            allocateLoadBalancerNodePorts: false,
            externalTrafficPolicy: "Cluster",
            ports: [{ port: 443, protocol: "TCP" }],
          },
        },
      });
    });
    const createSeconds = (performance.now() - t0) / 1000;
    say(`created in ${createSeconds.toFixed(1)} s`);

    // Count Services with an IP, and every change made to them after the first phase.
    const withIP = new Set<string>();
    const seenIPs = new Map<string, string>();
    let modifiedAfterAllocation = 0;
    let phase: "allocate" | "restart" = "allocate";
    watcher = new Reflector<CachedService>({
      name: "bench-services",
      api,
      path: "/api/v1/services",
      slim: slimService,
      log: quiet,
      onChange: (kind, svc) => {
        if (!svc.metadata.namespace?.startsWith("bench-")) return;
        const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
        if (phase === "restart" && kind !== "add") modifiedAfterAllocation++;
        const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
        if (ip) {
          withIP.add(key);
          seenIPs.set(key, ip);
        }
      },
    });
    await watcher.start();

    const metricsPort = await freePort();
    say(`starting the controller (write concurrency ${CONCURRENCY})`);
    const cpu0 = {
      apiserver: cpuSeconds(cp.pids().apiserver),
      etcd: cpuSeconds(cp.pids().etcd),
      bench: process.cpuUsage(),
    };
    const loadBefore = loadavg()[0]!;
    const t1 = performance.now();
    controller = startController(cp.kubeconfigPath, metricsPort);
    await waitFor("all Services to get an IP", () => withIP.size >= SERVICES, 600_000);
    const allocateSeconds = (performance.now() - t1) / 1000;
    const benchCpu = process.cpuUsage(cpu0.bench);
    const cpu = {
      controller: round(cpuSeconds(controller.proc.pid!)),
      apiserver: round(cpuSeconds(cp.pids().apiserver) - cpu0.apiserver),
      etcd: round(cpuSeconds(cp.pids().etcd) - cpu0.etcd),
      benchWatcher: round((benchCpu.user + benchCpu.system) / 1e6),
    };
    await waitFor(
      "IPAllocated Events",
      async () =>
        (await metric(metricsPort, "floatip_controller_events_total", 'result="created"')) >= SERVICES,
      120_000,
    ).catch((err: unknown) => say(String(err)));
    const eventsSeconds = (performance.now() - t1) / 1000;
    const conflicts = await metric(metricsPort, "floatip_controller_api_writes_total", 'result="conflict"');
    const writes = await metric(metricsPort, "floatip_controller_api_writes_total", 'result="ok"');
    const peak1 = controller.peakRssMb();
    const unique = new Set(seenIPs.values()).size;
    await controller.stop();

    say("restarting the controller: every IP must be restored without a write");
    phase = "restart";
    const metricsPort2 = await freePort();
    const t2 = performance.now();
    controller = startController(cp.kubeconfigPath, metricsPort2);
    await waitFor(
      "the restarted controller to reconcile every Service",
      async () => (await metric(metricsPort2, "floatip_controller_reconciles_total")) >= SERVICES,
      300_000,
    );
    const restartSeconds = (performance.now() - t2) / 1000;
    await sleep(1000); // let any stray write show up in the watch
    const restartWrites = await metric(
      metricsPort2,
      "floatip_controller_api_writes_total",
      'target="service',
    );
    const peak2 = controller.peakRssMb();
    await controller.stop();
    controller = undefined;

    const result = {
      services: SERVICES,
      writeConcurrency: CONCURRENCY,
      runtime: RUNTIME,
      entry: ENTRY,
      createSeconds: round(createSeconds),
      allocateSeconds: round(allocateSeconds),
      servicesPerSecond: Math.round(SERVICES / allocateSeconds),
      eventsDrainedSeconds: round(eventsSeconds),
      cpuSecondsDuringAllocation: cpu,
      serviceWrites: writes,
      writeConflicts: conflicts,
      uniqueIPs: unique,
      peakRssMb: round(peak1),
      restartSeconds: round(restartSeconds),
      restartServiceWrites: restartWrites,
      restartServicesModified: modifiedAfterAllocation,
      restartPeakRssMb: round(peak2),
      cpus: cpus().length,
      loadAverageAtStart: round(loadBefore),
      node: process.version,
    };
    const rows: [string, string][] = [
      ["Services", String(SERVICES)],
      ["controller entry / runtime", `${ENTRY} / ${RUNTIME}`],
      ["load average at start (cpus)", `${result.loadAverageAtStart} (${result.cpus})`],
      ["create (bench client)", `${result.createSeconds} s`],
      ["allocate: start → all have IPs", `${result.allocateSeconds} s`],
      ["Services/s", String(result.servicesPerSecond)],
      ["… IPAllocated Events all written", `${result.eventsDrainedSeconds} s`],
      ["distinct IPs", String(unique)],
      ["Service writes (ok / conflict)", `${writes} / ${conflicts}`],
      [
        "CPU s: controller / apiserver / etcd / bench",
        `${cpu.controller} / ${cpu.apiserver} / ${cpu.etcd} / ${cpu.benchWatcher}`,
      ],
      ["controller peak RSS", `${result.peakRssMb} MB`],
      ["restart: all reconciled", `${result.restartSeconds} s`],
      ["restart: Service writes / changes seen", `${restartWrites} / ${modifiedAfterAllocation}`],
      ["restart: peak RSS", `${result.restartPeakRssMb} MB`],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n"));
    console.log(JSON.stringify(result));
    if (args.out) {
      await mkdir(dirname(args.out), { recursive: true });
      await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
    }
    const ok = unique === SERVICES && restartWrites === 0 && modifiedAfterAllocation === 0;
    if (!ok) process.exitCode = 1;
    api.close();
  } finally {
    await controller?.stop();
    await watcher?.stop();
    await cp.stop();
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;

if (!existsSync(join(root, "deploy/crds"))) throw new Error("run from the floatip repository");
main().then(
  () => process.exit(),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
