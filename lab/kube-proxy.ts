import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Lab, LabNode, LabProcess } from "./lab.js";
import { nsRun } from "./sh.js";
import { readyOrExit } from "./startup.js";
import { waitFor } from "../src/common/wait.js";

/** kube-proxy's two Linux modes the lab runs; nftables is the default (ipvs is deprecated). */
export type KubeProxyMode = "nftables" | "iptables";

export const KUBE_PROXY_HEALTHZ_PORT = 10256;

/**
 * kube-proxy's configuration for one lab node. Everything kube-proxy would otherwise change outside
 * the node's network namespace is switched off: conntrack table size (a global module parameter) and
 * conntrack timeouts are left as they are, and the OOM score is not lowered. Health checks (its
 * own and the Services' health-check node ports) listen on the node's addresses only.
 */
export function kubeProxyConfig(node: LabNode, mode: KubeProxyMode, kubeconfig: string): object {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig },
    hostnameOverride: node.name,
    mode,
    healthzBindAddress: `${node.internalIp}:${KUBE_PROXY_HEALTHZ_PORT}`,
    metricsBindAddress: "127.0.0.1:10249",
    nodePortAddresses: ["primary"],
    oomScoreAdj: 0,
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: "0s",
      tcpCloseWaitTimeout: "0s",
      udpTimeout: "0s",
      udpStreamTimeout: "0s",
    },
  };
}

/** Whether kube-proxy on the node has synced its rules once (its /healthz answers 200). */
export async function kubeProxyHealthy(node: LabNode): Promise<boolean> {
  try {
    await nsRun(node.ns, "curl", [
      "-sSf",
      "-m",
      "1",
      `http://${node.internalIp}:${KUBE_PROXY_HEALTHZ_PORT}/healthz`,
    ]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the real kube-proxy (built by testenv/build-k8s.sh) on every node as the node's own
 * process, so faults kill and `restoreNode` restarts it like a DaemonSet pod; waits until each has
 * synced. A kube-proxy that exits during start-up fails this with the end of its log.
 */
export async function startKubeProxies(
  lab: Lab,
  nodes: LabNode[],
  opts: { binary: string; kubeconfig: string; mode: KubeProxyMode; dir: string },
): Promise<LabProcess[]> {
  const procs = nodes.map((node) => {
    const config = join(opts.dir, `kube-proxy-${node.name}.yaml`);
    writeFileSync(config, stringify(kubeProxyConfig(node, opts.mode, opts.kubeconfig)), { mode: 0o600 });
    return lab.startOnNode(node, `kube-proxy-${node.name}`, opts.binary, ["--config", config]);
  });
  for (const [i, node] of nodes.entries()) {
    const proc = procs[i]!;
    await readyOrExit(
      proc,
      `kube-proxy on ${node.name}`,
      waitFor(
        `kube-proxy (${opts.mode}) on ${node.name} to sync (log: ${proc.logFile})`,
        () => kubeProxyHealthy(node),
        60_000,
        200,
      ),
    );
  }
  return procs;
}
