// Shared set-up for the controller's integration tests: a real API server with the CRDs, controllers
// built on it with fast lease timings, and small waiting helpers.
import * as k8s from "@kubernetes/client-node";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { expect } from "vitest";
import { connectionFromKubeConfig } from "../../src/kube/fallback.js";
import { Controller, type ControllerConfig } from "../../src/controller/controller.js";
import { repoRoot } from "../../testenv/binaries.js";
import { installCrds, kubectl } from "../../testenv/kubectl.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { sleep, waitFor as poll } from "../../src/common/wait.js";

export const NS = "metallb-system";
export const FAST = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 200 };

export async function startCrdCluster(): Promise<TestCluster> {
  const cluster = await startTestCluster();
  await installCrds(cluster.cp, [join(repoRoot(), "deploy", "crds")]);
  await cluster.core.createNamespace({ body: { metadata: { name: NS } } });
  return cluster;
}

export async function apply(cluster: TestCluster, yaml: string): Promise<string> {
  return kubectl(cluster.cp, ["apply", "-f", "-"], yaml);
}

/** JSON log lines, kept for assertions. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly log: Logger;
  constructor(component: string) {
    this.log = pino(
      { level: "debug", base: { component } },
      { write: (line: string) => void this.lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
  }
  events(name: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.event === name);
  }
  /** The captured lines, one JSON object each, for a failing test's output. */
  dump(): string {
    return this.lines.map((l) => JSON.stringify(l)).join("\n");
  }
}

export interface Running {
  controller: Controller;
  logs: LogCapture;
}

export async function runController(
  cluster: TestCluster,
  identity: string,
  config: Partial<ControllerConfig> = {},
  waitActive = true,
): Promise<Running> {
  const logs = new LogCapture("controller");
  const controller = new Controller(
    await connectionFromKubeConfig(cluster.kc),
    {
      namespace: NS,
      lbClass: "metallb",
      identity,
      timings: FAST,
      poolStatusIntervalMs: 100,
      processMetrics: false,
      ...config,
    },
    logs.log,
  );
  await controller.start();
  if (waitActive) await waitFor(`${identity} to lead`, () => controller.isActive(), 10_000);
  return { controller, logs };
}

/** src/common/wait.ts's waitFor, polling every 50 ms: the controller reacts within tens of ms. */
export const waitFor = <T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> => poll(what, probe, timeoutMs, 50);

export { sleep };

export async function readService(
  cluster: TestCluster,
  namespace: string,
  name: string,
): Promise<k8s.V1Service> {
  return cluster.core.readNamespacedService({ name, namespace });
}

export function ingressIPs(svc: k8s.V1Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "");
}

/** Events about one object, oldest first. */
export async function eventsFor(
  cluster: TestCluster,
  namespace: string,
  name: string,
  kind = "Service",
): Promise<k8s.CoreV1Event[]> {
  const list = await cluster.core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name},involvedObject.kind=${kind}`,
  });
  return list.items.sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
}

export async function waitForEvent(
  cluster: TestCluster,
  namespace: string,
  name: string,
  reason: string,
  kind = "Service",
): Promise<k8s.CoreV1Event> {
  return waitFor(`${reason} event on ${namespace}/${name}`, async () =>
    (await eventsFor(cluster, namespace, name, kind)).find((e) => e.reason === reason),
  );
}

export interface LbServiceOptions {
  namespace?: string;
  lbClass?: string | null;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  port?: number;
  type?: string;
}

export async function createService(
  cluster: TestCluster,
  name: string,
  o: LbServiceOptions = {},
): Promise<k8s.V1Service> {
  return cluster.core.createNamespacedService({
    namespace: o.namespace ?? "default",
    body: {
      metadata: { name, annotations: o.annotations, labels: o.labels },
      spec: {
        type: o.type ?? "LoadBalancer",
        ...(o.lbClass === null ? {} : { loadBalancerClass: o.lbClass ?? "metallb" }),
        externalTrafficPolicy: "Cluster",
        ports: [{ port: o.port ?? 80, protocol: "TCP" }],
      },
    },
  });
}

export async function ensureNamespace(
  cluster: TestCluster,
  name: string,
  labels?: Record<string, string>,
): Promise<void> {
  await cluster.core.createNamespace({ body: { metadata: { name, labels } } }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
}

export function expectNoDuplicates(ips: string[]): void {
  expect(new Set(ips).size).toBe(ips.length);
}
