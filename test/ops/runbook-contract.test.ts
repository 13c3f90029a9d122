// The runbook commands' contract against a real API server, without the lab: what answered (a 404
// behind the IP fails), flags checked before anything runs, one exit-code contract, Ctrl-C at
// every phase of failover-test, the runbook lock, and "restored" meaning the speaker is live.
// The "floating IP" is 127.0.0.1 with a loopback server behind it: no traffic leaves the host.
import * as k8s from "@kubernetes/client-node";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { acquireLock, LOCK_NAME } from "../../src/ops/lock.js";
import { repoRoot } from "../../testenv/binaries.js";
import { installCrds } from "../../testenv/kubectl.js";
import { waitFor } from "../../src/common/wait.js";
import { runCli, startCli, type CliResult } from "../support/cli.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { KubeClient } from "../../src/kube/client.js";
import { monotonicNow } from "../../src/common/clock.js";

const NS = "metallb-system";
const SVC = { namespace: "default", name: "web" };
const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

// Every test starts floatip (tsx) a few times: slow on a busy machine, so generous timeouts.
describe("runbook commands: answers, flags, exit codes, interruption, lock", { timeout: 240_000 }, () => {
  let tc: TestCluster;
  let custom: k8s.CustomObjectsApi;
  let coordination: k8s.CoordinationV1Api;
  let server: Server;
  let status = 200;
  let dir: string;
  let kc: string;
  const renewing = new Set(["master-0", "master-1"]);
  let renewer: NodeJS.Timeout;

  const floatip = (args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> =>
    runCli(args, { timeoutMs: 90_000, ...(env ? { env } : {}) });
  const failover = (...extra: string[]) => [
    "failover-test",
    "--kubeconfig",
    kc,
    "--service",
    `${SVC.namespace}/${SVC.name}`,
    "--settle-ms",
    "3000",
    "--out",
    join(dir, "plot.svg"),
    // The phases and the lock, over new connections only: the stand-in here closes every
    // connection, so 20 "keep-alive" clients would be 400 new connections a second on top.
    "--connections",
    "0",
    ...extra,
  ];

  const announce = async (node: string) => {
    const name = `web-${node}`;
    await custom
      .createNamespacedCustomObject({
        group: "metallb.io",
        version: "v1beta1",
        namespace: NS,
        plural: "servicel2statuses",
        body: {
          apiVersion: "metallb.io/v1beta1",
          kind: "ServiceL2Status",
          metadata: {
            name,
            labels: { "metallb.io/service-name": SVC.name, "metallb.io/service-namespace": SVC.namespace },
          },
        },
      })
      .catch(() => undefined);
    await custom.patchNamespacedCustomObjectStatus(
      {
        group: "metallb.io",
        version: "v1beta1",
        namespace: NS,
        plural: "servicel2statuses",
        name,
        body: {
          status: {
            node,
            serviceName: SVC.name,
            serviceNamespace: SVC.namespace,
            interfaces: [{ name: "eth0" }],
          },
        },
      },
      merge,
    );
  };
  const unannounce = (node: string) =>
    custom
      .deleteNamespacedCustomObject({
        group: "metallb.io",
        version: "v1beta1",
        namespace: NS,
        plural: "servicel2statuses",
        name: `web-${node}`,
      })
      .catch(() => undefined);
  const renewLease = async (node: string) => {
    const name = `floatip-speaker-${node}`;
    const body: k8s.V1Lease = {
      metadata: {
        name,
        labels: { "floatip.io/speaker-lease": "true" },
        annotations: { "floatip.io/lb-class": "metallb" },
      },
      spec: { holderIdentity: node, leaseDurationSeconds: 10, renewTime: new k8s.V1MicroTime() },
    };
    // A Lease cannot be updated without its resourceVersion: patch the renewal, create the first time.
    await coordination
      .patchNamespacedLease(
        { name, namespace: NS, body: { spec: { renewTime: new Date().toISOString().replace("Z", "000Z") } } },
        merge,
      )
      .catch(() => coordination.createNamespacedLease({ namespace: NS, body }))
      .catch(() => undefined);
  };
  const cordoned = async (node: string) =>
    (await tc.core.readNode({ name: node })).spec?.unschedulable ?? false;

  beforeAll(async () => {
    tc = await startTestCluster();
    kc = tc.cp.kubeconfigPath;
    custom = tc.kc.makeApiClient(k8s.CustomObjectsApi);
    coordination = tc.kc.makeApiClient(k8s.CoordinationV1Api);
    dir = mkdtempSync(join(tmpdir(), "floatip-contract-"));
    await installCrds(tc.cp, [join(repoRoot(), "deploy", "crds")]);
    await tc.core.createNamespace({ body: { metadata: { name: NS } } });
    for (const name of ["master-0", "master-1"]) await tc.core.createNode({ body: { metadata: { name } } });
    server = createServer((_req, res) => {
      res.writeHead(status, { "x-served-by": "backend-a", connection: "close" });
      res.end(status === 200 ? "hello from web\n" : "not found\n");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    await tc.core.createNamespacedService({
      namespace: SVC.namespace,
      body: {
        metadata: { name: SVC.name },
        spec: { type: "LoadBalancer", loadBalancerClass: "metallb", ports: [{ port }] },
      },
    });
    await tc.core.patchNamespacedServiceStatus(
      { ...SVC, body: { status: { loadBalancer: { ingress: [{ ip: "127.0.0.1" }] } } } },
      merge,
    );
    // A fresh API server answers "storage is (re)initializing" for a while.
    for (const plural of ["servicel2statuses", "ipaddresspools", "l2advertisements", "configurationstates"])
      await waitFor(
        `the API server to serve ${plural}`,
        () =>
          custom
            .listNamespacedCustomObject({ group: "metallb.io", version: "v1beta1", namespace: NS, plural })
            .then(() => true),
        120_000,
      );
    await announce("master-0");
    // Stand-in speakers: renew their Leases like the real ones do.
    await Promise.all([...renewing].map(renewLease));
    renewer = setInterval(() => [...renewing].forEach((n) => void renewLease(n)), 300);
  }, 300_000);

  afterEach(async () => {
    status = 200;
    renewing.add("master-0");
    await unannounce("master-1");
    await announce("master-0");
    await coordination.deleteNamespacedLease({ name: LOCK_NAME, namespace: NS }).catch(() => undefined);
    for (const node of ["master-0", "master-1"])
      await tc.core.patchNode({ name: node, body: { spec: { unschedulable: false } } }, merge);
  });

  afterAll(async () => {
    clearInterval(renewer);
    server?.close();
    await tc?.cp.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a 404 behind the IP fails verify and failover-test, and changes nothing", async () => {
    status = 404;
    const v = await floatip(["verify", "--kubeconfig", kc, "--service", "default/web", "--json"]);
    const http = (
      JSON.parse(v.stdout) as { checks: { check: string; status: string; detail: string }[] }
    ).checks.find((c) => c.check === "HTTP reachability");
    expect(http?.status).toBe("fail");
    expect(http?.detail).toMatch(/answered HTTP 404 from backend-a .*expected 2xx\/3xx/);
    expect(v.code).toBe(1);

    const f = await floatip(failover("--method", "drain"));
    expect(f.stderr).toMatch(/HTTP 404 from backend-a/);
    expect(f.code).toBe(1);
    expect(await cordoned("master-0")).toBe(false);

    const accepted = await floatip([
      "verify",
      "--kubeconfig",
      kc,
      "--service",
      "default/web",
      "--expect-status",
      "404",
      "--json",
    ]);
    expect(accepted.stdout).toMatch(
      /"status": "pass",\s+"detail": "http:\/\/127\.0\.0\.1:\d+\/ answered HTTP 404 from backend-a/,
    );
  });

  it("--expect-body: the right status from the wrong server fails; every result shows status and server", async () => {
    const wrong = await floatip([
      "verify",
      "--kubeconfig",
      kc,
      "--service",
      "default/web",
      "--expect-body",
      "my-app",
      "--json",
    ]);
    expect(wrong.stdout).toMatch(/answered HTTP 200 from backend-a .*lacks \\"my-app\\"/);
    const right = await floatip([
      "verify",
      "--kubeconfig",
      kc,
      "--service",
      "default/web",
      "--expect-body",
      "hello",
      "--json",
    ]);
    expect(right.stdout).toMatch(
      /"status": "pass",\s+"detail": "[^"]+answered HTTP 200 from backend-a in [\d.]+ ms: hello from web/,
    );
  });

  it("flags are checked before anything runs: exit 2 with the fix", async () => {
    const ip = await floatip(["verify", "--kubeconfig", kc, "--ip", "203.0.113.999"]);
    expect(ip.code).toBe(2);
    expect(ip.stderr).toContain('"203.0.113.999" is not an IP address');
    for (const cmd of ["verify", "doctor", "failover-test"]) {
      const typo = await floatip([cmd, "--kubeconfig", kc, "--lb-class", "metalb"]);
      expect(typo.stderr).toContain("Did you mean --lb-class metallb?");
      expect(typo.code).toBe(2);
    }
    const status = await floatip(["failover-test", "--kubeconfig", kc, "--expect-status", "2yy"]);
    expect(status.code).toBe(2);
  });

  it("kubeconfig errors are worded like kubectl's and exit 2 in every command", async () => {
    for (const cmd of ["verify", "failover-test", "doctor", "migrate", "rollback"]) {
      const extra = cmd === "migrate" ? ["--service", "a/b"] : [];
      const missing = await floatip([cmd, ...extra, "--kubeconfig", "/nonexistent/kc"]);
      expect(missing.stderr).toContain("stat /nonexistent/kc: no such file or directory");
      expect(missing.code).toBe(2);
    }
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, KUBECONFIG: "" };
    delete env.KUBERNETES_SERVICE_HOST;
    for (const cmd of ["verify", "failover-test"]) {
      const none = await floatip([cmd], env);
      expect(none.stderr).toContain("no configuration has been provided");
      expect(none.stderr).not.toContain("skipTLSVerify");
      expect(none.code).toBe(2);
    }
    const help = await floatip(["failover-test", "--help"]);
    expect(help.stdout).toMatch(/Exit codes:\n\s+0\s+passed\n\s+1\s+a check failed/);
  });

  it("Ctrl-C during the baseline aborts before the fault: nothing changed, exit 130", async () => {
    const run = startCli(failover("--method", "drain"));
    await run.waitForOutput(/probing http:/, 150_000);
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("nothing was changed");
    expect(r.stderr).not.toContain("failing master-0");
    expect(await cordoned("master-0")).toBe(false);
  });

  for (const phase of [
    { name: "the fault (waiting for the new announcement)", after: /failing master-0/ },
    { name: "the recovery", after: /master-1 announces/ },
    { name: "the settle time", after: /answering again/ },
  ]) {
    it(`Ctrl-C during ${phase.name}: stops at once, uncordons, says so, exit 130`, async () => {
      const run = startCli(failover("--method", "drain", "--timeout-ms", "30000"));
      await run.waitForOutput(/failing master-0/, 150_000);
      if (phase.after.source !== "failing master-0") await announce("master-1");
      await run.waitForOutput(phase.after, 60_000);
      const sent = performance.now();
      run.child.kill("SIGINT");
      await run.waitForOutput(/restoring master-0/);
      expect(performance.now() - sent).toBeLessThan(1000);
      const r = await run.done;
      expect(r.code).toBe(130);
      expect(r.stdout).toContain("uncordoned master-0");
      expect(r.stdout).toContain("INTERRUPTED");
      expect(await cordoned("master-0")).toBe(false);
    });
  }

  it("'restored' waits until the node's speaker is live again, and the plot marks it", async () => {
    const run = startCli(failover("--method", "drain", "--json"));
    await run.waitForOutput(/failing master-0/, 150_000);
    renewing.delete("master-0"); // the drained node's speaker goes quiet ...
    await announce("master-1");
    await run.waitForOutput(/restoring master-0/, 120_000);
    const restoreSeen = monotonicNow();
    await new Promise((r) => setTimeout(r, 3000)); // ... and is not renewed for a while after the restore
    renewing.add("master-0");
    const r = await run.done;
    const result = JSON.parse(r.stdout) as {
      ok: boolean;
      restoredAt: number;
      newNode: string;
      statuses: Record<string, number>;
    };
    expect(r.code).toBe(0);
    expect(result.newNode).toBe("master-1");
    expect(result.restoredAt).toBeGreaterThan(restoreSeen + 2500);
    expect(Object.keys(result.statuses)).toEqual(["200"]);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(join(dir, "plot.svg"), "utf8")).toContain("master-0 restored");
  });

  it("a second failover-test refuses while the first runs, naming the holder", async () => {
    const first = startCli(failover("--method", "drain", "--timeout-ms", "30000"));
    await first.waitForOutput(/failing master-0/, 150_000);
    const second = await floatip(failover("--method", "drain"));
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(
      /another operation runs: failover-test by .* \(pid \d+\) holds it since \S+ for \d+ s/,
    );
    first.child.kill("SIGINT");
    expect((await first.done).code).toBe(130);
    // Released on the way out: the next run may take it.
    expect(
      await coordination.readNamespacedLease({ name: LOCK_NAME, namespace: NS }).then(
        () => "held",
        () => "free",
      ),
    ).toBe("free");
  });

  it("the lock: one of two concurrent takers wins; a stale lock is taken over", async () => {
    const a = await KubeClient.connect(kc);
    const b = await KubeClient.connect(kc);
    try {
      const results = await Promise.allSettled([
        acquireLock(a, NS, "migrate"),
        acquireLock(b, NS, "rollback"),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(results.find((r) => r.status === "rejected")?.reason).toMatchObject({ name: "LockHeldError" });
      await coordination.deleteNamespacedLease({ name: LOCK_NAME, namespace: NS });
      await coordination.createNamespacedLease({
        namespace: NS,
        body: {
          metadata: { name: LOCK_NAME },
          spec: {
            holderIdentity: "a dead run",
            leaseDurationSeconds: 1,
            renewTime: new k8s.V1MicroTime(Date.now() - 5000),
          },
        },
      });
      const taken = await acquireLock(a, NS, "migrate");
      await taken.release();
    } finally {
      a.close();
      b.close();
    }
  });
});
