// Handover forwarding for an IPv6 floating IP (2001:db8:1::50, a single-stack IPv6 Service with the
// real kube-proxy in nftables mode): the new owner sends mid-flow segments to the previous owner's
// IPv6 InternalIP through its `ip6 floatip` table, and open keep-alive connections survive.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VIP6 } from "../../lab/addresses.js";
import { startBackends } from "../../lab/backends.js";
import { LabCluster } from "../../lab/cluster.js";
import { injectFault, restoreNode } from "../../lab/faults.js";
import type { LabNode } from "../../lab/lab.js";
import { applySeed, assignStatus } from "../../lab/seed.js";
import {
  clean,
  CONNECTIONS,
  diff,
  FORWARD_SPEAKER_ARGS,
  Harness,
  withClients,
  type MoveResult,
} from "../support/forward-lab.js";

const results: Record<string, MoveResult> = {};
const NONE = { resets: 0, stalls: 0, errors: 0 };

describe("handover forwarding for an IPv6 floating IP", { timeout: 240_000 }, () => {
  let c: LabCluster;
  let h: Harness;
  let a: LabNode;
  let b: LabNode;

  beforeAll(async () => {
    c = await LabCluster.create({
      nodes: 3,
      workers: 1,
      lbClass: "metallb",
      kubeProxyMode: "nftables",
      speakerArgs: FORWARD_SPEAKER_ARGS,
    });
    const worker = await startBackends(c.lab, c.lab.workers);
    const svc = await applySeed(c.kc, {
      ips: [VIP6],
      poolName: "v6-pool",
      serviceName: "envoy-v6",
      endpoints: worker,
    });
    await assignStatus(c.kc, svc.namespace, svc.name, [VIP6], "v6-pool");
    h = new Harness(c);
    [a, b] = h.ranking(VIP6) as [LabNode, LabNode];
    h.startSpeakers(true);
    await h.ready({ [VIP6]: a });
  });

  afterAll(async () => {
    console.log(JSON.stringify(results, null, 1));
    await c?.destroy();
  });

  /**
   * Moves the IP from a to b under keep-alive traffic, then back with connections opened through b
   * (their state is on b, so a forwards them) beside the ones from before (a knows those).
   */
  async function awayAndBack(name: string, away: () => Promise<unknown>, back: () => Promise<unknown>) {
    await withClients(c, VIP6, async (old) => {
      results[`${name}: away`] = await h.underTraffic(old, VIP6, b, away, { forwarded: true });
      const table = await h.table(b, "ip6");
      expect(table).toContain(`${VIP6} : `); // in the map of previous owners
      expect(table).toContain(` : ${a.internalIp6}`);
      expect(await h.table(b, "ip")).not.toContain(VIP6);
      const mid = await old.stats();
      await withClients(c, VIP6, async (opened) => {
        results[`${name}: back (connections opened via ${b.name})`] = await h.underTraffic(
          opened,
          VIP6,
          a,
          back,
          { forwarded: true },
        );
        expect(await h.table(a, "ip6")).toContain(` : ${b.internalIp6}`);
      });
      results[`${name}: back (connections from before)`] = diff(mid, await old.requestsMore(CONNECTIONS));
    });
    for (const [key, r] of Object.entries(results))
      if (key.startsWith(`${name}:`)) expect(clean(r), key).toEqual(NONE);
  }

  it("cordon and uncordon reset no connection; the new owner's ip6 table duplicates to the previous owner", async () => {
    await awayAndBack(
      "IPv6 Cluster cordon",
      () => h.setCordon(a, true),
      () => h.setCordon(a, false),
    );
  });

  it("node SIGTERM and the restored node taking the IP back reset no connection", async () => {
    await awayAndBack(
      "IPv6 Cluster node SIGTERM",
      () => injectFault(c.lab, a, "sigterm"),
      () => restoreNode(c.lab, a),
    );
  });
});
