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
import type { LabProcess } from "./lab.js";
import { nsRun } from "./sh.js";
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

export const EG_HEALTH_PORT = 8081;

/** The ServiceAccount Envoy Gateway's chart runs the controller as. */
export const EG_SERVICE_ACCOUNT = "envoy-gateway";

/**
 * The real Envoy Gateway controller, run in the lab's api namespace (so its listeners — xDS 18000,
 * health 8081, metrics 19001 — exist only there) against the API server through the lab relay,
 * with the least privilege its own Helm chart grants: the chart's ServiceAccount, ClusterRole, Roles
 * and bindings (rendered by `helm template` from the built version's gateway-helm chart), and a
 * token of that ServiceAccount — not the admin's certificate.
 * It renders the Envoy Service, Deployment, ServiceAccount and ConfigMap for each accepted Gateway;
 * with no kubelet the Envoy pods never run (the lab's backend serves behind EndpointSlices).
 */
export class EnvoyGatewayController {
  private proc: LabProcess | undefined;
  private readonly dir: string;

  constructor(
    private readonly cluster: LabCluster,
    private readonly namespace = "envoy-gateway-system",
  ) {
    this.dir = join(cluster.lab.logDir, "envoy-gateway");
  }

  get logFile(): string | undefined {
    return this.proc?.logFile;
  }

  /** The chart's RBAC for the controller's ServiceAccount, and a kubeconfig with its token. */
  private async credentials(chart: string): Promise<string> {
    const cp = this.cluster.cp;
    await this.cluster.core
      .createNamespace({ body: { metadata: { name: this.namespace } } })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
    const objects = parseObjects(
      await helmTemplate(cp.binaries.helm, chart, "eg", this.namespace, ["crds.enabled=false"]),
    );
    await applyObjects(cp, rbacFor(objects, this.namespace, EG_SERVICE_ACCOUNT));
    const token = await serviceAccountToken(cp, this.namespace, EG_SERVICE_ACCOUNT);
    const kubeconfig = join(this.dir, "kubeconfig");
    const server = `https://${API_RELAY_IP}:${API_RELAY_PORT}`;
    const ca = readFileSync(cp.certs.caCert).toString("base64");
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "lab", cluster: { server, "certificate-authority-data": ca } }],
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
    const lab = this.cluster.lab;
    const certs = join(this.dir, "certs");
    const root = join(this.dir, "root");
    mkdirSync(certs, { recursive: true });
    mkdirSync(root, { recursive: true });
    const kubeconfig = await this.credentials(chart);
    await execFileAsync("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-subj", "/CN=envoy-gateway", "-days", "2", "-addext", "subjectAltName=DNS:envoy-gateway"],
      ...["-keyout", join(certs, "tls.key"), "-out", join(certs, "tls.crt")],
    ]);
    writeFileSync(join(certs, "ca.crt"), readFileSync(join(certs, "tls.crt")));
    const config = join(this.dir, "envoy-gateway.yaml");
    writeFileSync(
      config,
      stringify({
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "EnvoyGateway",
        gateway: { controllerName: "gateway.envoyproxy.io/gatewayclass-controller" },
        provider: { type: "Kubernetes", kubernetes: { proxyTopologyInjector: { disabled: true } } },
        logging: { level: { default: "info" } },
      }),
    );
    this.proc = lab.spawn(
      lab.apiNs,
      undefined,
      "envoy-gateway",
      "unshare",
      [
        ...["--mount", "--propagation", "private", "sh", "-c", CHROOT_SCRIPT, "eg-root"],
        ...[root, certs, dirname(binary), binary, "server", `--config-path=${config}`],
      ],
      { ...process.env, KUBECONFIG: kubeconfig, ENVOY_GATEWAY_NAMESPACE: this.namespace },
    );
    await readyOrExit(
      this.proc,
      "Envoy Gateway",
      waitFor(`Envoy Gateway ready (log: ${this.proc.logFile})`, () => this.ready(), 90_000, 250),
    );
  }

  private async ready(): Promise<boolean> {
    try {
      await nsRun(this.cluster.lab.apiNs, "curl", [
        "-sSf",
        "-m",
        "1",
        `http://127.0.0.1:${EG_HEALTH_PORT}/readyz`,
      ]);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM, as the kubelet stops the controller's pod; resolves when it has exited. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill("SIGTERM");
    const timer = setTimeout(() => proc.child.kill("SIGKILL"), 15_000);
    await proc.exited;
    clearTimeout(timer);
  }

  /** What restarting the Envoy Gateway controller does: everything is rendered again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
