/**
 * Shared by the lab benchmarks: speakers started from the tsc build (`npm run build` first), and
 * what /proc says of a process (CPU, memory, and its network namespace's UDP counters).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { LabCluster } from "../lab/cluster.js";
import type { LabNode, LabProcess } from "../lab/lab.js";

const main = join(import.meta.dirname, "..", "dist", "src", "cli", "main.js");

/**
 * The Node flags the chart gives the speaker by default (NODE_OPTIONS in deploy/chart's DaemonSet:
 * its 256Mi memory limit less 96 MiB caps the old generation; test/deploy/chart.test.ts holds them equal).
 */
export const CHART_NODE_OPTIONS = ["--max-semi-space-size=2", "--max-old-space-size=160"];
/** The controller's, likewise (its Deployment; bench/allocate.ts runs it with them). */
export const CHART_CONTROLLER_NODE_OPTIONS = ["--max-old-space-size=160"];

/** Starts the built speaker on a lab node (where lab/speakers.ts reads its state: InternalIP:7472). */
export function startBuiltSpeaker(
  cluster: LabCluster,
  node: LabNode,
  extraArgs: string[] = [],
  nodeArgs: string[] = CHART_NODE_OPTIONS,
  env?: NodeJS.ProcessEnv,
): LabProcess {
  if (!existsSync(main)) throw new Error(`${main} missing: run npm run build first`);
  return cluster.lab.startOnNode(
    node,
    `speaker-${node.name}`,
    process.execPath,
    [
      ...nodeArgs,
      main,
      "speaker",
      "--kubeconfig",
      cluster.nodeKubeconfig,
      "--node-name",
      node.name,
      "--metrics-address",
      `${node.internalIp}:7472`,
      "--lb-class",
      "metallb",
      "--heartbeat-key-file",
      cluster.heartbeatKeyFile,
      ...extraArgs,
    ],
    env && { ...process.env, ...env },
  );
}

/**
 * Speakers started with --cpu-prof write their profiles only on a clean exit, and the lab's
 * teardown kills: SIGTERM the live ones (each hands over and exits) and wait for them.
 */
export async function stopForProfiles(speakers: readonly LabProcess[]): Promise<void> {
  const live = speakers.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  for (const p of live) p.child.kill("SIGTERM");
  await Promise.all(live.map((p) => p.exited));
}

const CLK_TCK = 100;

export interface ProcSample {
  /** utime + stime, seconds. */
  cpuS: number;
  rssMb: number;
  /** The process's peak RSS so far (VmHWM): what a memory limit must allow. */
  peakRssMb: number;
  /** RSS split as the kernel counts it: anonymous (heaps, stacks) and file-backed (node's binary, libraries). */
  rssAnonMb: number;
  rssFileMb: number;
  /** UDP datagrams sent and received in the process's network namespace (/proc/<pid>/net/snmp). */
  udpOut: number;
  udpIn: number;
}

export function sampleProcess(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  const [header, values] = readFileSync(`/proc/${pid}/net/snmp`, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("Udp:"))
    .map((l) => l.split(/\s+/).slice(1));
  const udp = (name: string) => Number(values?.[header?.indexOf(name) ?? -1] ?? Number.NaN);
  return {
    cpuS,
    rssMb: kb("VmRSS") / 1024,
    peakRssMb: kb("VmHWM") / 1024,
    rssAnonMb: kb("RssAnon") / 1024,
    rssFileMb: kb("RssFile") / 1024,
    udpOut: udp("OutDatagrams"),
    udpIn: udp("InDatagrams"),
  };
}

/**
 * CPU seconds per thread name (/proc/PID/task/*): "node" (the event loop), "floatip-pump" (the
 * heartbeat pump), "V8 ..." (GC and compiler workers), "libuv-worker", ... Same-named threads add up.
 */
export function sampleThreads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
      out.set(name, (out.get(name) ?? 0) + cpuS);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Context switches per thread name (/proc/PID/task/TID/status, voluntary + involuntary): on a VM each
 * wakeup of an idle vCPU costs far more than the work it wakes for, so wakeups explain idle CPU.
 */
export function sampleThreadSwitches(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      const name = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? tid;
      const count = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+)`, "m").exec(status)?.[1] ?? 0);
      out.set(
        name,
        (out.get(name) ?? 0) + count("voluntary_ctxt_switches") + count("nonvoluntary_ctxt_switches"),
      );
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** The 1-minute load average (/proc/loadavg). */
export function loadAverage(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

/** Restricts threads to `cpus` (taskset's list syntax, e.g. "0" or "1-3"); new ones inherit it. */
export function pinCpus(pid: number, cpus: string, allThreads = true): void {
  const which = allThreads ? ["--all-tasks"] : [];
  execFileSync("taskset", [...which, "--pid", "--cpu-list", cpus, String(pid)], { stdio: "ignore" });
}

/**
 * `--own-cpu`: the speaker's event loop (its main thread, where every step runs) alone on CPU 0, as
 * on a node with a core to spare, and every other thread of the lab (the speaker's own pump and V8
 * workers included) on the rest. The lab must have been started pinned to the rest (`pinCpus` on
 * this process first). Call once the speaker has started its threads: later ones inherit CPU 0.
 * Returns what it did, for the results.
 */
export function giveMainThreadOwnCpu(node: string, pid: number, plan: OwnCpuPlan): string {
  pinCpus(pid, plan.speakerCpu, false);
  for (const tid of readdirSync(`/proc/${pid}/task`))
    if (Number(tid) !== pid) pinCpus(Number(tid), plan.othersCpus, false);
  return `${node}'s main thread alone on CPU ${plan.speakerCpu}, the rest on ${plan.othersCpus}`;
}

export interface OwnCpuPlan {
  speakerCpu: string;
  othersCpus: string;
}

/** Where `--own-cpu` puts things, or why it cannot (fewer than 2 CPUs). */
export function ownCpuPlan(): OwnCpuPlan {
  const cpus = availableParallelism();
  if (cpus < 2) throw new Error(`--own-cpu needs 2 CPUs or more; this machine has ${cpus}`);
  return { speakerCpu: "0", othersCpus: cpus === 2 ? "1" : `1-${cpus - 1}` };
}
