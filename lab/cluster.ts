import * as k8s from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../testenv/binaries.js";
import { startControlPlane, sweepDeadRunDirs, type ControlPlane } from "../testenv/controlplane.js";
import { installCrds } from "../testenv/kubectl.js";
import { startManaged, type ManagedProcess } from "../testenv/process.js";
import { API_RELAY_IP, API_RELAY_PORT } from "./addresses.js";
import { floatipImage, ImageRunner, type ContainerLaunch } from "./image.js";
import { startKubeProxies, type KubeProxyMode } from "./kube-proxy.js";
import { Lab, type LabNode, type LabOptions, type LabProcess } from "./lab.js";

/** The cluster's temporary directory: `<prefix><pid>-*`, swept when its process is gone. */
const DIR_PREFIX = "floatip-labcluster-";

export interface LabClusterOptions extends LabOptions {
  progress?: (line: string) => void;
  /** Extra speaker flags (failover tuning in tests and benchmarks). */
  speakerArgs?: string[];
  lbClass?: string;
  /** The real kube-proxy's mode on every node (default nftables). */
  kubeProxyMode?: KubeProxyMode;
  /**
   * Run the controller and the speakers from floatip's image (testenv/build-image.sh) exactly as
   * the chart's Deployment and DaemonSet say (lab/image.ts), instead of from the source tree.
   * `sets` are extra `helm --set` values; speakerArgs do not apply (set chart values instead).
   */
  image?: { sets?: string[] };
}

/**
 * The lab plus a real API server reachable from every node namespace: kube-apiserver listens on
 * host loopback, a socat relay bridges a Unix socket (the file system is shared across namespaces)
 * to the lab's api namespace at 198.51.100.2:6443 on the internal network. A node cut off from the
 * internal network therefore loses the API server too, as a real partitioned node does. Every node
 * runs the real kube-proxy (user system:kube-proxy, RBAC system:node-proxier), which turns the
 * Services' load-balancer IPs and the EndpointSlices the lab writes into its own rules.
 */
export class LabCluster {
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  /** Kubeconfig the node processes use (server https://198.51.100.2:6443). */
  readonly nodeKubeconfig: string;
  /** One heartbeat key for every speaker of this lab, as the chart's Secret gives a cluster. */
  readonly heartbeatKeyFile: string;
  /** With `image`: how each of the chart's pods starts (speaker-<node>, controller). */
  private readonly pods = new Map<string, ContainerLaunch>();

  private constructor(
    readonly cp: ControlPlane,
    readonly lab: Lab,
    private readonly relay: ManagedProcess,
    private readonly dir: string,
    readonly options: LabClusterOptions,
    /** Removes `dir`; also registered for the process's exit. */
    private readonly removeDir: () => void,
  ) {
    this.kc = new k8s.KubeConfig();
    this.kc.loadFromFile(cp.kubeconfigPath);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.nodeKubeconfig = join(dir, "node-kubeconfig");
    this.heartbeatKeyFile = join(dir, "heartbeat-key");
    writeFileSync(this.heartbeatKeyFile, randomBytes(32), { mode: 0o600 });
  }

  static async create(options: LabClusterOptions = {}): Promise<LabCluster> {
    const progress = options.progress ?? (() => {});
    // The image first: a build that cannot run fails before anything is started.
    if (options.image) {
      progress("floatip's image: finding it, or building it from deploy/Containerfile (minutes when cold)");
      const image = await floatipImage((l) => progress(`  ${l}`));
      progress(`floatip's image: ${image.name}`);
    }
    const cp = await startControlPlane({ extraIps: [API_RELAY_IP], progress });
    sweepDeadRunDirs(DIR_PREFIX);
    const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    // Kubeconfigs and the heartbeat key live here: gone on any exit, a signal's included (lab.ts
    // exits through process.exit, which runs this).
    const removeDir = () => rmSync(dir, { recursive: true, force: true });
    process.once("exit", removeDir);
    const socket = join(dir, "apiserver.sock");
    const relay = startManaged(
      "api-relay-host",
      "socat",
      [`UNIX-LISTEN:${socket},fork,mode=600`, `TCP:127.0.0.1:${cp.port}`],
      join(dir, "relay.log"),
    );
    let lab: Lab | undefined;
    try {
      progress("creating network namespaces, bridges and links");
      lab = await Lab.create({ ...options, apiSocket: socket });
      const cluster = new LabCluster(cp, lab, relay, dir, options, removeDir);
      writeFileSync(
        cluster.nodeKubeconfig,
        await cp.kubeconfigFor(`https://${API_RELAY_IP}:${API_RELAY_PORT}`),
        { mode: 0o600 },
      );
      progress("installing CRDs and registering nodes");
      await installCrds(cp, [join(repoRoot(), "deploy", "crds")]);
      await cluster.core.createNamespace({ body: { metadata: { name: "metallb-system" } } });
      const allNodes = [...lab.nodes, ...lab.workers];
      for (const node of allNodes) await cluster.registerNode(node);
      if (options.image) await cluster.prepareImage(options.image.sets ?? [], progress);
      const mode = options.kubeProxyMode ?? "nftables";
      progress(`starting kube-proxy (${mode} mode) on every node`);
      const proxyKubeconfig = join(dir, "kube-proxy-kubeconfig");
      writeFileSync(
        proxyKubeconfig,
        await cp.kubeconfigFor(`https://${API_RELAY_IP}:${API_RELAY_PORT}`, "kube-proxy"),
        { mode: 0o600 },
      );
      await startKubeProxies(lab, allNodes, {
        binary: cp.binaries.kubeProxy,
        kubeconfig: proxyKubeconfig,
        mode,
        dir,
      });
      return cluster;
    } catch (err) {
      await lab?.destroy();
      await relay.stop();
      await cp.stop();
      removeDir();
      process.removeListener("exit", removeDir);
      throw err;
    }
  }

  /** A Node object as a dual-stack kubelet would register it: addresses, hostname, role labels, Ready. */
  private async registerNode(node: LabNode): Promise<void> {
    const labels: Record<string, string> = {
      "kubernetes.io/hostname": node.name,
      "kubernetes.io/os": "linux",
    };
    if (node.role === "control-plane") labels["node-role.kubernetes.io/control-plane"] = "";
    await this.core.createNode({ body: { metadata: { name: node.name, labels } } });
    const addresses = [
      { type: "InternalIP", address: node.internalIp },
      { type: "InternalIP", address: node.internalIp6 },
    ];
    if (node.publicIp) addresses.push({ type: "ExternalIP", address: node.publicIp });
    addresses.push({ type: "Hostname", address: node.name });
    await this.core.patchNodeStatus(
      {
        name: node.name,
        body: {
          status: {
            addresses,
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "KubeletReady",
                message: "lab node",
                lastHeartbeatTime: new Date(),
              },
            ],
          },
        },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  }

  /** Installs the chart's objects for the image and prepares each pod's launch (tokens, volumes). */
  private async prepareImage(sets: string[], progress: (line: string) => void): Promise<void> {
    if (this.options.speakerArgs?.length)
      throw new Error("speakerArgs do not apply to the image: use chart values");
    progress("installing the chart's ServiceAccounts, RBAC and heartbeat Secret for floatip's image");
    const cls = this.options.lbClass ? [`loadBalancerClass=${this.options.lbClass}`] : [];
    const runner = await ImageRunner.prepare(this.cp, join(this.dir, "image"), "metallb-system", [
      ...cls,
      ...sets,
    ]);
    for (const node of this.lab.nodes) {
      // hostNetwork: the pod IP is the node's (IPv4) InternalIP.
      const fields = { "spec.nodeName": node.name, "status.podIP": node.internalIp };
      this.pods.set(
        `speaker-${node.name}`,
        await runner.launch(runner.chart.speaker, `speaker-${node.name}`, fields),
      );
    }
    this.pods.set(
      "controller",
      await runner.launch(runner.chart.controller, "controller", { "spec.nodeName": "api" }),
    );
  }

  /** Command line that runs the floatip CLI from source inside a namespace. */
  static cli(): string[] {
    return ["--import", "tsx", join(repoRoot(), "src", "cli", "main.ts")];
  }

  startSpeaker(node: LabNode, extraArgs: string[] = []): LabProcess {
    const pod = this.pods.get(`speaker-${node.name}`);
    if (pod) {
      if (extraArgs.length) throw new Error("extra speaker args do not apply to the image: use chart values");
      return this.lab.startOnNode(node, `speaker-${node.name}`, pod.cmd, pod.args, pod.env);
    }
    const args = [
      ...LabCluster.cli(),
      "speaker",
      "--kubeconfig",
      this.nodeKubeconfig,
      "--node-name",
      node.name,
      // Where the chart's default (InternalIP:7472) listens, so lab/speakers.ts reads either kind.
      "--metrics-address",
      `${node.internalIp}:7472`,
      "--heartbeat-key-file",
      this.heartbeatKeyFile,
      ...(this.options.lbClass ? ["--lb-class", this.options.lbClass] : []),
      // The lab's tests and demo expect MetalLB's behaviour (a restored node takes the IP back);
      // `speakerArgs: ["--ownership", "sticky"]` (later flags win) tests the product default.
      "--ownership",
      "strict",
      ...(this.options.speakerArgs ?? []),
      ...extraArgs,
    ];
    return this.lab.startOnNode(node, `speaker-${node.name}`, process.execPath, args);
  }

  startController(): LabProcess {
    const pod = this.pods.get("controller");
    // The controller is a Deployment: it runs in the api namespace so node faults don't take it down.
    if (pod) return this.lab.spawn(this.lab.apiNs, undefined, "controller", pod.cmd, pod.args, pod.env);
    const args = [
      ...LabCluster.cli(),
      "controller",
      "--kubeconfig",
      this.nodeKubeconfig,
      "--metrics-address",
      "127.0.0.1:7473",
      ...(this.options.lbClass ? ["--lb-class", this.options.lbClass] : []),
    ];
    // The controller is a Deployment: it runs in the api namespace so node faults don't take it down.
    return this.lab.spawn(this.lab.apiNs, undefined, "controller", process.execPath, args);
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
    await this.relay.stop();
    await this.cp.stop();
    this.removeDir();
    process.removeListener("exit", this.removeDir);
  }
}
