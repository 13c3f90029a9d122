// End to end in the network lab: the old static setup (Gateway addresses → externalIPs, the IP put on
// master-0's ens3 by hand), then `migrate` to the floating IP with the real controller and speakers,
// the real Envoy Gateway controller (it renders the Envoy Service; the Envoy pods never run, the
// lab's backend serves behind EndpointSlices) and the real kube-proxy on every node; then `rollback`.

import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackends } from "../../../lab/backends.js";
import { LabCluster } from "../../../lab/cluster.js";
import { EnvoyGatewayController, envoyGatewayBuild } from "../../../lab/envoy-gateway-controller.js";
import { clientGet } from "../../../lab/http.js";
import { seedL2Advertisement, seedPool, setEndpoints } from "../../../lab/seed.js";
import { nsRun } from "../../../lab/sh.js";
import { speakerReady } from "../../../lab/speakers.js";
import { waitFor } from "../../../src/common/wait.js";
import { collectSnapshot } from "../../../src/ops/doctor/collect.js";
import { diagnose } from "../../../src/ops/doctor/doctor.js";
import type { EnvoyProxy, Gateway } from "../../../src/ops/envoy/types.js";
import { probeFromNetns } from "../../../src/ops/probing.js";
import { runMigrate, type MigrateOptions } from "../../../src/ops/migrate/run.js";
import { runRollback } from "../../../src/ops/rollback/run.js";
import { verify } from "../../../src/ops/verify.js";
import { installCrds } from "../../../testenv/kubectl.js";
import {
  EG_NS,
  FREEZE_POLICY,
  GW,
  PROXY,
  VIP,
  envoyProxy,
  gateway,
  gatewayClass,
  settled,
  withPolicy,
  SVC,
  recordingDeps,
  migrateOptions,
  rollbackOptions,
} from "./fixtures.js";
import { KubeClient } from "../../../src/kube/client.js";
import { paths } from "../../../src/kube/paths.js";
import { egPaths } from "../../../src/ops/envoy/paths.js";
import type { KubeService } from "../../../src/kube/objects.js";

const URL = `http://${VIP}/`;

describe("floatip migrate and rollback in the lab, with the real Envoy Gateway", () => {
  let c: LabCluster;
  let eg: EnvoyGatewayController;
  let client: KubeClient;
  const master0 = () => c.lab.node("master-0");
  const out: string[] = [];
  const deps = () => recordingDeps(client, out, "  | ");
  const options = (extra: Partial<MigrateOptions> = {}) => migrateOptions(60_000, extra);

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb" });
    // The CRDs of the Envoy Gateway version that runs (Gateway API standard channel included).
    await installCrds(c.cp, [(await envoyGatewayBuild()).crds]);
    const objects = k8s.KubernetesObjectApi.makeApiClient(c.kc);
    await c.core.createNamespace({ body: { metadata: { name: EG_NS } } });
    for (const o of [
      seedPool("envoy-gateway-pool", [`${VIP}/32`]),
      seedL2Advertisement("envoy-gateway-l2", ["envoy-gateway-pool"], ["ens3"]),
      envoyProxy(),
      gatewayClass(),
      gateway([VIP]),
    ]) {
      await objects.create(o as k8s.KubernetesObject);
    }
    // Envoy (its stand-in) runs on the worker; the old setup: the IP on master-0's public NIC by hand.
    const endpoints = await startBackends(c.lab, c.lab.workers);
    // Envoy Gateway names the Service port after the listener (http-80); kube-proxy matches by name.
    await setEndpoints(c.kc, EG_NS, SVC.name, endpoints, "http-80");
    await nsRun(master0().ns, "ip", ["addr", "add", `${VIP}/32`, "dev", "ens3"]);
    eg = new EnvoyGatewayController(c);
    await eg.start();
    c.startController();
    for (const node of c.lab.nodes) c.startSpeaker(node);
    client = await KubeClient.connect(c.cp.kubeconfigPath);
    await waitFor(
      "all speakers ready",
      async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
      60_000,
    );
    await waitFor(
      "the old static setup to answer",
      async () => (await clientGet(c.lab, VIP)) === "worker-0 via master-0",
      30_000,
    );
  });

  afterAll(async () => {
    await eg?.stop();
    client?.close();
    await c?.destroy();
  });

  const versions = async () => ({
    proxy: (await client.get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))?.metadata.resourceVersion,
    gateway: (await client.get<Gateway>(egPaths.gateway(GW)))?.metadata.resourceVersion,
    service: (await client.get<KubeService>(paths.service(SVC)))?.metadata.resourceVersion,
  });

  it("--dry-run changes nothing", async () => {
    const before = await settled(versions);
    const r = await runMigrate(options({ dryRun: true }), deps());
    expect(r.exitCode).toBe(0);
    expect(await versions()).toEqual(before);
    expect(await clientGet(c.lab, VIP)).toBe("worker-0 via master-0");
  });

  it("refuses when the EnvoyProxy cannot be updated and leaves the cluster as it found it", async () => {
    await withPolicy(c.cp, client, FREEZE_POLICY, "denied", async () => {
      const before = await settled(versions);
      out.length = 0;
      const r = await runMigrate(options(), deps());
      expect(r.exitCode).toBe(1);
      // The pool pin (a safe first step) stays and is said; nothing else changed.
      expect(out.join("\n")).toContain("IPAddressPool envoy-gateway-pool: pinned to namespace");
      expect(out.join("\n")).toContain("Nothing else was changed.");
      expect(await versions()).toEqual(before);
      expect(await clientGet(c.lab, VIP)).toBe("worker-0 via master-0");
    });
  });

  it("moves the Envoy Gateway Service to the floating IP, and reports the downtime", async () => {
    out.length = 0;
    const r = await runMigrate(options({ url: URL, probeUrl: URL }), {
      ...deps(),
      probe: (url) => probeFromNetns(c.lab.clientNs, url),
      httpCheck: async () => (await clientGet(c.lab, VIP)) !== undefined,
    });
    console.log(out.join("\n"));
    expect(r.exitCode).toBe(0);

    const proxy = (await client.get<EnvoyProxy>(egPaths.envoyProxy(PROXY)))!;
    expect(proxy.spec?.provider?.kubernetes?.envoyService).toMatchObject({
      loadBalancerClass: "metallb",
      externalTrafficPolicy: "Cluster",
      patch: {
        type: "StrategicMerge",
        value: { metadata: { annotations: { "metallb.io/loadBalancerIPs": VIP } } },
      },
    });
    const svc = (await client.get<KubeService>(paths.service(SVC)))!;
    expect(svc.spec.loadBalancerClass).toBe("metallb");
    expect(svc.spec.externalIPs).toBeUndefined();
    expect(svc.status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual([VIP]);
    expect(svc.metadata.annotations?.["metallb.io/ip-allocated-from-pool"]).toBe("envoy-gateway-pool");
    expect(r.announcedBy?.node).toMatch(/^master-\d$/);
    expect(r.announcedBy?.interfaces).toEqual(["ens3"]);
    expect(typeof r.downtime?.ms).toBe("number");
    expect(r.downtime?.basis).toBe("probe");
    expect(r.downtime?.probe?.probes).toBeGreaterThan(10);
    expect(typeof r.downtime?.answeringMs).toBe("number");

    // Without the hand-placed address, only the speakers answer for the IP.
    await nsRun(master0().ns, "ip", ["addr", "del", `${VIP}/32`, "dev", "ens3"]);
    await nsRun(c.lab.clientNs, "ip", ["neigh", "flush", "dev", "eth0"]);
    const body = await waitFor("HTTP through the floating IP", () => clientGet(c.lab, VIP), 15_000);
    expect(body).toBe(`worker-0 via ${r.announcedBy!.node}`);

    // `floatip verify` against the Service the real Envoy Gateway rendered: every check passes.
    const verified = await verify(client.api, {
      namespace: "metallb-system",
      lbClass: "metallb",
      service: `${SVC.namespace}/${SVC.name}`,
      expectedIp: VIP,
      http: true,
      httpTimeoutMs: 2_000,
      httpProbe: (url) => probeFromNetns(c.lab.clientNs, url),
    });
    expect(verified.checks.filter((x) => x.status === "fail")).toEqual([]);
    expect(verified).toMatchObject({ ok: true, ip: VIP, announcingNode: r.announcedBy!.node });

    const report = diagnose(
      await collectSnapshot(client, { namespace: "metallb-system", lbClass: "metallb" }),
    );
    const row = report.services.find((s) => s.service === `${SVC.namespace}/${SVC.name}`)!;
    expect(row.owner.kind).toBe("floatip");
    expect(row.findings.filter((f) => f.severity !== "info")).toEqual([]);
  });

  it("rollback puts externalIPs back on a class-less Service", async () => {
    out.length = 0;
    const r = await runRollback(rollbackOptions(60_000), deps());
    console.log(out.join("\n"));
    expect(r.exitCode).toBe(0);
    const svc = (await client.get<KubeService>(paths.service(SVC)))!;
    expect(svc.spec.loadBalancerClass).toBeUndefined();
    expect(svc.spec.externalIPs).toEqual([VIP]);
    // The old setup again: the address by hand on master-0.
    await nsRun(master0().ns, "ip", ["addr", "add", `${VIP}/32`, "dev", "ens3"]);
    await nsRun(c.lab.clientNs, "ip", ["neigh", "flush", "dev", "eth0"]);
    expect(await waitFor("the old setup to answer again", () => clientGet(c.lab, VIP), 15_000)).toBe(
      "worker-0 via master-0",
    );
  });

  it("a plainly deleted Envoy Service: how the real Envoy Gateway reacts (seed: not recreated promptly)", async () => {
    const before = (await client.get<KubeService>(paths.service(SVC)))!;
    await c.core.deleteNamespacedService({ name: SVC.name, namespace: SVC.namespace });
    const recreated = async () => {
      const cur = await client.get<KubeService>(paths.service(SVC));
      return cur && cur.metadata.uid !== before.metadata.uid ? cur : undefined;
    };
    const started = performance.now();
    const alone = await waitFor("the Service recreated by itself", recreated, 20_000).catch(() => undefined);
    console.log(
      alone
        ? `Envoy Gateway recreated the deleted Service by itself after ${Math.round(performance.now() - started)} ms`
        : "Envoy Gateway did not recreate the deleted Service within 20 s (EG #3632 shows)",
    );
    if (!alone) {
      // The runbook's remedy: a Gateway annotation change makes Envoy Gateway render it again.
      await client.patch(egPaths.gateway(GW), { metadata: { annotations: { "lab.floatip.io/touch": "1" } } });
      await waitFor("the Service recreated after touching the Gateway", recreated, 30_000);
    }
    expect((await recreated())?.spec.externalIPs).toEqual([VIP]);
  });
  it("Ctrl-C once the Service is deleted finishes that step (Envoy Gateway recreates it, floatip assigns the IP), says so, exits 130", async () => {
    const abort = new AbortController();
    out.length = 0;
    const r = await runMigrate(options(), {
      ...deps(),
      signal: abort.signal,
      progress: (l: string) => {
        out.push(`  | ${l}`);
        if (l.startsWith("deleting Service")) abort.abort();
      },
    });
    const text = out.join("\n");
    expect(r.exitCode, text).toBe(130);
    expect(text).toContain("the migration's change is complete; it was not verified (interrupted)");
    expect(text).toContain("floatip verify --lb-class metallb");
    const svc = (await client.get<KubeService>(paths.service(SVC)))!;
    expect(svc.spec.loadBalancerClass).toBe("metallb");
    expect(svc.status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual([VIP]);
  });
});
