// migrate against a real API server with the real Envoy Gateway controller (no network lab): what
// Envoy Gateway does that migrate relies on, dry-run, refusals that must leave the cluster as it
// was, and bad input.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvoyGatewayController } from "../../../lab/envoy-gateway-controller.js";
import type { EnvoyProxy, Gateway } from "../../../src/ops/envoy/types.js";
import { runMigrate, type MigrateOptions } from "../../../src/ops/migrate/run.js";
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
  FREEZE_POLICY,
  STRIP_POLICY,
  createAll,
  envoyProxy,
  fakeFloatipLeases,
  floatip,
  gateway,
  gatewayClass,
  installAllCrds,
  l2Advertisement,
  pool,
  settled,
  until,
  withPolicy,
  SVC,
  recordingDeps,
  migrateOptions,
} from "./fixtures.js";
import { KubeClient } from "../../../src/kube/client.js";
import { paths } from "../../../src/kube/paths.js";
import { egPaths } from "../../../src/ops/envoy/paths.js";
import type { KubeService } from "../../../src/kube/objects.js";

describe("floatip migrate against a real API server (real Envoy Gateway controller)", () => {
  let tc: TestCluster;
  let eg: EnvoyGatewayController;
  let client: KubeClient;
  const lines: string[] = [];

  const get = <T>(path: string) => client.get<T>(path);
  const versions = async () => ({
    proxy: (await get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))?.metadata.resourceVersion,
    gateway: (await get<Gateway>(egPaths.gateway(GW)))?.metadata.resourceVersion,
    service: (await get<KubeService>(paths.service(SVC)))?.metadata.resourceVersion,
  });
  const options = (extra: Partial<MigrateOptions> = {}) => migrateOptions(10_000, extra);
  const deps = () => recordingDeps(client, lines);

  beforeAll(async () => {
    tc = await startTestCluster();
    await installAllCrds(tc.cp);
    await createAll(tc.kc, [envoyProxy(), gatewayClass(), gateway(), pool(), l2Advertisement()]);
    await fakeFloatipLeases(tc.kc, ["master-0"]);
    eg = EnvoyGatewayController.onApiServer(tc.cp, tc.core);
    await eg.start();
    client = await KubeClient.connect(tc.cp.kubeconfigPath);
    await until(
      `Envoy Gateway's Service (log: ${eg.logFile})`,
      () => get<KubeService>(paths.service(SVC)),
      60_000,
    );
  });

  afterAll(async () => {
    await eg?.stop();
    client?.close();
    await tc?.cp.stop();
  });

  it("Envoy Gateway renders the proxy Service floatip predicts (name, labels, externalIPs, no class)", async () => {
    const svc = (await get<KubeService>(paths.service(SVC)))!;
    expect(SVC.name).toMatch(/^envoy-default-eg-[0-9a-f]{8}$/);
    expect(svc.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "envoy-gateway",
      "gateway.envoyproxy.io/owning-gateway-name": "eg",
      "gateway.envoyproxy.io/owning-gateway-namespace": "default",
    });
    expect(svc.spec).toMatchObject({
      type: "LoadBalancer",
      externalTrafficPolicy: "Cluster",
      externalIPs: [VIP],
    });
    expect(svc.spec.loadBalancerClass).toBeUndefined();
    expect(svc.spec.ports?.[0]).toMatchObject({ port: 80, targetPort: 10080 });
    const gw = await until("Gateway status", async () => {
      const g = await get<Gateway>(egPaths.gateway(GW));
      return g?.status?.addresses?.length ? g : undefined;
    });
    expect(gw.status?.addresses).toEqual([{ type: "IPAddress", value: VIP }]);
  });

  it("Envoy Gateway does not recreate a deleted Service until the Gateway changes", async () => {
    const uid = (await get<KubeService>(paths.service(SVC)))!.metadata.uid;
    await client.delete(paths.service(SVC));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await get(paths.service(SVC))).toBeUndefined();
    await client.patch(egPaths.gateway(GW), { metadata: { annotations: { poke: "1" } } });
    const back = await until("recreated Service", () => get<KubeService>(paths.service(SVC)));
    expect(back.metadata.uid).not.toBe(uid);
  });

  it("Envoy Gateway cannot add a class to the existing Service (immutable) and keeps the old one", async () => {
    // Envoy Gateway reports the failed update only in its log (the EnvoyProxy stays Accepted, the
    // Gateway's conditions do not change), so the log is what this reads.
    const before = eg.log().length;
    await client.patch(egPaths.envoyProxy(PROXY), {
      spec: { provider: { kubernetes: { envoyService: { loadBalancerClass: "metallb" } } } },
    });
    const err = await until(
      "Envoy Gateway's failed Service update in its log",
      async () =>
        eg
          .log()
          .slice(before)
          .split("\n")
          .find((l) => l.includes(`failed to create or update service ${SVC.namespace}/${SVC.name}`)),
      30_000,
    );
    expect(err).toMatch(/spec\.loadBalancerClass: Invalid value: .*metallb.*may not change once set/);
    expect((await get<KubeService>(paths.service(SVC)))!.spec.loadBalancerClass).toBeUndefined();
    type Status = {
      ancestors?: { conditions?: { type: string; status: string; observedGeneration?: number }[] }[];
    };
    await until("the EnvoyProxy's status for the new generation (still Accepted)", async () => {
      const proxy = (await get<EnvoyProxy & { status?: Status }>(egPaths.envoyProxy(PROXY)))!;
      return proxy.status?.ancestors?.[0]?.conditions?.some(
        (c) =>
          c.type === "Accepted" && c.status === "True" && c.observedGeneration === proxy.metadata.generation,
      );
    });
    await client.patch(egPaths.envoyProxy(PROXY), {
      spec: { provider: { kubernetes: { envoyService: { loadBalancerClass: null } } } },
    });
    await settled(versions);
  });

  it("--dry-run prints every step with the exact patches and changes nothing", async () => {
    const before = await settled(versions);
    lines.length = 0;
    const r = await runMigrate(options({ dryRun: true }), deps());
    expect(r.exitCode).toBe(0);
    const text = lines.join("\n");
    expect(text).toContain('"loadBalancerClass":"metallb"');
    expect(text).toContain(`"metallb.io/loadBalancerIPs":"${VIP}"`);
    expect(text).toContain(`delete Service ${SVC.namespace}/${SVC.name}`);
    expect(text).toContain("floatip.io/reconcile-requested-at");
    expect(text).toContain("loadBalancerClass: metallb"); // the expected Service, as YAML
    expect(text).toContain("the API server accepts the EnvoyProxy patch");
    expect(text).toContain("Dry run: nothing was changed.");
    expect(r.plan?.deleteService?.uid).toBeDefined();
    expect(await versions()).toEqual(before);
  });

  it("refuses when the EnvoyProxy cannot be updated, and leaves the cluster as it found it", async () => {
    await withPolicy(tc.cp, client, FREEZE_POLICY, "denied", async () => {
      const before = await settled(versions);
      lines.length = 0;
      const r = await runMigrate(options(), deps());
      expect(r.exitCode).toBe(1);
      const text = lines.join("\n");
      expect(text).toMatch(/cannot update EnvoyProxy .*frozen by policy/);
      expect(text).toContain("IPAddressPool envoy-gateway-pool: pinned to namespace");
      expect(text).toContain("Nothing else was changed.");
      expect(await versions()).toEqual(before);
    });
  });

  const interruptible: InterruptibleRun = (extra) => runMigrate(options(), { ...deps(), ...extra });

  it("Ctrl-C before the confirmation changes nothing and exits 130", async () => {
    await expectCtrlCBeforeConfirmation(interruptible, lines, () => settled(versions), versions);
  });

  it("Ctrl-C while the EnvoyProxy is patched undoes the patch, keeps the Service and says so (130)", async () => {
    const text = await expectCtrlCWhileProxyPatched(interruptible, lines, client, {
      proxy: PROXY,
      service: SVC,
    });
    expect(text).toContain("Interrupted.");
    expect(text).toContain(
      `EnvoyProxy ${PROXY.namespace}/${PROXY.name}: patched, then restored to its previous spec.`,
    );
    expect(text).toContain("unchanged (old class; still served as before)");
    await settled(versions);
  });

  it("refuses when the class does not stick, restores the EnvoyProxy and keeps the Service", async () => {
    await withPolicy(tc.cp, client, STRIP_POLICY, "stripped", async () => {
      const proxyBefore = (await get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))!;
      const svcBefore = (await get<KubeService>(paths.service(SVC)))!;
      lines.length = 0;
      const r = await runMigrate(options(), deps());
      expect(r.exitCode).toBe(1);
      const text = lines.join("\n");
      expect(text).toMatch(/refusing to continue: re-reading EnvoyProxy/);
      expect(text).toContain("patched, then restored");
      const proxyAfter = (await get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))!;
      expect(proxyAfter.spec).toEqual(proxyBefore.spec);
      const svcAfter = (await get<KubeService>(paths.service(SVC)))!;
      expect(svcAfter.metadata.uid).toBe(svcBefore.metadata.uid);
      expect(svcAfter.spec.externalIPs).toEqual([VIP]);
    });
  });

  it("bad input: clear message, non-zero exit, nothing changed", async () => {
    const before = await settled(versions);
    const kc = tc.cp.kubeconfigPath;
    const unknown = await floatip([
      "migrate",
      "--service",
      `${EG_NS}/envoy-nope`,
      "--kubeconfig",
      kc,
      "--yes",
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`Service ${EG_NS}/envoy-nope not found`);

    const noConfig = await floatip([
      "migrate",
      "--service",
      `${SVC.namespace}/${SVC.name}`,
      "--kubeconfig",
      "/nonexistent/kc",
    ]);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toMatch(/cannot load kubeconfig \/nonexistent\/kc/);

    const wrongNs = await floatip([
      "migrate",
      "--service",
      `${SVC.namespace}/${SVC.name}`,
      "--namespace",
      "metallb",
      "--kubeconfig",
      kc,
      "--yes",
    ]);
    expect(wrongNs.code).toBe(2);
    expect(wrongNs.stderr).toContain("namespace metallb does not exist");

    const malformed = await floatip(["migrate", "--service", "a/b/c", "--kubeconfig", kc]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain("expected <namespace>/<name>");

    const both = await floatip(["migrate", "--kubeconfig", kc]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("pass exactly one of --service");

    const unconfirmed = await floatip([
      "migrate",
      "--service",
      `${SVC.namespace}/${SVC.name}`,
      "--kubeconfig",
      kc,
    ]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stdout).toContain("pass --yes");
    expect(await versions()).toEqual(before);
  });

  it("the CLI and --envoyproxy find the same Service; a dry run exits 0", async () => {
    const r = await floatip([
      "migrate",
      "--envoyproxy",
      `${PROXY.namespace}/${PROXY.name}`,
      "--kubeconfig",
      tc.cp.kubeconfigPath,
      "--dry-run",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Service ${SVC.namespace}/${SVC.name}`);
    expect(r.stdout).toContain("Dry run: nothing was changed.");
    expect(r.stderr).toContain("preflight:");
  });

  it("when Envoy Gateway does not bring the Service back, it re-triggers, then says the IP is down and how to recover", async () => {
    await eg.stop();
    try {
      lines.length = 0;
      const r = await runMigrate(options({ timeoutMs: 3000, retriggerMs: 1000 }), deps());
      expect(r.exitCode).toBe(1);
      const text = lines.join("\n");
      expect(text).toMatch(/Service not recreated after \d s: annotating the Gateway and EnvoyProxy again/);
      expect(text).toContain("Migration failed: Envoy Gateway did not recreate the Service in time");
      expect(text).toContain(`DELETED and not recreated by Envoy Gateway yet: ${VIP} is NOT served`);
      expect(text).toContain("kubectl rollout restart deployment/envoy-gateway -n envoy-gateway-system");
      expect(text).toContain(`floatip rollback --service ${SVC.namespace}/${SVC.name} --external-ip ${VIP}`);
      expect(r.journal).toMatchObject({
        proxyPatched: true,
        serviceDeleted: true,
        gatewayPatched: true,
        recreated: false,
      });
    } finally {
      await eg.start(); // a restarted Envoy Gateway renders everything again
    }
    // (Here without leader election: with it, the restart waits ~18 s for the stopped one's lease.)
    const svc = await until(
      "the Service after the restart",
      () => get<KubeService>(paths.service(SVC)),
      60_000,
    );
    expect(svc.spec.loadBalancerClass).toBe("metallb");
    expect(svc.metadata.annotations?.["metallb.io/loadBalancerIPs"]).toBe(VIP);
    expect(svc.spec.externalIPs).toBeUndefined();
  });
});
