// rollback against a real API server with the real Envoy Gateway controller: from the migrated state back to
// externalIPs, and uninstalling floatip (Helm release or labelled workloads).

import * as k8s from "@kubernetes/client-node";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvoyGatewayController } from "../../../lab/envoy-gateway-controller.js";
import { assignStatus } from "../../../lab/seed.js";
import { envoyServiceSettings } from "../../../src/ops/envoy/resolve.js";
import type { EnvoyProxy, Gateway } from "../../../src/ops/envoy/types.js";
import { runRollback, type RollbackOptions } from "../../../src/ops/rollback/run.js";
import { startTestCluster, type TestCluster } from "../../support/cluster.js";
import {
  expectCtrlCBeforeConfirmation,
  expectCtrlCWhileProxyPatched,
  type InterruptibleRun,
} from "../interrupt.js";
import {
  EG_NS,
  GW,
  PROXY,
  VIP,
  createAll,
  envoyProxy,
  floatip,
  gateway,
  gatewayClass,
  installAllCrds,
  until,
  SVC,
  recordingDeps,
  rollbackOptions,
} from "../migrate/fixtures.js";
import { KubeClient } from "../../../src/kube/client.js";
import { paths } from "../../../src/kube/paths.js";
import { egPaths } from "../../../src/ops/envoy/paths.js";
import type { KubeService } from "../../../src/kube/objects.js";

describe("floatip rollback against a real API server (real Envoy Gateway controller)", () => {
  let tc: TestCluster;
  let eg: EnvoyGatewayController;
  let client: KubeClient;
  let dir: string;
  const lines: string[] = [];
  const options = (extra: Partial<RollbackOptions> = {}) => rollbackOptions(15_000, extra);
  const deps = () => recordingDeps(client, lines);
  const apps = () => tc.kc.makeApiClient(k8s.AppsV1Api);
  const workload = (kind: "Deployment" | "DaemonSet", name: string) => {
    const labels = { "app.kubernetes.io/name": "floatip", "app.kubernetes.io/component": name };
    const spec = {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name, image: "floatip:test", args: [name] }] },
      },
    };
    return kind === "Deployment"
      ? apps().createNamespacedDeployment({
          namespace: "metallb-system",
          body: { metadata: { name: `floatip-${name}`, labels }, spec },
        })
      : apps().createNamespacedDaemonSet({
          namespace: "metallb-system",
          body: { metadata: { name: `floatip-${name}`, labels }, spec },
        });
  };

  beforeAll(async () => {
    tc = await startTestCluster();
    dir = mkdtempSync(join(tmpdir(), "floatip-rollback-"));
    for (const v of ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"]) process.env[v] = join(dir, v);
    await installAllCrds(tc.cp);
    // The migrated state: class and IP on the EnvoyProxy, no Gateway addresses, floatip's status.
    await createAll(tc.kc, [
      envoyProxy({
        externalTrafficPolicy: "Cluster",
        loadBalancerClass: "metallb",
        patch: {
          type: "StrategicMerge",
          value: { metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": VIP } } },
        },
      }),
      gatewayClass(),
      gateway([]),
    ]);
    eg = EnvoyGatewayController.onApiServer(tc.cp, tc.core);
    await eg.start();
    client = await KubeClient.connect(tc.cp.kubeconfigPath);
    await until(
      `the migrated Service (Envoy Gateway's log: ${eg.logFile})`,
      () => client.get<KubeService>(paths.service(SVC)),
      60_000,
    );
    await assignStatus(tc.kc, SVC.namespace, SVC.name, [VIP], "envoy-gateway-pool");
    // Envoy Gateway copies the Service's ingress into the Gateway's status: wait until it has, or
    // the first test's plan reads a Gateway about to change under it (a conflict on its dry run).
    await until("the Gateway's status address", async () =>
      (await client.get<Gateway>(egPaths.gateway(GW)))?.status?.addresses?.some((a) => a.value === VIP),
    );
  });

  afterAll(async () => {
    await eg?.stop();
    client?.close();
    await tc?.cp.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("--dry-run shows every step and changes nothing", async () => {
    const before = (await client.get<KubeService>(paths.service(SVC)))!.metadata.resourceVersion;
    const proxyBefore = (await client.get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))!.metadata.resourceVersion;
    lines.length = 0;
    const r = await runRollback(options({ dryRun: true, uninstall: true }), deps());
    expect(r.exitCode, lines.join("\n")).toBe(0);
    const text = lines.join("\n");
    expect(text).toContain('"loadBalancerClass":null');
    expect(text).toContain('"metallb.universe.tf/loadBalancerIPs":null');
    expect(text).toContain(`add ${VIP} to spec.addresses`);
    expect(text).toContain(`delete Service ${SVC.namespace}/${SVC.name}`);
    expect(text).toContain("uninstall: no Helm release and nothing labelled app.kubernetes.io/name=floatip");
    expect(text).toContain("Dry run: nothing was changed.");
    expect((await client.get<KubeService>(paths.service(SVC)))!.metadata.resourceVersion).toBe(before);
    expect((await client.get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))!.metadata.resourceVersion).toBe(
      proxyBefore,
    );
  });

  const interruptible: InterruptibleRun = (extra) => runRollback(options(), { ...deps(), ...extra });
  const serviceVersion = async () =>
    (await client.get<KubeService>(paths.service(SVC)))!.metadata.resourceVersion;

  it("Ctrl-C before the confirmation changes nothing and exits 130", async () => {
    await expectCtrlCBeforeConfirmation(interruptible, lines, serviceVersion);
  });

  it("Ctrl-C while the EnvoyProxy is patched puts it back, keeps the Service and says so (130)", async () => {
    const text = await expectCtrlCWhileProxyPatched(interruptible, lines, client, {
      proxy: PROXY,
      service: SVC,
    });
    expect(text).toContain(`Service ${SVC.namespace}/${SVC.name}: unchanged`);
  });

  it("puts externalIPs back: a class-less Service, recreated by Envoy Gateway", async () => {
    const oldUid = (await client.get<KubeService>(paths.service(SVC)))!.metadata.uid;
    lines.length = 0;
    const r = await runRollback(options(), deps());
    expect(r.exitCode, lines.join("\n")).toBe(0);
    const svc = (await client.get<KubeService>(paths.service(SVC)))!;
    expect(svc.metadata.uid).not.toBe(oldUid);
    expect(svc.spec.loadBalancerClass).toBeUndefined();
    expect(svc.spec.externalIPs).toEqual([VIP]);
    expect(svc.metadata.annotations?.["metallb.universe.tf/loadBalancerIPs"]).toBeUndefined();
    const proxy = (await client.get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))!;
    expect(envoyServiceSettings(proxy)).toEqual({ type: "LoadBalancer", externalTrafficPolicy: "Cluster" });
    const gw = (await client.get<Gateway>(egPaths.gateway(GW)))!;
    expect(gw.spec.addresses).toEqual([{ type: "IPAddress", value: VIP }]);
    expect(lines.join("\n")).toContain(
      `put it back where the old setup had it (e.g. ip addr add ${VIP}/32 dev ens3`,
    );
  });

  it("a second run has nothing to do", async () => {
    lines.length = 0;
    const r = await runRollback(options({ externalIp: VIP }), deps());
    expect(r.exitCode).toBe(0);
    expect(lines.join("\n")).toContain("Already rolled back");
  });

  it("--uninstall without a Helm release deletes floatip's labelled workloads", async () => {
    await workload("Deployment", "controller");
    await workload("DaemonSet", "speaker");
    const r = await floatip(["rollback", "--uninstall", "--kubeconfig", tc.cp.kubeconfigPath, "--yes"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("Deployment metallb-system/floatip-controller deleted");
    expect(r.stdout).toContain("DaemonSet metallb-system/floatip-speaker deleted");
    expect((await apps().listNamespacedDeployment({ namespace: "metallb-system" })).items).toEqual([]);
    expect((await apps().listNamespacedDaemonSet({ namespace: "metallb-system" })).items).toEqual([]);
  });

  it("--uninstall runs helm uninstall when floatip is a Helm release", async () => {
    const chart = join(dir, "chart");
    mkdirSync(join(chart, "templates"), { recursive: true });
    writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: floatip\nversion: 0.1.0\n");
    writeFileSync(
      join(chart, "templates", "cm.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: floatip-config\n  labels: {app.kubernetes.io/name: floatip}\ndata: {a: b}\n",
    );
    const helm = tc.cp.binaries.helm;
    const { execFileSync } = await import("node:child_process");
    execFileSync(helm, [
      "install",
      "floatip",
      chart,
      "-n",
      "metallb-system",
      "--kubeconfig",
      tc.cp.kubeconfigPath,
    ]);
    const dry = await floatip([
      "rollback",
      "--uninstall",
      "--helm",
      helm,
      "--kubeconfig",
      tc.cp.kubeconfigPath,
      "--dry-run",
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`${helm} uninstall floatip -n metallb-system`);
    const r = await floatip([
      "rollback",
      "--uninstall",
      "--helm",
      helm,
      "--kubeconfig",
      tc.cp.kubeconfigPath,
      "--yes",
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("Helm release floatip uninstalled from metallb-system");
    const core = tc.kc.makeApiClient(k8s.CoreV1Api);
    await until("the release to be gone", async () => {
      const cms = await core.listNamespacedConfigMap({
        namespace: "metallb-system",
        labelSelector: "app.kubernetes.io/name=floatip",
      });
      const secrets = await core.listNamespacedSecret({
        namespace: "metallb-system",
        labelSelector: "owner=helm",
      });
      return cms.items.length === 0 && secrets.items.length === 0;
    });
  });

  it("bad input: clear message, exit code 2, nothing changed", async () => {
    const before = (await client.get<KubeService>(paths.service(SVC)))!.metadata.resourceVersion;
    const kc = tc.cp.kubeconfigPath;
    const none = await floatip(["rollback", "--kubeconfig", kc, "--yes"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      "no Envoy Gateway Service with class metallb in envoy-gateway-system: pass --service",
    );
    const unknown = await floatip([
      "rollback",
      "--service",
      `${EG_NS}/envoy-nope`,
      "--kubeconfig",
      kc,
      "--yes",
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`Service ${EG_NS}/envoy-nope not found`);
    const ip = await floatip([
      "rollback",
      "--service",
      `${SVC.namespace}/${SVC.name}`,
      "--external-ip",
      "x",
      "--kubeconfig",
      kc,
    ]);
    expect(ip.code).toBe(2);
    expect(ip.stderr).toContain('--external-ip "x" is not an IP address');
    const ns = await floatip([
      "rollback",
      "--uninstall",
      "--namespace",
      "metallb",
      "--kubeconfig",
      kc,
      "--yes",
    ]);
    expect(ns.code).toBe(2);
    expect(ns.stderr).toContain("namespace metallb does not exist");
    const cfg = await floatip(["rollback", "--kubeconfig", "/nonexistent/kc"]);
    expect(cfg.code).toBe(2);
    expect(cfg.stderr).toContain("cannot load kubeconfig /nonexistent/kc");
    expect((await client.get<KubeService>(paths.service(SVC)))!.metadata.resourceVersion).toBe(before);
  });
});
