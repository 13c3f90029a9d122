import * as k8s from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankNodes } from "../../src/election/ranking.js";
import { summarizeProbes, type ProbeSummary } from "../../src/ops/timeline.js";
import { VIP } from "../../lab/addresses.js";
import { LabCluster } from "../../lab/cluster.js";
import { injectFault, restoreNode, type FaultKind } from "../../lab/faults.js";
import { ProbeRun } from "../../lab/probe-run.js";
import { seedEnvoyService, assignStatus } from "../../lab/seed.js";
import { announcers, speakerMetric, speakerState, speakerUrl } from "../../lab/speakers.js";
import { nsRun } from "../../lab/sh.js";
import { waitFor } from "../../src/common/wait.js";
import { allSpeakersReady, soleAnnouncer } from "../support/speakers.js";
import { monotonicNow } from "../../src/common/clock.js";

const url = `http://${VIP}/`;

/**
 * A planned handover (make-before-break) leaves no gap: nothing fails except, at most, the one
 * connection per MAC switch whose handshake straddles it (reset: conntrack lives on the old node).
 */
function expectNoGap(summary: ProbeSummary): void {
  expect(summary.failed - summary.resets).toBe(0);
  expect(summary.resets).toBeLessThanOrEqual(Math.max(1, summary.servedBy.length - 1));
}

describe("speaker failover in the lab, against the real API server", () => {
  let c: LabCluster;
  let ranking: string[];
  let service: { namespace: string; name: string };

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb" });
    service = await seedEnvoyService(c, VIP);
    await assignStatus(c.kc, service.namespace, service.name, [VIP], "envoy-gateway-pool");
    for (const node of c.lab.nodes) c.startSpeaker(node);
    ranking = rankNodes(
      c.lab.nodes.map((n) => n.name),
      VIP,
    );
    await allSpeakersReady(c);
    await soleAnnouncer(c, ranking[0]!);
  });

  afterAll(async () => {
    await c?.destroy();
  });

  it("exactly the ranking winner announces, and says so in logs, Events and ServiceL2Status", async () => {
    const owner = ranking[0]!;
    const ownerNode = c.lab.node(owner);
    const log = readFileSync(c.lab.latest(`speaker-${owner}`)!.logFile, "utf8");
    const announced = log
      .split("\n")
      .filter((l) => l.includes('"event":"serviceAnnounced"'))
      .map((l) => JSON.parse(l));
    expect(announced.at(-1)).toMatchObject({
      ips: [VIP],
      protocol: "layer2",
      pool: "envoy-gateway-pool",
      node: owner,
    });

    const custom = c.kc.makeApiClient(k8s.CustomObjectsApi);
    const statuses = await waitFor("ServiceL2Status", async () => {
      const list = (await custom.listNamespacedCustomObject({
        group: "metallb.io",
        version: "v1beta1",
        namespace: "metallb-system",
        plural: "servicel2statuses",
      })) as {
        items: { status?: { node?: string; serviceName?: string; interfaces?: { name: string }[] } }[];
      };
      return list.items.length === 1 && list.items[0]!.status?.node ? list.items : undefined;
    });
    expect(statuses[0]!.status).toMatchObject({
      node: owner,
      serviceName: service.name,
      interfaces: [{ name: "ens3" }],
    });

    const event = await waitFor("nodeAssigned event", async () => {
      const events = await c.core.listNamespacedEvent({ namespace: service.namespace });
      return events.items.find((e) => e.reason === "nodeAssigned" && e.message?.includes(`"${owner}"`));
    });
    expect(event.message).toContain(VIP);

    const state = await speakerState(ownerNode);
    expect(state?.announcing[VIP]).toEqual(["ens3"]);

    const metrics = await nsRun(ownerNode.ns, "curl", ["-sS", "-m", "2", `${speakerUrl(ownerNode)}/metrics`]);
    expect(metrics).toMatch(
      new RegExp(`floatip_speaker_announced\\{[^}]*ip="${VIP.replace(/\./g, "\\.")}"[^}]*\\} 1`),
    );
    const garp = /floatip_layer2_gratuitous_sent\{ip="[^"]+"\} (\d+)/.exec(metrics);
    expect(Number(garp?.[1])).toBeGreaterThan(0);
    // As of the owner's last step: the third speaker may still be warming up when the owner already
    // announces (two of three are a majority), and a step may be a backstop (1 s) away.
    await waitFor(
      "the owner counts all three speakers alive",
      async () => (await speakerMetric(ownerNode, "floatip_members_alive")) === 3,
      15_000,
    );
  });

  const moves: { fault: FaultKind; graceful: boolean }[] = [
    { fault: "crash", graceful: false },
    { fault: "freeze", graceful: false },
    { fault: "public-link-down", graceful: false },
    { fault: "partition", graceful: false },
    { fault: "sigterm", graceful: true },
  ];
  for (const { fault, graceful } of moves) {
    it(`${fault} of the owner moves the IP to the next-ranked node${graceful ? " without a failed request" : ""}, and restore brings it back without one`, async () => {
      const [owner, successor] = [ranking[0]!, ranking[1]!];
      const prober = new ProbeRun(c.lab, url);
      await prober.ready();
      const faultAt = monotonicNow();
      await injectFault(c.lab, c.lab.node(owner), fault);
      await waitFor(
        `answers via ${successor}`,
        () => prober.results.some((p) => p.ok && p.t > faultAt && p.body === `worker-0 via ${successor}`),
        20_000,
      );
      const moved = summarizeProbes(await prober.stop(), faultAt);
      expect(moved.servedBy.at(-1)?.body).toBe(`worker-0 via ${successor}`);
      if (graceful) expectNoGap(moved);
      expect((await announcers(c.lab, VIP)).filter((n) => n !== owner)).toEqual([successor]);

      if (fault === "partition") {
        // The cut-off node is the minority: it must have withdrawn rather than keep answering.
        const state = await waitFor("isolated owner withdrew", async () => {
          const s = await speakerState(c.lab.node(owner));
          return s && s.isolated && Object.keys(s.announcing).length === 0 ? s : undefined;
        });
        // It withdraws on losing its heartbeat quorum, within the suspicion window: long before its
        // API server check (Lease renewals) would notice.
        expect(state.isolated).toBe(true);
      }

      const back = new ProbeRun(c.lab, url);
      await back.ready();
      const restoreAt = monotonicNow();
      const restoreWall = Date.now(); // for the speakers' log lines (wall-clock "time")
      await restoreNode(c.lab, c.lab.node(owner));
      await soleAnnouncer(c, owner, 40_000);
      await waitFor(
        `answers via ${owner}`,
        () => back.results.some((p) => p.ok && p.t > restoreAt && p.body === `worker-0 via ${owner}`),
        10_000,
      );
      const probes = await back.stop();
      const returned = summarizeProbes(probes, restoreAt);
      if (returned.failed > 0 && process.env.FLOATIP_DEBUG) {
        console.log(JSON.stringify(probes.filter((p) => !p.ok)), restoreAt);
        for (const n of c.lab.nodes)
          console.log(
            readFileSync(c.lab.latest(`speaker-${n.name}`)!.logFile, "utf8")
              .split("\n")
              .filter((l) => l.includes('"time"') && Date.parse(JSON.parse(l).time) > restoreWall - 3000)
              .join("\n"),
          );
      }
      expectNoGap(returned);
      await allSpeakersReady(c);
    });
  }

  it("cordon moves the IP away without a failed request, uncordon brings it back", async () => {
    const [owner, successor] = [ranking[0]!, ranking[1]!];
    const prober = new ProbeRun(c.lab, url);
    await prober.ready();
    const patch = (unschedulable: boolean) =>
      c.core.patchNode(
        { name: owner, body: { spec: { unschedulable } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
    await patch(true);
    await soleAnnouncer(c, successor);
    await patch(false);
    await soleAnnouncer(c, owner);
    const run = summarizeProbes(await prober.stop());
    expectNoGap(run);
    expect(run.servedBy.map((s) => s.body)).toEqual(
      expect.arrayContaining([`worker-0 via ${successor}`, `worker-0 via ${owner}`]),
    );
  });

  it("reports no address conflict for its own handovers (the old owner's make-before-break tail)", async () => {
    const events = await c.core.listNamespacedEvent({ namespace: service.namespace });
    expect(events.items.filter((e) => e.reason === "AddressConflict").map((e) => e.message)).toEqual([]);
  });

  it("keeps serving and still fails over while the API server is down", async () => {
    const [owner, successor] = [ranking[0]!, ranking[1]!];
    await c.cp.stopApiServer();
    try {
      const prober = new ProbeRun(c.lab, url);
      await prober.ready();
      const crashAt = monotonicNow();
      await injectFault(c.lab, c.lab.node(owner), "crash");
      await waitFor(
        `answers via ${successor}`,
        () => prober.results.some((p) => p.ok && p.t > crashAt && p.body === `worker-0 via ${successor}`),
        20_000,
      );
      const states = await Promise.all([successor, ranking[2]!].map((n) => speakerState(c.lab.node(n))));
      expect(states.every((s) => s && !s.apiHealthy && !s.isolated)).toBe(true);
      await prober.stop();
    } finally {
      await c.cp.startApiServer();
    }
    await restoreNode(c.lab, c.lab.node(owner));
    await soleAnnouncer(c, owner, 40_000);
  });
});
