import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownerOf } from "../../src/election/ranking.js";
import { SECOND_SEGMENT_VIP, SECOND_VIP, VIP6 } from "../../lab/addresses.js";
import { startBackends } from "../../lab/backends.js";
import { LabCluster } from "../../lab/cluster.js";
import { injectFault, restoreNode } from "../../lab/faults.js";
import { clientGet } from "../../lab/http.js";
import { applySeed, assignStatus } from "../../lab/seed.js";
import { announcers, speakerReady, speakerState } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";

describe("speaker variants: externalTrafficPolicy Local, IPv6, two pools on two interfaces", () => {
  let c: LabCluster;

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1, secondPublic: true, lbClass: "metallb" });
    const [m0, m1, m2] = c.lab.nodes as [
      (typeof c.lab.nodes)[0],
      (typeof c.lab.nodes)[0],
      (typeof c.lab.nodes)[0],
    ];
    void m0;
    const eps = await startBackends(c.lab, [c.lab.workers[0]!, m1, m2]);
    const worker = eps.filter((e) => e.node === "worker-0");
    const local = eps.filter((e) => e.node !== "worker-0");
    const seeds = [
      {
        svc: "envoy-local",
        pool: "local-pool",
        ips: [SECOND_VIP],
        etp: "Local" as const,
        interfaces: ["ens3"],
        endpoints: local,
      },
      {
        svc: "envoy-v6",
        pool: "v6-pool",
        ips: [VIP6],
        etp: "Cluster" as const,
        interfaces: ["ens3"],
        endpoints: worker,
      },
      {
        svc: "envoy-edge",
        pool: "edge-pool",
        ips: [SECOND_SEGMENT_VIP],
        etp: "Cluster" as const,
        interfaces: ["ens4"],
        endpoints: worker,
      },
    ];
    for (const s of seeds) {
      const svc = await applySeed(c.kc, {
        ips: s.ips,
        poolName: s.pool,
        serviceName: s.svc,
        interfaces: s.interfaces,
        externalTrafficPolicy: s.etp,
        endpoints: s.endpoints,
      });
      await assignStatus(c.kc, svc.namespace, svc.name, s.ips, s.pool);
    }
    for (const node of c.lab.nodes) c.startSpeaker(node);
    await waitFor(
      "speakers ready",
      async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
      60_000,
    );
  });

  afterAll(async () => {
    await c?.destroy();
  });

  it("externalTrafficPolicy Local: announces only from a node with a local endpoint, and fails over among those", async () => {
    const expected = ownerOf(["master-1", "master-2"], SECOND_VIP)!;
    const other = expected === "master-1" ? "master-2" : "master-1";
    await waitFor(
      "local owner",
      async () => (await announcers(c.lab, SECOND_VIP)).join() === expected,
      30_000,
    );
    expect(await waitFor("answer", () => clientGet(c.lab, SECOND_VIP))).toBe(expected);

    await injectFault(c.lab, c.lab.node(expected), "crash");
    await waitFor(
      "moved to the other local node",
      async () => (await clientGet(c.lab, SECOND_VIP)) === other,
      20_000,
    );
    await waitFor(
      `${other} the only announcer`,
      async () => (await announcers(c.lab, SECOND_VIP)).join() === other,
      10_000,
    );
    await restoreNode(c.lab, c.lab.node(expected));
    await waitFor("back", async () => (await announcers(c.lab, SECOND_VIP)).join() === expected, 40_000);
  });

  it("IPv6: answers neighbor solicitations for the VIP and serves HTTP over it", async () => {
    const owner = ownerOf(["master-0", "master-1", "master-2"], VIP6)!;
    await waitFor("v6 owner", async () => (await announcers(c.lab, VIP6)).join() === owner, 30_000);
    const body = await waitFor("HTTP over IPv6", () => clientGet(c.lab, VIP6));
    expect(body).toBe(`worker-0 via ${owner}`);
    const neigh = await c.lab.client("ip", ["-6", "neigh", "show", VIP6]);
    expect(neigh).toMatch(/lladdr [0-9a-f:]{17}/);
  });

  it("two pools on two interfaces: each VIP is answered only on its advertised interface", async () => {
    const owner = ownerOf(["master-0", "master-1", "master-2"], SECOND_SEGMENT_VIP)!;
    await waitFor(
      "edge owner",
      async () => (await announcers(c.lab, SECOND_SEGMENT_VIP)).join() === owner,
      30_000,
    );
    const state = await speakerState(c.lab.node(owner));
    expect(state?.announcing[SECOND_SEGMENT_VIP]).toEqual(["ens4"]);
    expect(await waitFor("HTTP via ens4", () => clientGet(c.lab, SECOND_SEGMENT_VIP))).toBe(
      `worker-0 via ${owner}`,
    );
    // Nobody answers ARP for the edge VIP on the first segment.
    // iputils arping exits non-zero when no reply came.
    await expect(
      c.lab.client("arping", ["-c", "2", "-w", "2", "-I", "eth0", SECOND_SEGMENT_VIP]),
    ).rejects.toThrow();
    await c.lab.client("arping", ["-c", "1", "-w", "2", "-I", "eth1", SECOND_SEGMENT_VIP]);
  });
});
