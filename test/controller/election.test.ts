// Two controllers at once (a rolling update): one leader writes, the other waits; handing over, or
// taking over from a crashed leader, never gives one IP to two Services and changes no held IP.
import * as k8s from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaderElector } from "../../src/kube/elector.js";
import { KubeApi } from "../../src/kube/api.js";
import { connectionFromKubeConfig } from "../../src/kube/fallback.js";
import { repoRoot } from "../../testenv/binaries.js";
import { freePort } from "../../testenv/process.js";
import type { TestCluster } from "../support/cluster.js";
import {
  apply,
  createService,
  expectNoDuplicates,
  FAST,
  ingressIPs,
  NS,
  runController,
  sleep,
  startCrdCluster,
  waitFor,
  type Running,
} from "./support.js";

describe("leader election between controllers", () => {
  let cluster: TestCluster;
  const running: Running[] = [];
  let child: ChildProcess | undefined;

  const allIPs = async (): Promise<Map<string, string[]>> => {
    const list = await cluster.core.listNamespacedService({ namespace: "default" });
    return new Map(
      list.items
        .filter((s) => s.spec?.type === "LoadBalancer")
        .map((s) => [s.metadata!.name!, ingressIPs(s)]),
    );
  };
  const waitAllAssigned = async (count: number): Promise<Map<string, string[]>> =>
    waitFor(`${count} Services with IPs`, async () => {
      const m = await allIPs();
      return [...m.values()].filter((ips) => ips.length > 0).length === count ? m : undefined;
    });
  const leaseHolder = async (): Promise<string | undefined> =>
    (
      await cluster.kc
        .makeApiClient(k8s.CoordinationV1Api)
        .readNamespacedLease({ name: "floatip-controller", namespace: NS })
    ).spec?.holderIdentity;
  const serviceWrites = async (r: Running): Promise<number> =>
    (await r.controller.metrics.apiWrites.get()).values
      .filter((v) => String(v.labels.target).startsWith("service"))
      .reduce((n, v) => n + v.value, 0);

  /** `floatip controller` as its own process, on fast lease timings. */
  const startCli = (port: number): ChildProcess => {
    const root = repoRoot();
    return spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "src/cli/main.ts"),
        "controller",
        "--kubeconfig",
        cluster.cp.kubeconfigPath,
        "--lb-class",
        "metallb",
        "--identity",
        "cli",
        "--lease-duration-ms",
        String(FAST.leaseDurationMs),
        "--renew-deadline-ms",
        String(FAST.renewDeadlineMs),
        "--retry-period-ms",
        String(FAST.retryPeriodMs),
        "--metrics-address",
        `127.0.0.1:${port}`,
      ],
      { cwd: root, stdio: "ignore", env: { ...process.env, FLOATIP_LOG_LEVEL: "warn" } },
    );
  };

  beforeAll(async () => {
    cluster = await startCrdCluster();
    await apply(
      cluster,
      `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: general, namespace: metallb-system}
spec: {addresses: ["198.51.100.0/27"]}
`,
    );
  });

  afterAll(async () => {
    child?.kill("SIGKILL");
    for (const r of running) await r.controller.stop();
    await cluster?.cp.stop();
  });

  it("two controllers started together: one leads and writes, the other only watches", async () => {
    const [a, b] = await Promise.all([
      runController(cluster, "ctl-a", {}, false),
      runController(cluster, "ctl-b", {}, false),
    ]);
    running.push(a!, b!);
    const leader = await waitFor("one leader", () => running.find((r) => r.controller.isActive()));
    const standby = running.find((r) => r !== leader)!;
    await Promise.all(Array.from({ length: 12 }, (_, i) => createService(cluster, `svc-${i}`)));
    const ips = await waitAllAssigned(12);
    expectNoDuplicates([...ips.values()].flat());
    await sleep(300);
    expect(standby.controller.isLeader()).toBe(false);
    expect(await serviceWrites(standby)).toBe(0);
    expect(await serviceWrites(leader)).toBeGreaterThanOrEqual(12);
    expect(await leaseHolder()).toBe(leader === a ? "ctl-a" : "ctl-b");
  });

  it("a graceful stop hands over at once; Services created during the handover get distinct IPs", async () => {
    const leader = running.find((r) => r.controller.isActive())!;
    const standby = running.find((r) => r !== leader)!;
    const before = await cluster.core.listNamespacedService({ namespace: "default" });
    const stopped = performance.now();
    const creating = Promise.all(Array.from({ length: 8 }, (_, i) => createService(cluster, `during-${i}`)));
    await leader.controller.stop();
    running.splice(running.indexOf(leader), 1);
    await waitFor("standby takes over", () => standby.controller.isActive());
    expect(performance.now() - stopped).toBeLessThan(FAST.leaseDurationMs); // released, not expired
    await creating;
    const ips = await waitAllAssigned(20);
    expectNoDuplicates([...ips.values()].flat());
    // Held IPs did not move: the new leader restored them and wrote nothing to those Services.
    const after = await cluster.core.listNamespacedService({ namespace: "default" });
    for (const s of before.items.filter((x) => x.metadata?.name?.startsWith("svc-"))) {
      const now = after.items.find((x) => x.metadata?.name === s.metadata?.name)!;
      expect(ingressIPs(now)).toEqual(ingressIPs(s));
    }
    expect(standby.logs.events("restored")[0]).toMatchObject({ refused: 0 });
  });

  it("a crashed leader (the CLI, SIGKILLed) is replaced after the lease expires; nothing moves", async () => {
    const port = await freePort();
    child = startCli(port);
    const url = (p: string): string => `http://127.0.0.1:${port}${p}`;
    await waitFor(
      "CLI controller serving",
      async () => (await fetch(url("/healthz"))).status === 200,
      30_000,
    );
    // Hand the lease to the CLI process.
    const current = running.pop()!;
    await current.controller.stop();
    await waitFor(
      "CLI leads",
      async () => (await (await fetch(url("/readyz"))).text()).includes("leader"),
      10_000,
    );
    expect(await leaseHolder()).toMatch(/^cli_/);
    await createService(cluster, "by-cli");
    await waitAllAssigned(21);
    const metrics = await waitFor("in-use gauge", async () => {
      const text = await (await fetch(url("/metrics"))).text();
      return text.includes('floatip_allocator_addresses_in_use_total{pool="general"} 21') ? text : undefined;
    });
    expect(metrics).toContain("floatip_controller_is_leader 1");
    expect(metrics).toContain('floatip_allocator_addresses_total{pool="general"} 32');

    const standby = await runController(cluster, "ctl-c", {}, false);
    running.push(standby);
    await sleep(500);
    expect(standby.controller.isActive()).toBe(false);
    const before = await allIPs();
    child.kill("SIGKILL");
    const killed = performance.now();
    await waitFor("takeover after expiry", () => standby.controller.isActive(), 10_000);
    expect(performance.now() - killed).toBeGreaterThanOrEqual(FAST.leaseDurationMs - 500);
    await standby.controller.idle();
    expect(await allIPs()).toEqual(before);
    expect(await serviceWrites(standby)).toBe(0);
    await createService(cluster, "after-crash");
    const ips = await waitAllAssigned(22);
    expectNoDuplicates([...ips.values()].flat());
  });

  it("SIGTERM: the CLI finishes, releases the Lease at once and exits 0", async () => {
    const port = await freePort();
    const cli = startCli(port);
    child = cli;
    await waitFor(
      "CLI serving",
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200,
      30_000,
    );
    const current = running.pop()!;
    await current.controller.stop();
    await waitFor("CLI leads", async () => (await leaseHolder())?.startsWith("cli_") ?? false, 10_000);
    const exited = new Promise<number | null>((resolve) => cli.once("exit", (code) => resolve(code)));
    cli.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await leaseHolder()).toBeUndefined();
  });

  it("the Lease is compare-and-swap: of two racing candidates exactly one wins", async () => {
    const api = new KubeApi(await connectionFromKubeConfig(cluster.kc));
    const quiet = pino({ level: "silent" });
    const lead: string[] = [];
    const electors = ["x", "y"].map(
      (id) =>
        new LeaderElector(api, {
          namespace: NS,
          name: "race",
          identity: id,
          timings: FAST,
          log: quiet,
          onStartedLeading: () => lead.push(id),
          onStoppedLeading: () => undefined,
        }),
    );
    electors.forEach((e) => e.start());
    await sleep(1000);
    expect(lead).toHaveLength(1);
    expect(electors.filter((e) => e.isLeader())).toHaveLength(1);
    for (const e of electors) await e.stop();
    api.close();
  });

  it("status writes carry the resourceVersion they were decided on: a stale one is refused", async () => {
    const api = new KubeApi(await connectionFromKubeConfig(cluster.kc));
    const svc = await cluster.core.readNamespacedService({ name: "svc-0", namespace: "default" });
    await cluster.core.patchNamespacedService(
      { name: "svc-0", namespace: "default", body: { metadata: { labels: { touched: "yes" } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const err = await api
      .request("PATCH", "/api/v1/namespaces/default/services/svc-0/status", {
        patch: "merge",
        body: {
          metadata: { resourceVersion: svc.metadata?.resourceVersion },
          status: { loadBalancer: { ingress: [{ ip: "198.51.100.31", ipMode: "VIP" }] } },
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: 409 });
    expect(
      ingressIPs(await cluster.core.readNamespacedService({ name: "svc-0", namespace: "default" })),
    ).toEqual(ingressIPs(svc));
    api.close();
  });
});
