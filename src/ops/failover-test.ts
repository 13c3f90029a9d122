/**
 * `floatip failover-test`: the seed's Failover Testing as one command. Finds the announcing node,
 * fails it (drain through the eviction API with --ignore-daemonsets semantics, or a lab fault),
 * probes the IP every 10 ms, measures the time to the new announcement, the unavailability and
 * the failed requests, then puts the node back — also when interrupted.
 */
import * as k8s from "@kubernetes/client-node";
import { apiErrorMessage } from "../kube/client.js";
import {
  announcingNode,
  clients,
  findTargetServices,
  httpUrl,
  l2Statuses,
  serviceIps,
  type ClusterClients,
} from "./cluster.js";
import type { ProbeSession } from "./probing.js";
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
  restoredAt?: number;
  error?: string;
  summary: ProbeSummary;
  timeline: Probe[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function cordon(c: ClusterClients, node: string, unschedulable: boolean): Promise<void> {
  await c.core.patchNode(
    { name: node, body: { spec: { unschedulable } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
}

/** `kubectl drain --ignore-daemonsets --delete-emptydir-data` through the eviction API. */
export async function drain(
  c: ClusterClients,
  node: string,
  deadline: number,
  progress: (l: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  await cordon(c, node, true);
  progress(`cordoned ${node}`);
  const pods = (
    await c.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` })
  ).items.filter((p) => {
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
      if (signal?.aborted) throw new Error("interrupted");
      try {
        await c.core.createNamespacedPodEviction({
          name,
          namespace,
          body: { metadata: { name, namespace } },
        });
        progress(`evicted ${namespace}/${name}`);
        break;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 404) break;
        if (code === 429 && Date.now() < deadline) {
          // A PodDisruptionBudget says not now: kubectl drain retries too.
          await sleep(1000);
          continue;
        }
        throw new Error(
          `cannot evict ${namespace}/${name}: ${apiErrorMessage(err)} (node ${node} won't drain)`,
          {
            cause: err,
          },
        );
      }
    }
  }
}

export async function failoverTest(
  kc: k8s.KubeConfig,
  opts: FailoverTestOptions,
): Promise<FailoverTestResult> {
  const c = clients(kc);
  const [svc] = await findTargetServices(c, opts.service, opts.lbClass);
  if (!svc) throw new Error("no LoadBalancer Service of this class found: pass --service <namespace>/<name>");
  const key = { namespace: svc.metadata?.namespace ?? "default", name: svc.metadata?.name ?? "" };
  const ip = serviceIps(svc)[0];
  if (!ip) throw new Error(`${key.namespace}/${key.name} has no IP in status (run floatip doctor)`);
  const owner = await announcingNode(c, opts.namespace, key);
  if (!owner) throw new Error(`no single node announces ${ip} (run floatip verify)`);
  if (opts.method !== "drain" && !opts.faulter)
    throw new Error(
      `--method ${opts.method} needs the lab (--lab <socket>); on a real cluster use --method drain`,
    );
  const url = httpUrl(ip, svc.spec?.ports?.[0]?.port ?? 80);

  opts.progress(`${key.namespace}/${key.name} has ${ip}, announced by ${owner}; probing ${url} every 10 ms`);
  const session = opts.probe(url);
  const baselineDeadline = Date.now() + 10_000;
  while (!session.results.some((p) => p.ok)) {
    if (Date.now() > baselineDeadline || opts.signal?.aborted) {
      await session.stop();
      throw new Error(
        `${url} does not answer before the test; fix reachability first (floatip verify). Nothing was changed.`,
      );
    }
    await sleep(50);
  }
  await sleep(1000);

  const result: FailoverTestResult = {
    ok: false,
    service: `${key.namespace}/${key.name}`,
    ip,
    method: opts.method,
    failedNode: owner,
    unavailableMs: 0,
    failedRequests: 0,
    resetRequests: 0,
    slowRequests: 0,
    probes: 0,
    faultAt: Date.now(),
    summary: summarizeProbes([]),
    timeline: [],
  };
  const live = setInterval(() => {
    const s = summarizeProbes(session.results, result.faultAt);
    opts.progress(
      `  +${((Date.now() - result.faultAt) / 1000).toFixed(1)} s: ${s.probes - s.failed} ok, ${s.failed} failed`,
    );
  }, 1000);
  const deadline = Date.now() + opts.timeoutMs;
  try {
    result.faultAt = Date.now();
    opts.progress(
      `failing ${owner} (${opts.method === "drain" ? "kubectl drain --ignore-daemonsets" : opts.method})`,
    );
    if (opts.method === "drain") await drain(c, owner, deadline, opts.progress, opts.signal);
    else await opts.faulter!.fault(owner, opts.method);

    for (;;) {
      if (opts.signal?.aborted) throw new Error("interrupted");
      // The successor's ServiceL2Status (a dead owner's may linger until the successor removes it).
      const statuses = await l2Statuses(c, opts.namespace, key).catch(() => []);
      const now = statuses.map((s) => s.status?.node).find((n) => n && n !== owner);
      if (now) {
        result.newNode = now;
        result.newAnnouncementMs = Date.now() - result.faultAt;
        opts.progress(`${now} announces ${ip} ${result.newAnnouncementMs} ms after the fault`);
        break;
      }
      if (Date.now() > deadline) throw new Error(`no other node announced ${ip} within ${opts.timeoutMs} ms`);
      await sleep(50);
    }
    const okAfter = () =>
      session.results.some((p) => p.ok && p.t > result.faultAt + (result.newAnnouncementMs ?? 0));
    while (!okAfter()) {
      if (Date.now() > deadline || opts.signal?.aborted)
        throw new Error(`${url} did not answer again within ${opts.timeoutMs} ms`);
      await sleep(50);
    }
    await sleep(opts.settleMs);
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    clearInterval(live);
    result.timeline = await session.stop();
    result.summary = summarizeProbes(result.timeline, result.faultAt - 100);
    result.unavailableMs = result.summary.spanMs;
    result.failedRequests = result.summary.failed;
    result.resetRequests = result.summary.resets;
    result.slowRequests = result.summary.slow;
    result.probes = result.summary.probes;
    opts.progress(`restoring ${owner}`);
    try {
      if (opts.method === "drain") await cordon(c, owner, false);
      else await opts.faulter!.restore(owner);
      result.restoredAt = Date.now();
    } catch (err) {
      result.ok = false;
      result.error = `${result.error ? `${result.error}; ` : ""}could not restore ${owner}: ${err instanceof Error ? err.message : String(err)} — run: kubectl uncordon ${owner}`;
    }
  }
  return result;
}

export function formatFailoverResult(r: FailoverTestResult): string {
  const lines = [
    `service            ${r.service} (${r.ip})`,
    `method             ${r.method}`,
    `failed node        ${r.failedNode}`,
    `new announcing     ${r.newNode ?? "-"}${r.newAnnouncementMs !== undefined ? ` after ${r.newAnnouncementMs} ms` : ""}`,
    `unavailability     ${r.unavailableMs} ms`,
    `failed requests    ${r.failedRequests} of ${r.probes}${r.resetRequests ? ` (${r.resetRequests} reset mid-handshake by the MAC switch)` : ""}, ${r.slowRequests} slower than 250 ms`,
    `node restored      ${r.restoredAt ? "yes" : "NO"}`,
  ];
  if (r.error) lines.push(`error              ${r.error}`);
  lines.push("", r.ok ? "floatip failover-test: PASSED" : "floatip failover-test: FAILED");
  return lines.join("\n");
}
