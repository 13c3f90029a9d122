import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { repoRoot } from "../testenv/binaries.js";
import { applyObjects, serviceAccountToken } from "../testenv/kubectl.js";
import { API_RELAY_IP, API_RELAY_PORT } from "./addresses.js";
import { helmTemplate, parseObjects, rbacFor } from "./chart-pods.js";
import type { LabCluster } from "./cluster.js";
import type { ControlPlane } from "../testenv/controlplane.js";
import { startManaged, type ManagedProcess } from "../testenv/process.js";
import type * as k8s from "@kubernetes/client-node";
import type { LabProcess } from "./lab.js";
import { nsRun, run } from "./sh.js";
import { readyOrExit } from "./startup.js";
import { waitFor } from "../src/common/wait.js";

const execFileAsync = promisify(execFile);

export interface EnvoyGatewayBuild {
  binary: string;
  /** Gateway API (standard channel) and Envoy Gateway CRDs of the same version. */
  crds: string;
  /** Envoy Gateway's own Helm chart (gateway-helm) of the same version: the controller's RBAC. */
  chart: string;
}

let build: Promise<EnvoyGatewayBuild> | undefined;

/** Builds (first time, minutes) or finds the pinned Envoy Gateway controller (testenv/build-eg.sh). */
export function envoyGatewayBuild(): Promise<EnvoyGatewayBuild> {
  build ??= execFileAsync(join(repoRoot(), "testenv", "build-eg.sh"), [], { maxBuffer: 64 * 1024 * 1024 })
    .then(({ stdout }) => {
      const root = stdout.trim().split("\n").pop() ?? "";
      return {
        binary: join(root, "bin", "envoy-gateway"),
        crds: join(root, "crds"),
        chart: join(root, "chart"),
      };
    })
    .catch((err: unknown) => {
      const stderr = (err as { stderr?: string }).stderr ?? String(err);
      throw new Error(`building Envoy Gateway failed (testenv/build-eg.sh):\n${stderr.slice(-4000)}`);
    });
  return build;
}

/**
 * Envoy Gateway's Kubernetes provider reads its xDS certificates from the fixed path /certs. Rather
 * than write to the host's root, the controller runs in a private mount namespace whose root is a
 * tmpfs holding bind mounts of the system directories, the binary, the lab's temp files and
 * /certs. Everything disappears with the process.
 */
const CHROOT_SCRIPT = `set -e
root=$1; certs=$2; bindir=$3; shift 3
mount -t tmpfs -o mode=755 eg-root "$root"
for d in /usr /lib /lib64 /bin /sbin /etc /dev /proc /sys /tmp "$bindir"; do
  [ -e "$d" ] || continue
  if [ -L "$d" ]; then ln -s "$(readlink "$d")" "$root$d"; continue; fi
  mkdir -p "$root$d"
  mount --rbind "$d" "$root$d"
done
mkdir "$root/certs"
mount --bind "$certs" "$root/certs"
exec chroot "$root" "$@"
`;

/**
 * On a bare API server (no lab) the controller gets a network namespace of its own (`unshare
 * --net`), so its fixed listeners (xDS 18000, health 8081, admin 19000, metrics 19001) never meet
 * the host's or another run's. Inside it a socat on loopback forwards to a Unix socket that a socat
 * in the root namespace relays to the API server (the file system is shared across namespaces).
 * The inner socat dies with the controller (parent-death signal); the outer one is stopped with it.
 */
const NET_SCRIPT = `set -e
sock=$1; port=$2; shift 2
ip link set lo up
setpriv --pdeathsig KILL -- socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$sock" &
exec "$@"
`;

export const EG_HEALTH_PORT = 8081;

/** The ServiceAccount Envoy Gateway's chart runs the controller as. */
export const EG_SERVICE_ACCOUNT = "envoy-gateway";

/** Where the controller runs: the lab's api namespace, or a namespace of its own on a bare API server. */
interface Placement {
  cp: ControlPlane;
  core: k8s.CoreV1Api;
  /** Its files: kubeconfig, config, certificates, the chroot's mount point. */
  dir: string;
  /** The API server's URL as the controller reaches it. */
  server: string;
  /** Starts `unshare <args>` with `env`. */
  spawn(args: string[], env: NodeJS.ProcessEnv): Promise<LabProcess>;
  /** Runs a command in the controller's network namespace. */
  probe(proc: LabProcess, cmd: string, args: string[]): Promise<unknown>;
  /** Stops what spawn started besides the controller. */
  cleanup(): Promise<void>;
  /** Leader election as the chart runs it; off where one controller only ever runs. */
  leaderElection: boolean;
}

function labPlacement(cluster: LabCluster): Placement {
  const lab = cluster.lab;
  return {
    cp: cluster.cp,
    core: cluster.core,
    dir: join(lab.logDir, "envoy-gateway"),
    server: `https://${API_RELAY_IP}:${API_RELAY_PORT}`,
    spawn: async (args, env) => lab.spawn(lab.apiNs, undefined, "envoy-gateway", "unshare", args, env),
    probe: (_proc, cmd, args) => nsRun(lab.apiNs, cmd, args),
    cleanup: async () => {},
    leaderElection: true,
  };
}

function apiServerPlacement(cp: ControlPlane, core: k8s.CoreV1Api): Placement {
  const dir = join(cp.dir, "envoy-gateway");
  const sock = join(dir, "apiserver.sock");
  let relay: ManagedProcess | undefined;
  return {
    cp,
    core,
    dir,
    server: `https://127.0.0.1:${cp.port}`,
    spawn: async (args, env) => {
      relay ??= startManaged(
        "envoy-gateway-api-relay",
        "socat",
        [`UNIX-LISTEN:${sock},fork,mode=600`, `TCP:127.0.0.1:${cp.port}`],
        join(dir, "relay.log"),
      );
      const logFile = join(dir, "envoy-gateway.log");
      // startManaged passes its own environment: the controller's two variables go through env(1).
      const vars = Object.entries(env)
        .filter(([k]) => k === "KUBECONFIG" || k === "ENVOY_GATEWAY_NAMESPACE")
        .map(([k, v]) => `${k}=${v ?? ""}`);
      const net = ["--net", "sh", "-c", NET_SCRIPT, "eg-net", sock, String(cp.port), "unshare"];
      const proc = startManaged("envoy-gateway", "env", [...vars, "unshare", ...net, ...args], logFile);
      return { name: proc.name, node: undefined, ns: "", child: proc.child, exited: proc.exited, logFile };
    },
    // setpriv, env, unshare and sh exec in turn: the child's pid is the process in the namespace.
    probe: (proc, cmd, args) => run("nsenter", ["-t", String(proc.child.pid), "-n", cmd, ...args]),
    cleanup: async () => {
      await relay?.stop();
      relay = undefined;
    },
    // The stopped controller does not release its lease: with leader election a restart would wait
    // ~18 s for it to expire (measured), which the API-only tests' restarts need not pay.
    leaderElection: false,
  };
}

/**
 * The real Envoy Gateway controller, with the least privilege its own Helm chart grants: the chart's
 * ServiceAccount, ClusterRole, Roles and bindings (rendered by `helm template` from the built
 * version's gateway-helm chart), and a token of that ServiceAccount — not the admin's certificate.
 * In the lab it runs in the api namespace (its listeners exist only there) and reaches the API
 * server through the lab relay; `onApiServer` runs it next to a bare test API server instead.
 * It renders the Envoy Service, Deployment, ServiceAccount and ConfigMap for each accepted Gateway;
 * with no kubelet the Envoy pods never run (the lab's backend serves behind EndpointSlices).
 */
export class EnvoyGatewayController {
  private proc: LabProcess | undefined;
  private readonly at: Placement;

  constructor(
    cluster: LabCluster | { placement: Placement },
    private readonly namespace = "envoy-gateway-system",
  ) {
    this.at = "placement" in cluster ? cluster.placement : labPlacement(cluster);
  }

  /** The controller next to a test API server without the network lab (test/support/cluster.ts). */
  static onApiServer(cp: ControlPlane, core: k8s.CoreV1Api, namespace?: string): EnvoyGatewayController {
    return new EnvoyGatewayController({ placement: apiServerPlacement(cp, core) }, namespace);
  }

  get logFile(): string | undefined {
    return this.proc?.logFile;
  }

  /** Everything the controller has logged so far (all its runs), "" before the first start. */
  log(): string {
    return this.proc ? readFileSync(this.proc.logFile, "utf8") : "";
  }

  /** The chart's RBAC for the controller's ServiceAccount, and a kubeconfig with its token. */
  private async credentials(chart: string): Promise<string> {
    const { cp, core } = this.at;
    await core.createNamespace({ body: { metadata: { name: this.namespace } } }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
    const objects = parseObjects(
      await helmTemplate(cp.binaries.helm, chart, "eg", this.namespace, ["crds.enabled=false"]),
    );
    await applyObjects(cp, rbacFor(objects, this.namespace, EG_SERVICE_ACCOUNT));
    const token = await serviceAccountToken(cp, this.namespace, EG_SERVICE_ACCOUNT);
    const kubeconfig = join(this.at.dir, "kubeconfig");
    const ca = readFileSync(cp.certs.caCert).toString("base64");
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "lab", cluster: { server: this.at.server, "certificate-authority-data": ca } }],
        users: [{ name: EG_SERVICE_ACCOUNT, user: { token } }],
        contexts: [
          { name: "lab", context: { cluster: "lab", user: EG_SERVICE_ACCOUNT, namespace: this.namespace } },
        ],
        "current-context": "lab",
      }),
      { mode: 0o600 },
    );
    return kubeconfig;
  }

  async start(): Promise<void> {
    const { binary, chart } = await envoyGatewayBuild();
    const dir = this.at.dir;
    const certs = join(dir, "certs");
    const root = join(dir, "root");
    mkdirSync(certs, { recursive: true });
    mkdirSync(root, { recursive: true });
    const kubeconfig = await this.credentials(chart);
    await execFileAsync("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-subj", "/CN=envoy-gateway", "-days", "2", "-addext", "subjectAltName=DNS:envoy-gateway"],
      ...["-keyout", join(certs, "tls.key"), "-out", join(certs, "tls.crt")],
    ]);
    writeFileSync(join(certs, "ca.crt"), readFileSync(join(certs, "tls.crt")));
    const config = join(dir, "envoy-gateway.yaml");
    writeFileSync(
      config,
      stringify({
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "EnvoyGateway",
        gateway: { controllerName: "gateway.envoyproxy.io/gatewayclass-controller" },
        provider: {
          type: "Kubernetes",
          kubernetes: {
            proxyTopologyInjector: { disabled: true },
            ...(this.at.leaderElection ? {} : { leaderElection: { disable: true } }),
          },
        },
        logging: { level: { default: "info" } },
      }),
    );
    const proc = await this.at.spawn(
      [
        ...["--mount", "--propagation", "private", "sh", "-c", CHROOT_SCRIPT, "eg-root"],
        ...[root, certs, dirname(binary), binary, "server", `--config-path=${config}`],
      ],
      { ...process.env, KUBECONFIG: kubeconfig, ENVOY_GATEWAY_NAMESPACE: this.namespace },
    );
    this.proc = proc;
    await readyOrExit(
      proc,
      "Envoy Gateway",
      waitFor(`Envoy Gateway ready (log: ${proc.logFile})`, () => this.ready(proc), 90_000, 250),
    );
  }

  private async ready(proc: LabProcess): Promise<boolean> {
    try {
      await this.at.probe(proc, "curl", ["-sSf", "-m", "1", `http://127.0.0.1:${EG_HEALTH_PORT}/readyz`]);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM, as the kubelet stops the controller's pod; resolves when it has exited. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill("SIGTERM");
      const timer = setTimeout(() => proc.child.kill("SIGKILL"), 15_000);
      await proc.exited;
      clearTimeout(timer);
    }
    await this.at.cleanup();
  }

  /** What restarting the Envoy Gateway controller does: everything is rendered again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
