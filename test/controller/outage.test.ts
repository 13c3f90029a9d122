// The API server goes away and comes back: the controller keeps running on its caches, steps down
// when it cannot renew its lease, and catches up afterwards without moving any IP.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import type { TestCluster } from "../support/cluster.js";
import {
  apply,
  createService,
  expectNoDuplicates,
  FAST,
  ingressIPs,
  readService,
  runController,
  sleep,
  startCrdCluster,
  waitFor,
  type Running,
} from "./support.js";

// Each test restarts kube-apiserver, which on a busy 2-core machine takes up to a minute by itself;
// the waits that judge the controller start once it answers again.
describe("API server outage", { timeout: 150_000 }, () => {
  let cluster: TestCluster;
  let running: Running;

  const assigned = async (): Promise<Map<string, string>> => {
    const list = await cluster.core.listNamespacedService({ namespace: "default" });
    return new Map(
      list.items
        .filter((s) => s.spec?.type === "LoadBalancer" && ingressIPs(s).length > 0)
        .map((s) => [s.metadata!.name!, ingressIPs(s)[0]!]),
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
spec: {addresses: ["192.0.2.128/26"]}
`,
    );
    running = await runController(cluster, "outage-ctl");
  });

  // A failure here is about timing: the controller's own account of the outage is the evidence.
  const printLogsOnFailure = (): void =>
    onTestFailed(() => console.error(`controller log:\n${running?.logs.dump() ?? "(not started)"}`));

  afterAll(async () => {
    await running?.controller.stop();
    await cluster?.cp.stop();
  });

  it("survives the API server stopping, steps down, and resumes without moving IPs", async () => {
    printLogsOnFailure();
    await createService(cluster, "steady");
    const ip = await waitFor(
      "steady IP",
      async () => ingressIPs(await readService(cluster, "default", "steady"))[0],
    );
    const rv = (await readService(cluster, "default", "steady")).metadata?.resourceVersion;

    await cluster.cp.stopApiServer();
    await sleep(FAST.renewDeadlineMs + 1000);
    expect(running.controller.healthy()).toBe(true);
    expect(running.controller.isActive()).toBe(false);
    expect(running.controller.ready()).toEqual({
      ok: false,
      detail: "API server unreachable; serving from cache",
    });
    expect(running.logs.events("watchError").length).toBeGreaterThan(0);
    expect(running.logs.events("stoppedLeading")[0]).toMatchObject({ reason: "renew deadline passed" });

    await cluster.cp.startApiServer();
    await waitFor("leading again", () => running.controller.isActive(), 20_000);
    await waitFor("ready again", () => running.controller.ready().ok);
    await running.controller.idle();
    const steady = await readService(cluster, "default", "steady");
    expect(ingressIPs(steady)).toEqual([ip]);
    expect(steady.metadata?.resourceVersion).toBe(rv);

    await createService(cluster, "after");
    const after = await waitFor(
      "new Service IP",
      async () => ingressIPs(await readService(cluster, "default", "after"))[0],
    );
    expect(after).not.toBe(ip);
  });

  it("catches up on Services whose allocation the outage interrupted", async () => {
    printLogsOnFailure();
    await Promise.all(Array.from({ length: 20 }, (_, i) => createService(cluster, `burst-${i}`)));
    await cluster.cp.stopApiServer(); // while the controller is writing
    await sleep(1000);
    await cluster.cp.startApiServer();
    const all = await waitFor(
      "every Service assigned",
      async () => {
        const m = await assigned();
        return m.size === 22 ? m : undefined;
      },
      30_000,
    );
    expectNoDuplicates([...all.values()]);
    await running.controller.idle();
    expect(
      running.controller
        .assignments()
        .map((a) => a.ips[0])
        .sort(),
    ).toEqual([...all.values()].sort());
  });
});
