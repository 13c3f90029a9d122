/**
 * `floatip verify`: the seed's Verification section as one command. Every check says what it
 * looked at, passes or fails, and on failure says what to do.
 */
import { l2AdvertisementSelectsPool } from "../api/l2advertisement.js";
import {
  METALLB_GROUP,
  METALLB_VERSION,
  type ConfigurationState,
  type IPAddressPool,
  type L2Advertisement,
} from "../api/types.js";
import {
  ANNOTATION_IP_ALLOCATED_FROM_POOL,
  DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL,
} from "../api/annotations.js";
import type { KubeApi } from "../kube/api.js";
import { errorCode, errorText } from "../kube/errors.js";
import type * as k8s from "../kube/types.js";
import {
  findTargetServices,
  httpUrl,
  l2Statuses,
  lastNodeAssigned,
  listItems,
  serviceIps,
} from "./cluster.js";
import { DEFAULT_EXPECTATION, describeStatus, type Expectation } from "./expect.js";
import { podReady, speakerEvidence, speakerLive, leaseFresh, type SpeakerEvidence } from "./liveness.js";
import { probeOnce, type ProbeSession } from "./probing.js";
import {
  checkAdvertisements,
  checkConfigurationState,
  checkInterfaces,
  checkPools,
  checkServingAdvertisements,
  publishedInterfaces,
  type NodeLike,
} from "./verify-config.js";
import type { Probe } from "./timeline.js";
import { sleep } from "../common/wait.js";

export type CheckStatus = "pass" | "fail" | "warn" | "skip";

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface VerifyOptions {
  namespace: string;
  lbClass: string | undefined;
  service?: string;
  expectedIp?: string;
  /** Nodes that must run a speaker; default: control-plane nodes (or all nodes if none is labelled). */
  nodes?: string[];
  http: boolean;
  httpTimeoutMs: number;
  /** Runs the HTTP check somewhere else (the lab's client namespace). */
  httpProbe?: (url: string) => ProbeSession;
  /** What a good answer is (default: 2xx/3xx, any body). */
  expect?: Expectation;
  /** Ctrl-C: stop waiting. */
  signal?: AbortSignal;
}

export interface VerifyReport {
  ok: boolean;
  service?: string;
  ip?: string;
  announcingNode?: string;
  checks: CheckResult[];
}

const CONTROLLER_LEASE = "floatip-controller";

async function checkComponents(
  c: KubeApi,
  opts: VerifyOptions,
  out: CheckResult[],
): Promise<SpeakerEvidence> {
  const evidence = await speakerEvidence(c, opts.namespace);
  const { pods, leases } = evidence;
  const ready = podReady;

  const controllerPods = pods.filter(
    (p) => p.metadata?.labels?.["app.kubernetes.io/component"] === "controller",
  );
  const controllerLease = leases.find((l) => l.metadata?.name === CONTROLLER_LEASE);
  if (controllerPods.some(ready)) {
    out.push({
      check: "controller running",
      status: "pass",
      detail: `${controllerPods.filter(ready).length} ready pod(s)`,
    });
  } else if (controllerLease && leaseFresh(controllerLease)) {
    out.push({
      check: "controller running",
      status: "pass",
      detail: `leader ${controllerLease.spec?.holderIdentity} (Lease ${CONTROLLER_LEASE} fresh)`,
    });
  } else {
    out.push({
      check: "controller running",
      status: "fail",
      detail: controllerPods.length
        ? `${controllerPods.length} pod(s), none ready`
        : "no controller pod and no fresh leader Lease",
      fix: `kubectl -n ${opts.namespace} get deploy,pods -l app.kubernetes.io/component=controller; kubectl -n ${opts.namespace} logs -l app.kubernetes.io/component=controller`,
    });
  }

  let expected = opts.nodes;
  if (!expected) {
    const nodes = await listItems<k8s.V1Node>(c, "/api/v1/nodes");
    const cp = nodes.filter(
      (n) => n.metadata?.labels && "node-role.kubernetes.io/control-plane" in n.metadata.labels,
    );
    expected = (cp.length > 0 ? cp : nodes).map((n) => n.metadata?.name ?? "").filter(Boolean);
  }
  const missing = expected.filter((node) => !speakerLive(evidence, node));
  out.push(
    missing.length === 0
      ? {
          check: "speaker on each node",
          status: "pass",
          detail: `${expected.length} node(s): ${expected.join(", ")}`,
        }
      : {
          check: "speaker on each node",
          status: "fail",
          detail: `no live speaker on ${missing.join(", ")}`,
          fix: `kubectl -n ${opts.namespace} get ds,pods -l app.kubernetes.io/component=speaker -o wide (check the DaemonSet's nodeSelector/tolerations)`,
        },
  );
  return evidence;
}

interface ConfigObjects {
  pools: IPAddressPool[];
  ads: L2Advertisement[];
  nodes: NodeLike[];
}

/** The pools, L2Advertisements and ConfigurationStates, checked; undefined: the CRDs are missing. */
async function checkConfigObjects(
  c: KubeApi,
  opts: VerifyOptions,
  evidence: SpeakerEvidence,
  checks: CheckResult[],
): Promise<ConfigObjects | undefined> {
  const list = <T>(plural: string): Promise<T[]> =>
    listItems<T>(c, `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${opts.namespace}/${plural}`);
  let pools: IPAddressPool[];
  let ads: L2Advertisement[];
  let states: ConfigurationState[] | undefined;
  let statesUnread: string | undefined;
  try {
    pools = await list<IPAddressPool>("ipaddresspools");
    ads = await list<L2Advertisement>("l2advertisements");
    // MetalLB v0.16's CRD: an install without it is older, not broken; a 403 is our credentials.
    states = await list<ConfigurationState>("configurationstates").catch((err: unknown) => {
      const code = errorCode(err);
      if (code !== 404 && code !== 403) throw err;
      if (code === 403) statesUnread = "not allowed to list configurationstates with these credentials";
      return undefined;
    });
  } catch (err) {
    checks.push({
      check: "CRDs installed",
      status: "fail",
      detail: errorText(err),
      fix: "install floatip (helm install floatip deploy/chart -n metallb-system --create-namespace --set loadBalancerClass=metallb)",
    });
    return undefined;
  }
  const nodes = (await listItems<k8s.V1Node>(c, "/api/v1/nodes")).map((n) => ({
    name: n.metadata?.name ?? "",
    labels: n.metadata?.labels,
  }));
  checks.push(
    checkPools(pools, opts.namespace),
    checkAdvertisements(ads, pools, nodes, opts.namespace),
    checkInterfaces(ads, nodes, publishedInterfaces(evidence.leases, nodes), opts.namespace),
    checkConfigurationState(states, opts.namespace, statesUnread),
  );
  return { pools, ads, nodes };
}

export async function verify(c: KubeApi, opts: VerifyOptions): Promise<VerifyReport> {
  const checks: CheckResult[] = [];
  const report: VerifyReport = { ok: false, checks };
  if (!(await checkApiServer(c, opts, checks))) return report;
  const evidence = await checkComponents(c, opts, checks);
  const config = await checkConfigObjects(c, opts, evidence, checks);
  if (!config) return report;
  const svc = await checkService(c, opts, report, checks);
  if (!svc) return report;
  const key = { namespace: svc.metadata?.namespace ?? "default", name: svc.metadata?.name ?? "" };
  const ip = checkFloatingIp(svc, opts, config, report, checks);
  report.announcingNode = await checkAnnouncing(c, opts, key, ip, checks);
  if (opts.http && ip) checks.push(await checkHttp(httpUrl(ip, svc.spec?.ports?.[0]?.port ?? 80), opts));
  report.ok = checks.every((x) => x.status !== "fail");
  return report;
}

/** The API server answers with these credentials; nothing else can be checked otherwise. */
async function checkApiServer(c: KubeApi, opts: VerifyOptions, checks: CheckResult[]): Promise<boolean> {
  try {
    await c.get(`/api/v1/namespaces/${opts.namespace}/pods`, { limit: 1 });
    return true;
  } catch (err) {
    checks.push({
      check: "API server",
      status: "fail",
      detail: errorText(err),
      fix: "check --kubeconfig / KUBECONFIG and that the API server is reachable",
    });
    return false;
  }
}

/** The Service to verify (--service or the Envoy Gateway proxy) and its class. */
async function checkService(
  c: KubeApi,
  opts: VerifyOptions,
  report: VerifyReport,
  checks: CheckResult[],
): Promise<k8s.V1Service | undefined> {
  let services: k8s.V1Service[];
  try {
    services = await findTargetServices(c, opts.service, opts.lbClass);
  } catch (err) {
    checks.push({
      check: "Service",
      status: "fail",
      detail: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
  const svc = services[0];
  if (!svc) {
    checks.push({
      check: "Service",
      status: "fail",
      detail: "no Envoy Gateway LoadBalancer Service found",
      fix: "pass --service <namespace>/<name>",
    });
    return undefined;
  }
  report.service = `${svc.metadata?.namespace ?? "default"}/${svc.metadata?.name ?? ""}`;
  const cls = svc.spec?.loadBalancerClass;
  checks.push(
    (cls ?? "") === (opts.lbClass ?? "")
      ? {
          check: "Service class",
          status: "pass",
          detail: `${report.service} loadBalancerClass: ${cls ?? "<none>"}`,
        }
      : {
          check: "Service class",
          status: "fail",
          detail: `${report.service} has loadBalancerClass ${cls ?? "<none>"}, floatip handles ${opts.lbClass ?? "<none>"}`,
          fix: "set envoyService.loadBalancerClass on the EnvoyProxy and recreate the Service (floatip migrate); the class is immutable",
        },
  );
  return svc;
}

/** The floating IP in the Service's status (the expected one), and its pool advertised. */
function checkFloatingIp(
  svc: k8s.V1Service,
  opts: VerifyOptions,
  { pools, ads, nodes }: ConfigObjects,
  report: VerifyReport,
  checks: CheckResult[],
): string | undefined {
  const ips = serviceIps(svc);
  const ip = ips[0];
  report.ip = ip;
  const pool =
    svc.metadata?.annotations?.[ANNOTATION_IP_ALLOCATED_FROM_POOL] ??
    svc.metadata?.annotations?.[DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL];
  if (!ip) {
    checks.push({
      check: "floating IP in status",
      status: "fail",
      detail: "EXTERNAL-IP is <pending>",
      fix: "run floatip doctor to see why",
    });
    return ip;
  }
  if (opts.expectedIp && !ips.includes(opts.expectedIp)) {
    checks.push({
      check: "floating IP in status",
      status: "fail",
      detail: `status has ${ips.join(", ")}, expected ${opts.expectedIp}`,
      fix: "check the loadBalancerIPs annotation in the EnvoyProxy patch",
    });
    return ip;
  }
  checks.push({
    check: "floating IP in status",
    status: "pass",
    detail: `${ips.join(", ")} from pool ${pool ?? "?"}`,
  });
  const poolObj = pools.find((p) => p.metadata.name === pool);
  const poolRef = poolObj && { name: poolObj.metadata.name, labels: poolObj.metadata.labels };
  if (poolRef && !ads.some((a) => l2AdvertisementSelectsPool(a, poolRef))) {
    checks.push({
      check: "pool advertised",
      status: "fail",
      detail: `no L2Advertisement selects pool ${pool}`,
      fix: `add ${pool} to an L2Advertisement's ipAddressPools`,
    });
  } else if (poolRef) {
    const meta = {
      key: report.service ?? "",
      labels: svc.metadata?.labels,
      annotations: svc.metadata?.annotations,
    };
    checks.push(checkServingAdvertisements(meta, poolRef, ads, nodes, opts.namespace));
  }
  return ip;
}

/** Who announces the Service (its ServiceL2Status), with the last Event and the speaker's log line. */
async function checkAnnouncing(
  c: KubeApi,
  opts: VerifyOptions,
  key: { namespace: string; name: string },
  ip: string | undefined,
  checks: CheckResult[],
): Promise<string | undefined> {
  const report: { announcingNode?: string } = {};
  const statuses = await l2Statuses(c, opts.namespace, key);
  const announcing = [...new Set(statuses.map((s) => s.status?.node).filter((n): n is string => !!n))];
  const event = await lastNodeAssigned(c, key);
  if (announcing.length === 1) {
    report.announcingNode = announcing[0];
    const ifaces = statuses[0]?.status?.interfaces?.map((i) => i.name).join(",") ?? "";
    checks.push({
      check: "announcing node",
      status: "pass",
      detail: `${announcing[0]} on ${ifaces}${event ? `; last event: ${event.message}` : ""}`,
    });
  } else if (announcing.length > 1) {
    checks.push({
      check: "announcing node",
      status: "fail",
      detail: `more than one node announces: ${announcing.join(", ")}`,
      fix: "check speaker logs for partitions; floatip withdraws a minority node within a second",
    });
  } else {
    checks.push({
      check: "announcing node",
      status: ip ? "fail" : "skip",
      detail: "no ServiceL2Status for the Service",
      fix: "check the L2Advertisement interfaces exist on the nodes and the Service has ready endpoints",
    });
  }
  const speakerPods = await listItems<k8s.V1Pod>(c, `/api/v1/namespaces/${opts.namespace}/pods`, {
    labelSelector: "app.kubernetes.io/component=speaker",
  });
  if (speakerPods.length > 0 && report.announcingNode) {
    const pod = speakerPods.find((p) => p.spec?.nodeName === report.announcingNode);
    if (pod?.metadata?.name) {
      const logs = await c
        .request<string>("GET", `/api/v1/namespaces/${opts.namespace}/pods/${pod.metadata.name}/log`, {
          query: { tailLines: 200 },
          text: true,
        })
        .catch(() => "");
      const line = logs
        .split("\n")
        .reverse()
        .find((l) => l.includes('"serviceAnnounced"') && l.includes(key.name));
      checks.push(
        line
          ? { check: "speaker log", status: "pass", detail: line.slice(0, 200) }
          : {
              check: "speaker log",
              status: "warn",
              detail: "no serviceAnnounced line in the last 200 lines",
            },
      );
    }
  }

  return report.announcingNode;
}

/** One line about a probe: what answered, how, and why it does not count if it doesn't. */
export function describeProbe(url: string, p: Probe): string {
  const who = p.server ? ` from ${p.server}` : "";
  const body = p.body ? `: ${p.body.split("\n")[0]}` : "";
  if (p.ok) return `${url} answered HTTP ${p.status}${who} in ${p.ms} ms${body}`;
  if (p.status !== undefined)
    return `${url} answered HTTP ${p.status}${who} in ${p.ms} ms, which does not count: ${p.error}${body}`;
  return `${url}: ${p.error ?? "no answer"}`;
}

/** The HTTP check: within the timeout, one answer that meets the expectation (status, body). */
async function checkHttp(url: string, opts: VerifyOptions): Promise<CheckResult> {
  const expect = opts.expect ?? DEFAULT_EXPECTATION;
  let results: Probe[];
  if (opts.httpProbe) {
    const session = opts.httpProbe(url);
    const deadline = performance.now() + opts.httpTimeoutMs + 3000;
    while (performance.now() < deadline && !session.results.some((p) => p.ok) && !opts.signal?.aborted)
      await sleep(50);
    results = await session.stop();
  } else {
    results = [await probeOnce(url, opts.httpTimeoutMs, expect, opts.signal)];
  }
  const good = results.find((p) => p.ok);
  const shown = good ?? results.filter((p) => p.status !== undefined).at(-1) ?? results.at(-1);
  const detail = shown ? describeProbe(url, shown) : `${url}: no answer`;
  if (good) return { check: "HTTP reachability", status: "pass", detail };
  return {
    check: "HTTP reachability",
    status: "fail",
    detail,
    fix:
      shown?.status !== undefined
        ? `something answers, but not as expected (${describeStatus(expect.status)}${expect.body !== undefined ? `, body containing ${JSON.stringify(expect.body)}` : ""}): check the Gateway's routes and backends, or pass --expect-status/--expect-body`
        : "from a host on the same L2 segment: arping -I <if> <ip>; check the Service's endpoints and kube-proxy",
  };
}

export function formatReport(report: VerifyReport): string {
  const mark: Record<CheckStatus, string> = { pass: "PASS", fail: "FAIL", warn: "WARN", skip: "SKIP" };
  const width = Math.max(...report.checks.map((c) => c.check.length), 5);
  const lines = report.checks.map((c) => {
    const fix =
      c.fix && (c.status === "fail" || c.status === "warn") ? `\n${" ".repeat(width + 9)}fix: ${c.fix}` : "";
    return `${mark[c.status]}  ${c.check.padEnd(width)}  ${c.detail}${fix}`;
  });
  lines.push("", report.ok ? "floatip verify: all checks passed" : "floatip verify: FAILED");
  return lines.join("\n");
}
