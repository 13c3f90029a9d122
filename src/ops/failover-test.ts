/**
 * `floatip failover-test`: the seed's Failover Testing as one command. Finds the announcing node,
 * fails it (drain through the eviction API with --ignore-daemonsets semantics, or a lab fault),
 * probes the IP every 10 ms, measures the time to the new announcement, the unavailability and
 * the failed requests, then puts the node back — also when interrupted.
 */
import type { KubeApi } from "../kube/api.js";
import { errorCode, errorText } from "../kube/errors.js";
import type * as k8s from "../kube/types.js";
import { findTargetServices, httpUrl, l2Statuses, listItems, serviceIps } from "./cluster.js";
import { speakerEvidence, speakerLive } from "./liveness.js";
import { sleep as pause } from "../common/wait.js";
import { CheckFailedError, InterruptedError } from "./outcome.js";
import type { ProbeSession } from "./probing.js";
import { describeProbe } from "./verify.js";
import { summarizeProbes, type Probe, type ProbeSummary } from "./timeline.js";

export type FailMethod = "drain" | "crash" | "freeze" | "public-link-down" | "partition" | "sigterm";

/** How to fail and restore a node outside Kubernetes (the lab's control socket). */
export interface NodeFaulter {
  fault(node: string, kind: Exclude<FailMethod, "drain">): Promise<void>;
  restore(node: string): Promise<void>;
}

export interface FailoverTestOptions {
  namespace: string;
  lbClass: string | undefined;
  service?: string;
  method: FailMethod;
  faulter?: NodeFaulter;
  probe: (url: string) => ProbeSession;
  /** Longest wait for the new announcement. */
  timeoutMs: number;
  /** Keep probing this long after recovery to catch stragglers. */
  settleMs: number;
  progress: (line: string) => void;
  /** Set by the CLI on Ctrl-C: stop waiting and restore. */
  signal?: AbortSignal;
  /** Longest wait for the node's speaker to be live after the restore. */
  restoreTimeoutMs?: number;
}

export interface FailoverTestResult {
  ok: boolean;
  service: string;
  ip: string;
  method: FailMethod;
  failedNode: string;
  newNode?: string;
  /** From the fault to the new ServiceL2Status. */
  newAnnouncementMs?: number;
  /** Conservative unavailability window (first to last degraded probe). */
  unavailableMs: number;
  failedRequests: number;
  /** Of the failed requests, those reset while clients switched MAC (see ProbeSummary.resets). */
  resetRequests: number;
  slowRequests: number;
  probes: number;
  faultAt: number;
  /** The fault was injected (false when stopped before it). */
  faulted: boolean;
  /** What was done to put the node back. */
  restoreActions: string[];
  /** Set once the node's speaker is live again after the restore. */
  restoredAt?: number;
  interrupted?: boolean;
  /** Who answered (server header, else body), and how often each status came back. */
  answeredBy?: string[];
  statuses?: Record<string, number>;
  error?: string;
  summary: ProbeSummary;
  timeline: Probe[];
}

export async function cordon(c: KubeApi, node: string, unschedulable: boolean): Promise<void> {
  await c.request("PATCH", `/api/v1/nodes/${node}`, { patch: "merge", body: { spec: { unschedulable } } });
}

/** `kubectl drain --ignore-daemonsets --delete-emptydir-data` through the eviction API. */
export async function drain(
  c: KubeApi,
  node: string,
  deadline: number,
  progress: (l: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  await cordon(c, node, true);
  progress(`cordoned ${node}`);
  const pods = (
    await listItems<k8s.V1Pod>(c, "/api/v1/pods", { fieldSelector: `spec.nodeName=${node}` })
  ).filter((p) => {
    const owners = p.metadata?.ownerReferences ?? [];
    const daemonSet = owners.some((o) => o.kind === "DaemonSet");
    const mirror = p.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined;
    const done = p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
    return !daemonSet && !mirror && !done;
  });
  for (const pod of pods) {
    const name = pod.metadata?.name ?? "";
    const namespace = pod.metadata?.namespace ?? "default";
    for (;;) {
      if (signal?.aborted) throw new InterruptedError("interrupted while draining");
      try {
        await c.request("POST", `/api/v1/namespaces/${namespace}/pods/${name}/eviction`, {
          body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace } },
        });
        progress(`evicted ${namespace}/${name}`);
        break;
      } catch (err) {
        const code = errorCode(err);
        if (code === 404) break;
        if (code === 429 && Date.now() < deadline) {
          // A PodDisruptionBudget says not now: kubectl drain retries too.
          await pause(1000, signal);
          continue;
        }
        throw new Error(`cannot evict ${namespace}/${name}: ${errorText(err)} (node ${node} won't drain)`, {
          cause: err,
        });
      }
    }
  }
}

interface Target {
  key: { namespace: string; name: string };
  ip: string;
  owner: string;
  url: string;
}

async function findTarget(c: KubeApi, opts: FailoverTestOptions): Promise<Target> {
  const [svc] = await findTargetServices(c, opts.service, opts.lbClass);
  if (!svc) throw new Error("no LoadBalancer Service of this class found: pass --service <namespace>/<name>");
  const key = { namespace: svc.metadata?.namespace ?? "default", name: svc.metadata?.name ?? "" };
  const ip = serviceIps(svc)[0];
  if (!ip)
    throw new CheckFailedError(`${key.namespace}/${key.name} has no IP in status (run floatip doctor)`);
  const owner = await singleAnnouncer(c, opts, key, ip);
  if (opts.method !== "drain" && !opts.faulter)
    throw new Error(
      `--method ${opts.method} needs the lab (--lab <socket>); on a real cluster use --method drain`,
    );
  return { key, ip, owner, url: httpUrl(ip, svc.spec?.ports?.[0]?.port ?? 80) };
}

/**
 * The one node announcing the Service now. A handover in progress shows none or two for a moment,
 * so wait a little before calling it a failure.
 */
async function singleAnnouncer(
  c: KubeApi,
  opts: FailoverTestOptions,
  key: Target["key"],
  ip: string,
): Promise<string> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const nodes = (await l2Statuses(c, opts.namespace, key)).map((s) => s.status?.node).filter(Boolean);
    if (nodes.length === 1) return nodes[0]!;
    if (opts.signal?.aborted) throw new InterruptedError("interrupted before the fault: nothing was changed");
    if (performance.now() > deadline)
      throw new CheckFailedError(
        `no single node announces ${ip}: ServiceL2Status names ${nodes.length ? nodes.join(", ") : "no node"} (run floatip verify)`,
      );
    await pause(200, opts.signal);
  }
}

/** Before the fault: the IP must answer as expected. Interrupted or failing here, nothing changed. */
async function baseline(session: ProbeSession, t: Target, opts: FailoverTestOptions): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!session.results.some((p) => p.ok)) {
    if (opts.signal?.aborted) throw new InterruptedError("interrupted before the fault: nothing was changed");
    if (performance.now() > deadline) {
      const last = session.results.filter((p) => p.status !== undefined).at(-1) ?? session.results.at(-1);
      throw new CheckFailedError(
        `before the test, ${last ? describeProbe(t.url, last) : `${t.url}: no answer`}. Fix reachability first (floatip verify). Nothing was changed.`,
      );
    }
    await pause(50, opts.signal);
  }
  await pause(1000, opts.signal);
  if (opts.signal?.aborted) throw new InterruptedError("interrupted before the fault: nothing was changed");
}

const interrupted = (opts: FailoverTestOptions, phase: string) => {
  if (opts.signal?.aborted) throw new InterruptedError(`interrupted ${phase}`);
};

/** The fault, the new announcement, the first good answer after it, and the settle time. */
async function faultAndRecover(
  c: KubeApi,
  t: Target,
  session: ProbeSession,
  result: FailoverTestResult,
  opts: FailoverTestOptions,
): Promise<void> {
  const deadline = performance.now() + opts.timeoutMs;
  result.faultAt = Date.now();
  result.faulted = true;
  opts.progress(
    `failing ${t.owner} (${opts.method === "drain" ? "kubectl drain --ignore-daemonsets" : opts.method})`,
  );
  if (opts.method === "drain")
    await drain(c, t.owner, Date.now() + opts.timeoutMs, opts.progress, opts.signal);
  else await opts.faulter!.fault(t.owner, opts.method);
  for (;;) {
    interrupted(opts, "while waiting for the new announcement");
    // The successor's ServiceL2Status (a dead owner's may linger until the successor removes it).
    const statuses = await l2Statuses(c, opts.namespace, t.key).catch(() => []);
    const now = statuses.map((s) => s.status?.node).find((n) => n && n !== t.owner);
    if (now) {
      result.newNode = now;
      result.newAnnouncementMs = Date.now() - result.faultAt;
      opts.progress(`${now} announces ${t.ip} ${result.newAnnouncementMs} ms after the fault`);
      break;
    }
    if (performance.now() > deadline)
      throw new Error(`no other node announced ${t.ip} within ${opts.timeoutMs} ms`);
    await pause(50, opts.signal);
  }
  const okAfter = () =>
    session.results.some((p) => p.ok && p.t > result.faultAt + (result.newAnnouncementMs ?? 0));
  while (!okAfter()) {
    interrupted(opts, "while waiting for the IP to answer again");
    if (performance.now() > deadline)
      throw new Error(`${t.url} did not answer again within ${opts.timeoutMs} ms`);
    await pause(50, opts.signal);
  }
  opts.progress(`answering again; probing ${opts.settleMs} ms more to catch stragglers`);
  await pause(opts.settleMs, opts.signal);
  interrupted(opts, "while settling");
  result.ok = true;
}

/** Uncordon or lab restore, then wait until the node's speaker is live again (what verify checks). */
async function restore(c: KubeApi, t: Target, result: FailoverTestResult, opts: FailoverTestOptions) {
  opts.progress(`restoring ${t.owner}`);
  const since = Date.now();
  try {
    if (opts.method === "drain") await cordon(c, t.owner, false);
    else await opts.faulter!.restore(t.owner);
    result.restoreActions.push(opts.method === "drain" ? `uncordoned ${t.owner}` : `lab restored ${t.owner}`);
  } catch (err) {
    result.ok = false;
    result.error = `${result.error ? `${result.error}; ` : ""}could not restore ${t.owner}: ${err instanceof Error ? err.message : String(err)} — run: kubectl uncordon ${t.owner}`;
    return;
  }
  const deadline = performance.now() + (opts.restoreTimeoutMs ?? 60_000);
  for (;;) {
    const evidence = await speakerEvidence(c, opts.namespace).catch(() => undefined);
    if (evidence && speakerLive(evidence, t.owner, Date.now(), since)) break;
    if (performance.now() > deadline) {
      result.ok = false;
      result.error = `${result.error ? `${result.error}; ` : ""}${t.owner}'s speaker is not live ${opts.restoreTimeoutMs ?? 60_000} ms after the restore (floatip verify)`;
      return;
    }
    await pause(100);
  }
  result.restoredAt = Date.now();
  opts.progress(`${t.owner} restored: its speaker is live again`);
}

export async function failoverTest(c: KubeApi, opts: FailoverTestOptions): Promise<FailoverTestResult> {
  const t = await findTarget(c, opts);
  opts.progress(
    `${t.key.namespace}/${t.key.name} has ${t.ip}, announced by ${t.owner}; probing ${t.url} every 10 ms`,
  );
  const session = opts.probe(t.url);
  try {
    await baseline(session, t, opts);
  } catch (err) {
    await session.stop();
    throw err;
  }
  const result: FailoverTestResult = {
    ok: false,
    service: `${t.key.namespace}/${t.key.name}`,
    ip: t.ip,
    method: opts.method,
    failedNode: t.owner,
    unavailableMs: 0,
    failedRequests: 0,
    resetRequests: 0,
    slowRequests: 0,
    probes: 0,
    faultAt: Date.now(),
    faulted: false,
    restoreActions: [],
    summary: summarizeProbes([]),
    timeline: [],
  };
  const live = setInterval(() => {
    const s = summarizeProbes(session.results, result.faultAt);
    opts.progress(
      `  +${((Date.now() - result.faultAt) / 1000).toFixed(1)} s: ${s.probes - s.failed} ok, ${s.failed} failed`,
    );
  }, 1000);
  try {
    await faultAndRecover(c, t, session, result, opts);
  } catch (err) {
    result.ok = false;
    result.interrupted = err instanceof InterruptedError;
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    clearInterval(live);
    result.timeline = await session.stop();
    Object.assign(result, measure(result.timeline, result.faultAt));
    if (result.faulted) await restore(c, t, result, opts);
  }
  return result;
}

function measure(timeline: Probe[], faultAt: number) {
  const summary = summarizeProbes(timeline, faultAt - 100);
  return {
    summary,
    unavailableMs: summary.spanMs,
    failedRequests: summary.failed,
    resetRequests: summary.resets,
    slowRequests: summary.slow,
    probes: summary.probes,
    answeredBy: [...new Set(timeline.filter((p) => p.ok).map((p) => p.server ?? p.body))],
    statuses: countStatuses(timeline),
  };
}

/** "200": 812, "404": 3, "none": 5 — what answered, for the JSON. */
function countStatuses(timeline: readonly Probe[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of timeline) out[String(p.status ?? "none")] = (out[String(p.status ?? "none")] ?? 0) + 1;
  return out;
}

export function formatFailoverResult(r: FailoverTestResult): string {
  const lines = [
    `service            ${r.service} (${r.ip})`,
    `method             ${r.method}`,
    `failed node        ${r.failedNode}`,
    `new announcing     ${r.newNode ?? "-"}${r.newAnnouncementMs !== undefined ? ` after ${r.newAnnouncementMs} ms` : ""}`,
    `unavailability     ${r.unavailableMs} ms`,
    `failed requests    ${r.failedRequests} of ${r.probes}${r.resetRequests ? ` (${r.resetRequests} reset mid-handshake by the MAC switch)` : ""}, ${r.slowRequests} slower than 250 ms`,
    `answered by        ${r.answeredBy?.join(", ") || "-"} (statuses ${
      Object.entries(r.statuses ?? {})
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ") || "-"
    })`,
    `node restored      ${!r.faulted ? "nothing was changed" : r.restoredAt ? `yes (${r.restoreActions.join(", ")}; speaker live again)` : "NO"}`,
  ];
  if (r.error) lines.push(`error              ${r.error}`);
  lines.push(
    "",
    r.ok
      ? "floatip failover-test: PASSED"
      : r.interrupted
        ? "floatip failover-test: INTERRUPTED"
        : "floatip failover-test: FAILED",
  );
  return lines.join("\n");
}
