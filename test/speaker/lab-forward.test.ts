// Established connections across planned moves, with the real kube-proxy: after a handover the new
// owner sends segments it has no conntrack state for to the previous owner (src/speaker/forward*.ts).
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXCLUDE_LB_LABEL } from "../../src/speaker/plan.js";
import { SECOND_VIP, VIP } from "../../lab/addresses.js";
import { startBackends } from "../../lab/backends.js";
import { LabCluster } from "../../lab/cluster.js";
import { injectFault, restoreNode } from "../../lab/faults.js";
import { clientGet } from "../../lab/http.js";
import type { KubeProxyMode } from "../../lab/kube-proxy.js";
import type { LabNode } from "../../lab/lab.js";
import { applySeed, assignStatus } from "../../lab/seed.js";
import { speakerReady } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";
import {
  clean,
  diff,
  FORWARD_SPEAKER_ARGS,
  Harness,
  withClients,
  CONNECTIONS,
  type MoveResult,
} from "../support/forward-lab.js";

const CLUSTER_VIP = VIP;
const LOCAL_VIP = SECOND_VIP;

/** A lab with a Cluster Service (Envoy stand-in on worker-0) and a Local one (on every node). */
async function forwardingLab(mode: KubeProxyMode): Promise<LabCluster> {
  const c = await LabCluster.create({
    nodes: 3,
    workers: 1,
    lbClass: "metallb",
    kubeProxyMode: mode,
    speakerArgs: FORWARD_SPEAKER_ARGS,
  });
  try {
    const worker = await startBackends(c.lab, c.lab.workers);
    const local = await startBackends(c.lab, c.lab.nodes);
    const cluster = await applySeed(c.kc, { ips: [CLUSTER_VIP], endpoints: worker });
    await assignStatus(c.kc, cluster.namespace, cluster.name, [CLUSTER_VIP], "envoy-gateway-pool");
    const svc = await applySeed(c.kc, {
      ips: [LOCAL_VIP],
      poolName: "local-pool",
      serviceName: "envoy-local",
      externalTrafficPolicy: "Local",
      endpoints: local,
    });
    await assignStatus(c.kc, svc.namespace, svc.name, [LOCAL_VIP], "local-pool");
    return c;
  } catch (err) {
    await c.destroy();
    throw err;
  }
}

const results: Record<string, MoveResult> = {};

describe("handover forwarding with the real kube-proxy (nftables mode)", { timeout: 240_000 }, () => {
  let c: LabCluster;
  let h: Harness;
  let clusterRank: LabNode[];
  let localRank: LabNode[];

  beforeAll(async () => {
    c = await forwardingLab("nftables");
    h = new Harness(c);
    clusterRank = h.ranking(CLUSTER_VIP);
    localRank = h.ranking(LOCAL_VIP);
  });

  afterAll(async () => {
    console.log(JSON.stringify(results, null, 1));
    await c?.destroy();
  });

  it("without forwarding (--no-handover-forwarding), planned moves reset the open connections", async () => {
    h.startSpeakers(false);
    await h.ready({ [CLUSTER_VIP]: clusterRank[0]!, [LOCAL_VIP]: localRank[0]! });
    const [a, b] = clusterRank as [LabNode, LabNode];
    await withClients(c, CLUSTER_VIP, async (clients) => {
      results["off: Cluster cordon"] = await h.underTraffic(clients, CLUSTER_VIP, b, () =>
        h.setCordon(a, true),
      );
      results["off: Cluster uncordon (node takes the IP back)"] = await h.underTraffic(
        clients,
        CLUSTER_VIP,
        a,
        () => h.setCordon(a, false),
      );
    });
    const [la, lb] = localRank as [LabNode, LabNode];
    await withClients(c, LOCAL_VIP, async (clients) => {
      results["off: Local speaker SIGTERM"] = await h.underTraffic(clients, LOCAL_VIP, lb, () =>
        h.stopSpeaker(la),
      );
      results["off: Local restarted speaker takes the IP back"] = await h.underTraffic(
        clients,
        LOCAL_VIP,
        la,
        async () => {
          c.lab.restartStopped(la);
        },
      );
    });
    for (const [name, r] of Object.entries(results)) expect(r.resets, name).toBeGreaterThan(0);
    await h.stopSpeakers();
    h.startSpeakers(true);
    await h.ready({ [CLUSTER_VIP]: clusterRank[0]!, [LOCAL_VIP]: localRank[0]! });
  });

  it("Cluster: node SIGTERM and the restored node taking the IP back reset no connection", async () => {
    const [a, b] = clusterRank as [LabNode, LabNode];
    await withClients(c, CLUSTER_VIP, async (old) => {
      results["on: Cluster node SIGTERM"] = await h.underTraffic(
        old,
        CLUSTER_VIP,
        b,
        () => injectFault(c.lab, a, "sigterm"),
        { forwarded: true },
      );
      // Connections opened through the new owner, then moved back with the restored node.
      const mid = await old.stats();
      await withClients(c, CLUSTER_VIP, async (opened) => {
        const back = await h.underTraffic(opened, CLUSTER_VIP, a, () => restoreNode(c.lab, a), {
          forwarded: true,
        });
        results["on: Cluster restored node takes the IP back (connections opened via the successor)"] = back;
        expect(clean(back)).toEqual({ resets: 0, stalls: 0, errors: 0 });
      });
      const carried = diff(mid, await old.requestsMore(CONNECTIONS));
      results["on: Cluster restored node takes the IP back (connections from before)"] = carried;
      expect(clean(carried)).toEqual({ resets: 0, stalls: 0, errors: 0 });
    });
    expect(clean(results["on: Cluster node SIGTERM"]!)).toEqual({ resets: 0, stalls: 0, errors: 0 });
    await h.ready({ [CLUSTER_VIP]: a });
  });

  it("Local: speaker SIGTERM and its return reset no connection; the other IP is never captured", async () => {
    const [la, lb] = localRank as [LabNode, LabNode];
    await withClients(c, CLUSTER_VIP, async (bystanders) => {
      const quiet = await bystanders.stats();
      await withClients(c, LOCAL_VIP, async (clients) => {
        results["on: Local speaker SIGTERM"] = await h.underTraffic(
          clients,
          LOCAL_VIP,
          lb,
          () => h.stopSpeaker(la),
          { forwarded: true },
        );
        const table = await h.table(lb);
        expect(table).toContain(` : ${la.internalIp}`);
        expect(table).not.toContain(CLUSTER_VIP);
        results["on: Local restarted speaker takes the IP back"] = await h.underTraffic(
          clients,
          LOCAL_VIP,
          la,
          async () => void c.lab.restartStopped(la),
        );
      });
      // Traffic to the IP that did not move kept flowing untouched.
      expect(clean(diff(quiet, await bystanders.requestsMore(CONNECTIONS)))).toEqual({
        resets: 0,
        stalls: 0,
        errors: 0,
      });
    });
    expect(clean(results["on: Local speaker SIGTERM"]!)).toEqual({ resets: 0, stalls: 0, errors: 0 });
    expect(clean(results["on: Local restarted speaker takes the IP back"]!)).toEqual({
      resets: 0,
      stalls: 0,
      errors: 0,
    });
  });

  it("cordon and uncordon reset no connection (Cluster and Local)", async () => {
    for (const [vip, rank] of [
      [CLUSTER_VIP, clusterRank],
      [LOCAL_VIP, localRank],
    ] as const) {
      const [a, b] = rank as [LabNode, LabNode];
      await withClients(c, vip, async (clients) => {
        const away = await h.underTraffic(clients, vip, b, () => h.setCordon(a, true), {
          forwarded: true,
        });
        const back = await h.underTraffic(clients, vip, a, () => h.setCordon(a, false));
        results[`on: ${vip} cordon`] = away;
        results[`on: ${vip} uncordon`] = back;
        expect(clean(away)).toEqual({ resets: 0, stalls: 0, errors: 0 });
        expect(clean(back)).toEqual({ resets: 0, stalls: 0, errors: 0 });
      });
    }
  });

  it("a configuration change (the node excluded from load balancers, then not) resets no connection", async () => {
    const [a, b] = clusterRank as [LabNode, LabNode];
    const label = (value: string | null) =>
      c.core.patchNode(
        { name: a.name, body: { metadata: { labels: { [EXCLUDE_LB_LABEL]: value } } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
    await withClients(c, CLUSTER_VIP, async (clients) => {
      const away = await h.underTraffic(clients, CLUSTER_VIP, b, () => label(""), { forwarded: true });
      const back = await h.underTraffic(clients, CLUSTER_VIP, a, () => label(null));
      results["on: Cluster node excluded (config change)"] = away;
      results["on: Cluster node included again"] = back;
      expect(clean(away)).toEqual({ resets: 0, stalls: 0, errors: 0 });
      expect(clean(back)).toEqual({ resets: 0, stalls: 0, errors: 0 });
    });
  });

  it("a crash of the previous owner ends the grace period and new connections work", async () => {
    const [a, b] = clusterRank as [LabNode, LabNode];
    await h.setCordon(a, true);
    await h.soleAnnouncer(CLUSTER_VIP, b);
    await waitFor(`${b.name} forwards to ${a.name}`, async () =>
      (await h.table(b)).includes(` : ${a.internalIp}`),
    );
    await injectFault(c.lab, a, "crash");
    await waitFor(
      `${b.name} ends the grace period`,
      async () => !(await h.table(b)).includes(` : ${a.internalIp}`),
      20_000,
    );
    expect(await waitFor("a new connection", () => clientGet(c.lab, CLUSTER_VIP), 5000)).toBe(
      `worker-0 via ${b.name}`,
    );
    await restoreNode(c.lab, a);
    await h.setCordon(a, false);
    await h.ready({ [CLUSTER_VIP]: a });
  });

  it("a speaker restart leaves no stale rules", async () => {
    const [a, b] = clusterRank as [LabNode, LabNode];
    await h.setCordon(a, true);
    await h.soleAnnouncer(CLUSTER_VIP, b);
    await waitFor(`${b.name} forwards to ${a.name}`, async () =>
      (await h.table(b)).includes(` : ${a.internalIp}`),
    );
    const speaker = c.lab.latest(`speaker-${b.name}`)!;
    speaker.child.kill("SIGKILL");
    await speaker.exited;
    // A crashed speaker cannot clean up: its rules are still there...
    expect(await h.table(b)).toContain(` : ${a.internalIp}`);
    c.lab.restartStopped(b);
    // ...until it starts again.
    await waitFor(
      `the restarted speaker on ${b.name} removed its predecessor's rules`,
      async () => (await speakerReady(b)) && !(await h.table(b)).includes(` : ${a.internalIp}`),
      30_000,
    );
    await h.setCordon(a, false);
    await h.ready({ [CLUSTER_VIP]: a });
    // A graceful exit removes every rule.
    await h.stopSpeaker(b);
    await h.stopSpeaker(a);
    expect(await h.table(a)).toBe("");
    expect(await h.table(b)).toBe("");
  });
});

describe("handover forwarding with the real kube-proxy (iptables mode)", { timeout: 240_000 }, () => {
  let c: LabCluster;

  beforeAll(async () => {
    c = await forwardingLab("iptables");
  });

  afterAll(async () => {
    console.log(JSON.stringify(results, null, 1));
    await c?.destroy();
  });

  it("node SIGTERM and the return reset no connection; without forwarding they do", async () => {
    const h = new Harness(c);
    const [a, b] = h.ranking(CLUSTER_VIP) as [LabNode, LabNode];
    for (const forwarding of [false, true]) {
      h.startSpeakers(forwarding);
      await h.ready({ [CLUSTER_VIP]: a });
      const tag = `iptables ${forwarding ? "on" : "off"}: Cluster`;
      await withClients(c, CLUSTER_VIP, async (clients) => {
        results[`${tag} node SIGTERM`] = await h.underTraffic(
          clients,
          CLUSTER_VIP,
          b,
          () => injectFault(c.lab, a, "sigterm"),
          { forwarded: forwarding },
        );
        // Connections opened through the successor move back with the restored node.
        await withClients(c, CLUSTER_VIP, async (opened) => {
          results[`${tag} restored node takes the IP back`] = await h.underTraffic(
            opened,
            CLUSTER_VIP,
            a,
            () => restoreNode(c.lab, a),
            { forwarded: forwarding },
          );
        });
      });
      await h.stopSpeakers();
    }
    expect(results["iptables off: Cluster node SIGTERM"]!.resets).toBeGreaterThan(0);
    expect(results["iptables off: Cluster restored node takes the IP back"]!.resets).toBeGreaterThan(0);
    expect(clean(results["iptables on: Cluster node SIGTERM"]!)).toEqual({ resets: 0, stalls: 0, errors: 0 });
    expect(clean(results["iptables on: Cluster restored node takes the IP back"]!)).toEqual({
      resets: 0,
      stalls: 0,
      errors: 0,
    });
  });
});
