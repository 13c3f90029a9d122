import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankNodes, type OwnershipMode } from "../../src/election/ranking.js";
import { summarizeProbes } from "../../src/ops/timeline.js";
import { VIP } from "../../lab/addresses.js";
import { LabCluster } from "../../lab/cluster.js";
import { injectFault, restoreNode } from "../../lab/faults.js";
import { ProbeRun } from "../../lab/probe-run.js";
import { seedEnvoyService, assignStatus } from "../../lab/seed.js";
import { announcers, settledOn, speakerReady } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";
import { allSpeakersReady, soleAnnouncer } from "../support/speakers.js";
import { monotonicNow } from "../../src/common/clock.js";

const url = `http://${VIP}/`;
/**
 * How long the restored node is watched once it is ready: past its rejoin delay (1 s), after
 * which strict ranking takes the IP back at once (the strict case below sees that within it).
 */
const WATCH_MS = 4000;

/**
 * (Each test restarts all three speakers, then crashes and restores one: more than the default
 * 60 s on a loaded 2-core machine.)
 *
 * Ownership modes with real speakers: the owner crashes, the next-ranked node takes over, the node
 * is restored. Sticky (the default): the IP stays where it is. Strict (MetalLB): it goes back.
 */
describe("sticky vs strict ownership in the lab", () => {
  let c: LabCluster;
  let ranking: string[];

  const speakersRunning = async (mode: OwnershipMode) => {
    for (const node of c.lab.nodes) {
      const name = `speaker-${node.name}`;
      const old = c.lab.latest(name);
      if (old && old.child.exitCode === null && old.child.signalCode === null) {
        old.child.kill("SIGTERM");
        await old.exited;
      }
      c.lab.forget(name);
      c.startSpeaker(node, ["--ownership", mode]);
    }
    await allSpeakersReady(c);
  };
  /**
   * Crashes the owner, waits for the successor, restores; returns who announced after the restore.
   * Strict: the owner is the ranking's first. Sticky: whoever holds the IP after the speakers'
   * rolling restart (each SIGTERM hands it over, and sticky keeps it where it went).
   */
  async function crashAndRestore(
    mode: OwnershipMode,
  ): Promise<{ owner: string; successor: string; after: Set<string>; failed: number }> {
    // Settled, not merely "one announcer": while the restarted speakers are still forming their
    // quorum a second node may be taking the IP over, and a sticky claimant keeps it after the crash.
    const owner = await waitFor(
      "the cluster settled on one owner",
      async () => {
        const who = await announcers(c.lab, VIP);
        if (who.length !== 1 || (mode === "strict" && who[0] !== ranking[0])) return undefined;
        return (await settledOn(c.lab, VIP, who[0]!)) ? who[0] : undefined;
      },
      30_000,
    );
    // With one claimant gone and none left, the ranking picks among the survivors in both modes.
    const successor = ranking.find((n) => n !== owner)!;
    await injectFault(c.lab, c.lab.node(owner), "crash");
    let prober: ProbeRun;
    let restoreAt: number;
    try {
      await soleAnnouncer(c, successor);
      prober = new ProbeRun(c.lab, url);
      await prober.ready();
    } finally {
      // Restored even when the takeover check fails, so the next test starts with three nodes.
      restoreAt = monotonicNow();
      await restoreNode(c.lab, c.lab.node(owner));
    }
    await waitFor("restored speaker ready", () => speakerReady(c.lab.node(owner)), 60_000);
    const after = new Set<string>();
    const until = performance.now() + WATCH_MS;
    while (performance.now() < until) {
      for (const n of await announcers(c.lab, VIP)) after.add(n);
      if (after.has(owner)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = summarizeProbes(await prober.stop(), restoreAt);
    return { owner, successor, after, failed: run.failed };
  }

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb" });
    const service = await seedEnvoyService(c, VIP);
    await assignStatus(c.kc, service.namespace, service.name, [VIP], "envoy-gateway-pool");
    ranking = rankNodes(
      c.lab.nodes.map((n) => n.name),
      VIP,
    );
  });

  afterAll(async () => {
    await c?.destroy();
  });

  it("sticky: the restored node does not take the IP back; no request fails", async () => {
    await speakersRunning("sticky");
    const { successor, after, failed } = await crashAndRestore("sticky");
    expect([...after]).toEqual([successor]);
    expect(failed).toBe(0);
  }, 180_000);

  it("strict: the restored node takes the IP back (MetalLB's ranking)", async () => {
    await speakersRunning("strict");
    const { after } = await crashAndRestore("strict");
    expect(after.has(ranking[0]!)).toBe(true);
    await soleAnnouncer(c, ranking[0]!);
  }, 180_000);
});
