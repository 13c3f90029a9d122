// What the real kube-proxy (nftables mode) does with packets to a load-balancer IP in the lab, as
// lab/README.md describes it. No speakers: the client's neighbour entry picks the node by hand.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackends } from "../../lab/backends.js";
import { LabCluster } from "../../lab/cluster.js";
import { clientGet } from "../../lab/http.js";
import type { LabNode } from "../../lab/lab.js";
import { applySeed, assignStatus } from "../../lab/seed.js";
import { nsRun } from "../../lab/sh.js";
import { waitFor } from "../../src/common/wait.js";

const CLUSTER_VIP = "203.0.113.50";
const LOCAL_VIP = "203.0.113.51";

/** A Python client in the client namespace: connect, wait for a line on stdin, send a request, report. */
const MID_FLOW_CLIENT = (vip: string) => `import socket, sys
s = socket.create_connection(("${vip}", 80), timeout=3)
print("connected", flush=True)
sys.stdin.readline()
try:
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: lab\\r\\n\\r\\n")
    print("reply", s.recv(200)[:40], flush=True)
except Exception as e:
    print("error", type(e).__name__, flush=True)
`;

describe("the real kube-proxy in the lab (nftables mode)", () => {
  let c: LabCluster;
  let m0: LabNode, m1: LabNode, m2: LabNode;

  /** Sends the client's packets for `vip` to `node`, as if that node had answered ARP last. */
  const steer = async (vip: string, node: LabNode) => {
    const link = JSON.parse(await nsRun(node.ns, "ip", ["-j", "link", "show", "ens3"])) as {
      address: string;
    }[];
    await c.lab.client("ip", [
      "neigh",
      "replace",
      vip,
      "lladdr",
      link[0]!.address,
      "dev",
      "eth0",
      "nud",
      "permanent",
    ]);
  };

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1 });
    [m0, m1, m2] = c.lab.nodes as [LabNode, LabNode, LabNode];
    const eps = await startBackends(c.lab, [c.lab.workers[0]!, m1, m2]);
    const cluster = await applySeed(c.kc, {
      ips: [CLUSTER_VIP],
      endpoints: eps.filter((e) => e.node === "worker-0"),
    });
    await assignStatus(c.kc, cluster.namespace, cluster.name, [CLUSTER_VIP], "envoy-gateway-pool");
    const local = await applySeed(c.kc, {
      ips: [LOCAL_VIP],
      poolName: "local-pool",
      serviceName: "envoy-local",
      externalTrafficPolicy: "Local",
      endpoints: eps.filter((e) => e.node !== "worker-0"),
    });
    await assignStatus(c.kc, local.namespace, local.name, [LOCAL_VIP], "local-pool");
  });

  afterAll(async () => {
    await c?.destroy();
  });

  it("externalTrafficPolicy Cluster: DNAT to the endpoint and masquerade from the receiving node", async () => {
    for (const node of [m0, m2]) {
      await steer(CLUSTER_VIP, node);
      expect(await waitFor(`answer via ${node.name}`, () => clientGet(c.lab, CLUSTER_VIP), 20_000)).toBe(
        `worker-0 via ${node.name}`,
      );
    }
  });

  it("externalTrafficPolicy Local: the local endpoint, client address kept; dropped on a node without one", async () => {
    await steer(LOCAL_VIP, m1);
    expect(await waitFor("local answer", () => clientGet(c.lab, LOCAL_VIP), 20_000)).toBe("master-1");
    await steer(LOCAL_VIP, m0);
    expect(await clientGet(c.lab, LOCAL_VIP, 80, 2)).toBeUndefined();
    const ruleset = await nsRun(m0.ns, "nft", ["list", "map", "ip", "kube-proxy", "no-endpoint-services"]);
    expect(ruleset).toMatch(new RegExp(`${LOCAL_VIP.replaceAll(".", "\\.")} \\. tcp \\. 80 .*: drop`));
  });

  it("answers the health-check node port with 200 where a local endpoint is, 503 elsewhere", async () => {
    const svc = await c.core.readNamespacedService({
      name: "envoy-local",
      namespace: "envoy-gateway-system",
    });
    const port = svc.spec?.healthCheckNodePort;
    expect(port).toBeGreaterThan(0);
    const status = async (node: LabNode) =>
      (
        await nsRun(c.lab.workers[0]!.ns, "curl", [
          "-s",
          "-o",
          "/dev/null",
          "-m",
          "2",
          "-w",
          "%{http_code}",
          `http://${node.internalIp}:${port}/`,
        ])
      ).trim();
    expect([await status(m0), await status(m1), await status(m2)]).toEqual(["503", "200", "200"]);
  });

  const midFlow = async (vip: string, from: LabNode, to: LabNode): Promise<string> => {
    await steer(vip, from);
    const child = spawn("ip", ["netns", "exec", c.lab.clientNs, "python3", "-c", MID_FLOW_CLIENT(vip)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.on("exit", r));
    await waitFor("connected", () => out.includes("connected"), 10_000);
    await steer(vip, to);
    child.stdin.end("go\n");
    await exited;
    return out.split("\n").find((l) => l.startsWith("reply") || l.startsWith("error")) ?? out;
  };

  it("picks up a mid-flow segment on another node as a new connection: Cluster and Local reset it", async () => {
    expect(await midFlow(CLUSTER_VIP, m0, m1)).toBe("error ConnectionResetError");
    expect(await midFlow(LOCAL_VIP, m1, m2)).toBe("error ConnectionResetError");
  });

  it("drops a mid-flow segment for Local on a node without a local endpoint (the client times out)", async () => {
    expect(await midFlow(LOCAL_VIP, m1, m0)).toBe("error TimeoutError");
  });
});
