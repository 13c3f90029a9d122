import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankNodes } from "../../src/election/ranking.js";
import { summarizeProbes } from "../../src/ops/timeline.js";
import { VIP } from "../../lab/addresses.js";
import { LabCluster } from "../../lab/cluster.js";
import { flood } from "../../lab/l2flood.js";
import { ProbeRun } from "../../lab/probe-run.js";
import { seedEnvoyService, assignStatus } from "../../lab/seed.js";
import { announcers, settledOn, speakerReady, speakerUrl } from "../../lab/speakers.js";
import { nsRun } from "../../lab/sh.js";
import { waitFor } from "../../src/common/wait.js";

const FLOOD_SECONDS = 5;

const counter = (metrics: string, name: string, label: string) =>
  Number(new RegExp(`${name}\\{${label}\\} (\\d+)`).exec(metrics)?.[1] ?? 0);

describe("an ARP flood at the owner, and another station claiming the IP", () => {
  let c: LabCluster;
  let owner: string;
  let service: { namespace: string; name: string };

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb" });
    service = await seedEnvoyService(c, VIP);
    await assignStatus(c.kc, service.namespace, service.name, [VIP], "envoy-gateway-pool");
    for (const node of c.lab.nodes) c.startSpeaker(node);
    owner = rankNodes(
      c.lab.nodes.map((n) => n.name),
      VIP,
    )[0]!;
    await waitFor(
      "all speakers ready",
      async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
      60_000,
    );
    await waitFor("the cluster settled on the owner", () => settledOn(c.lab, VIP, owner), 60_000);
  });

  afterAll(async () => {
    await c?.destroy();
  });

  it("is answered at a bounded rate and moves nothing: same owner, no failed request", async () => {
    const prober = new ProbeRun(c.lab, `http://${VIP}/`);
    await prober.ready();
    const withdrawals = (m: string) =>
      counter(m, "floatip_ownership_changes_total", 'change="withdraw",reason="[^"]+"');
    // Start-up may have withdrawn once while the quorum formed: count the flood's own.
    const withdrawnBefore = withdrawals(
      await nsRun(c.lab.node(owner).ns, "curl", [
        "-sS",
        "-m",
        "2",
        `${speakerUrl(c.lab.node(owner))}/metrics`,
      ]),
    );
    // Broadcast, so every node's kernel sees the flood too (lab-flood-100k.test.ts: unicast, 10 s).
    const { sent } = await flood({
      ns: c.lab.clientNs,
      iface: "eth0",
      kind: "arp",
      target: VIP,
      perSecond: 100_000,
      seconds: FLOOD_SECONDS,
    });
    const probes = summarizeProbes(await prober.stop());
    const metrics = await nsRun(c.lab.node(owner).ns, "curl", [
      "-sS",
      "-m",
      "2",
      `${speakerUrl(c.lab.node(owner))}/metrics`,
    ]);
    const limited = counter(metrics, "floatip_layer2_frames_ignored", 'reason="rate-limited"');
    const replies = counter(metrics, "floatip_layer2_responses_sent", `ip="${VIP}"`);
    console.log(
      JSON.stringify({ sent, perSecond: Math.round(sent / FLOOD_SECONDS), limited, replies, probes }),
    );
    expect(sent).toBeGreaterThan(10_000);
    expect(limited).toBeGreaterThan(0);
    // One source: its burst plus its rate, plus the client's own few questions.
    expect(replies).toBeLessThan(40 + 20 * (FLOOD_SECONDS + 5) + 50);
    expect(await announcers(c.lab, VIP)).toEqual([owner]);
    // No failover: no outage as long as a failure detection. The flood shares 2 cores with the
    // speakers and comes from the client's own MAC (its ARP refreshes share the rate limit), so on
    // a busy machine a probe can fail now and then without anything moving.
    expect(probes.outages.filter((o) => o.durationMs >= 500)).toEqual([]);
    expect(probes.failed).toBeLessThanOrEqual(probes.probes * 0.05);
    expect(probes.servedBy.map((s) => s.body)).toEqual([`worker-0 via ${owner}`]);
    const changes = metrics.split("\n").filter((l) => l.startsWith("floatip_ownership_changes_total{"));
    expect(withdrawals(metrics) - withdrawnBefore, changes.join("; ")).toBe(0);
  });

  it("a gratuitous ARP for the IP from another MAC is logged, counted, posted as an Event and re-announced", async () => {
    const ns = c.lab.node(owner).ns;
    const metrics = () => nsRun(ns, "curl", ["-sS", "-m", "2", `${speakerUrl(c.lab.node(owner))}/metrics`]);
    const garps = async () => counter(await metrics(), "floatip_layer2_gratuitous_sent", `ip="${VIP}"`);
    const before = await garps();
    // One frame (10/s for 0.15 s): another station announcing the IP as its own.
    await flood({
      ns: c.lab.clientNs,
      iface: "eth0",
      kind: "arp",
      target: VIP,
      perSecond: 10,
      seconds: 0.15,
      source: "02:00:5e:00:00:77",
      senderIp: VIP,
    });
    await waitFor(
      "conflict counted",
      async () =>
        counter(await metrics(), "floatip_address_conflicts_total", `ip="${VIP}",kind="gratuitous-arp"`) >= 1,
      30_000,
    );
    await waitFor("re-announced", async () => (await garps()) > before, 15_000);
    const events = await c.core.listNamespacedEvent({ namespace: service.namespace });
    expect(
      events.items.some((e) => e.reason === "AddressConflict" && e.message?.includes("02:00:5e:00:00:77")),
    ).toBe(true);
    expect(await announcers(c.lab, VIP)).toEqual([owner]);
  });
});
