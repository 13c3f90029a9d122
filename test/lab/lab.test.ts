import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VIP } from "../../lab/addresses.js";
import { startBackends } from "../../lab/backends.js";
import { injectFault, restoreNode, type FaultKind } from "../../lab/faults.js";
import { clientGet } from "../../lab/http.js";
import { LabCluster } from "../../lab/cluster.js";
import { Lab, type LabNode } from "../../lab/lab.js";
import { applySeed, assignStatus } from "../../lab/seed.js";
import { nsRun, run } from "../../lab/sh.js";
import { waitFor } from "../../src/common/wait.js";

/** Puts the VIP on a node's public NIC by hand and tells the segment with a gratuitous ARP. */
async function claimByHand(node: LabNode): Promise<void> {
  await run("ip", ["-n", node.ns, "addr", "add", `${VIP}/32`, "dev", "ens3"]);
  await nsRun(node.ns, "arping", ["-q", "-U", "-c", "1", "-I", "ens3", VIP]).catch(() => undefined);
}

async function releaseByHand(node: LabNode): Promise<void> {
  await run("ip", ["-n", node.ns, "addr", "del", `${VIP}/32`, "dev", "ens3"]);
}

describe("network lab (kube-proxy in iptables mode)", () => {
  let c: LabCluster;
  let lab: Lab;
  let prefix = "";

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, kubeProxyMode: "iptables" });
    lab = c.lab;
    prefix = lab.prefix;
    const endpoints = await startBackends(lab, lab.nodes);
    // ETP Local: the node holding the VIP answers itself, so a fault on it is visible to the client.
    const svc = await applySeed(c.kc, { ips: [VIP], externalTrafficPolicy: "Local", endpoints });
    await assignStatus(c.kc, svc.namespace, svc.name, [VIP], "envoy-gateway-pool");
    await claimByHand(lab.nodes[0]!);
  });

  afterAll(async () => {
    await c?.destroy();
  });

  it("runs the real kube-proxy in iptables mode: its chains hold the VIP", async () => {
    const rules = await nsRun(lab.nodes[0]!.ns, "iptables-save", ["-t", "nat"]);
    expect(rules).toContain("KUBE-SERVICES");
    expect(rules).toMatch(new RegExp(`-d ${VIP.replaceAll(".", "\\.")}/32 .*-j KUBE-EXT-`));
  });

  it("builds three node namespaces, a client, a switch and the API relay, with the seed's interface names", async () => {
    expect(lab.nodes.map((n) => n.name)).toEqual(["master-0", "master-1", "master-2"]);
    for (const node of lab.nodes) {
      const links = await run("ip", ["-n", node.ns, "-o", "link", "show"]);
      expect(links).toContain("ens3");
      expect(links).toContain("eth1");
    }
    expect(Lab.existingNamespaces(prefix)).toHaveLength(6);
  });

  it("carries node-to-node traffic on the internal network", async () => {
    const [a, b] = [lab.nodes[0]!, lab.nodes[1]!];
    await nsRun(a.ns, "ping", ["-c", "1", "-W", "1", b.internalIp]);
  });

  it("serves HTTP from the client through the hand-placed VIP", async () => {
    expect(await waitFor("HTTP via VIP", () => clientGet(lab, VIP))).toBe("master-0");
  });

  const faults: FaultKind[] = ["crash", "freeze", "public-link-down", "sigterm"];
  for (const kind of faults) {
    it(`fault ${kind} on the VIP holder stops its answers, and restore brings them back`, async () => {
      const holder = lab.nodes[0]!;
      await injectFault(lab, holder, kind);
      expect(await clientGet(lab, VIP, 80, 1)).toBeUndefined();
      await restoreNode(lab, holder);
      expect(await waitFor(`answers after ${kind}`, () => clientGet(lab, VIP))).toBe("master-0");
    });
  }

  it("fault partition cuts the node from its peers but not from the client", async () => {
    const holder = lab.nodes[0]!;
    await injectFault(lab, holder, "partition");
    await expect(
      nsRun(holder.ns, "ping", ["-c", "1", "-W", "1", lab.nodes[1]!.internalIp]),
    ).rejects.toThrow();
    expect(await clientGet(lab, VIP)).toBe("master-0");
    await restoreNode(lab, holder);
    await waitFor("internal network back", () =>
      nsRun(holder.ns, "ping", ["-c", "1", "-W", "1", lab.nodes[1]!.internalIp]).then(() => true),
    );
  });

  it("freeze stops the node's processes (state T) and restore continues them", async () => {
    const holder = lab.nodes[0]!;
    const backend = lab.latest(`backend-${holder.name}`)!;
    await injectFault(lab, holder, "freeze");
    const pids = (await run("ip", ["netns", "pids", holder.ns])).split(/\s+/).filter(Boolean);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) {
      const stat = await run("cat", [`/proc/${pid}/stat`]);
      expect(stat.split(") ")[1]?.[0]).toBe("T");
    }
    await restoreNode(lab, holder);
    expect(lab.latest(`backend-${holder.name}`)).toBe(backend);
  });

  it("moves the VIP by hand to another node and the client follows the gratuitous ARP", async () => {
    await releaseByHand(lab.nodes[0]!);
    await claimByHand(lab.nodes[1]!);
    expect(
      await waitFor("answers from master-1", async () => (await clientGet(lab, VIP)) === "master-1"),
    ).toBe(true);
  });

  it("tears everything down", async () => {
    await c.destroy();
    expect(Lab.existingNamespaces(prefix)).toEqual([]);
  });
});
