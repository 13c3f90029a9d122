// The runbook's outage against a real API server: the real floatip controller runs WITHOUT --lb-class
// and grabs a class-less project Service (which belongs to another LB controller), while the Envoy
// Service of class metallb waits. `floatip doctor` must explain both.

import * as k8s from "@kubernetes/client-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DoctorReport } from "../../../src/ops/doctor/types.js";
import { repoRoot } from "../../../testenv/binaries.js";
import { installCrds } from "../../../testenv/kubectl.js";
import { startManaged, type ManagedProcess } from "../../../testenv/process.js";
import { startTestCluster, type TestCluster } from "../../support/cluster.js";
import { createAll, floatip, l2Advertisement, pool, until, VIP } from "../migrate/fixtures.js";

describe("floatip doctor explains the class-less outage (real API server, real controller)", () => {
  let tc: TestCluster;
  let controller: ManagedProcess;
  let dir: string;

  beforeAll(async () => {
    tc = await startTestCluster();
    dir = mkdtempSync(join(tmpdir(), "floatip-doctor-"));
    await installCrds(tc.cp, [join(repoRoot(), "deploy", "crds")]);
    // Pinned to Envoy Gateway's namespace as `floatip render` writes it (doctor warns otherwise).
    const pinned = pool();
    await createAll(tc.kc, [
      { ...pinned, spec: { ...pinned.spec, serviceAllocation: { namespaces: ["envoy-gateway-system"] } } },
      l2Advertisement(),
    ]);
    await tc.core.createNamespace({ body: { metadata: { name: "project-a" } } });
    await tc.core.createNamespacedService({
      namespace: "project-a",
      body: { metadata: { name: "web" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } },
    });
    await tc.core.createNamespacedService({
      namespace: "envoy-gateway-system",
      body: {
        metadata: { name: "envoy", annotations: { "metallb.universe.tf/loadBalancerIPs": VIP } },
        spec: { type: "LoadBalancer", loadBalancerClass: "metallb", ports: [{ port: 80 }] },
      },
    });
    // The misconfiguration: the controller without --lb-class.
    controller = startManaged(
      "controller",
      process.execPath,
      [
        "--import",
        "tsx",
        join(repoRoot(), "src/cli/main.ts"),
        "controller",
        "--kubeconfig",
        tc.cp.kubeconfigPath,
        "--metrics-address",
        "",
      ],
      join(dir, "controller.log"),
    );
    const events = tc.kc.makeApiClient(k8s.CoreV1Api);
    await until(
      "the controller's AllocationFailed Event on project-a/web",
      async () =>
        (await events.listNamespacedEvent({ namespace: "project-a" })).items.some(
          (e) => e.reason === "AllocationFailed",
        ),
      60_000,
    );
  });

  afterAll(async () => {
    await controller?.stop();
    await tc?.cp.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("names the grab of the class-less Service, and the idle class", async () => {
    // No pod and no speaker Lease says which class floatip should serve here: the operator names it.
    const r = await floatip(["doctor", "--kubeconfig", tc.cp.kubeconfigPath, "--lb-class", "metallb"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^project-a\/web\s+<none>\s+nobody \(no class\)\s+<pending>$/m);
    expect(r.stdout).toContain("ERROR [classless-claimed]");
    const prose = r.stdout.replace(/\s+/g, " ");
    expect(prose).toContain("A controller without --lb-class handles ALL class-less LoadBalancer Services");
    expect(prose).toContain(
      "fix: Run the floatip (or MetalLB) controller and speakers with --lb-class=metallb",
    );
    expect(r.stdout).toMatch(/^envoy-gateway-system\/envoy\s+metallb\s+floatip\s+<pending>$/m);
    expect(r.stdout).toContain("ERROR [no-controller]");
    expect(prose).toContain(`floatip would assign ${VIP} from pool envoy-gateway-pool`);
    expect(prose).toContain("runs with another --lb-class");
  });

  it("--json carries the same findings", async () => {
    const r = await floatip([
      "doctor",
      "--kubeconfig",
      tc.cp.kubeconfigPath,
      "--lb-class",
      "metallb",
      "--json",
    ]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    const web = report.services.find((s) => s.service === "project-a/web")!;
    expect(web.findings.map((f) => [f.severity, f.check])).toEqual([["error", "classless-claimed"]]);
    expect(report.counts.error).toBeGreaterThanOrEqual(2);
  });

  it("with the controller's actual (class-less) setting, it explains why web is pending there", async () => {
    const r = await floatip(["doctor", "--kubeconfig", tc.cp.kubeconfigPath, "--lb-class", "", "--json"]);
    const report = JSON.parse(r.stdout) as DoctorReport;
    const web = report.services.find((s) => s.service === "project-a/web")!;
    expect(web.owner.kind).toBe("floatip");
    // The only pool is pinned to Envoy Gateway's namespace: project-a may use no pool at all.
    expect(web.findings.map((f) => f.check)).toEqual(["allocation-no-pool"]);
  });

  it("bad input: exit code 2 and a clear message", async () => {
    const ns = await floatip(["doctor", "--kubeconfig", tc.cp.kubeconfigPath, "--namespace", "metallb"]);
    expect(ns.code).toBe(2);
    expect(ns.stderr).toContain("namespace metallb does not exist");
    const kc = await floatip(["doctor", "--kubeconfig", "/nonexistent/kc"]);
    expect(kc.code).toBe(2);
    expect(kc.stderr).toContain("cannot load kubeconfig /nonexistent/kc");
  });
});
