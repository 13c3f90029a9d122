import { existsSync, readdirSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { kubeBinaries, type KubeBinaries } from "./binaries.js";
import { generateCerts, type ControlPlaneCerts } from "./certs.js";
import { sleep } from "../src/common/wait.js";
import { freePort, startManaged, type ManagedProcess } from "./process.js";

export interface ControlPlaneOptions {
  /** Extra IP SANs for the serving certificate (the lab reaches the API server through a relay address). */
  extraIps?: string[];
  /** Streams progress lines (build, start) to the caller. */
  progress?: (line: string) => void;
  /** Cluster IP ranges; the default (a /24 and a /112) is too small for 10,000-Service benchmarks. */
  serviceClusterIpRange?: string;
  /** etcd's storage quota, for benchmarks that store more than the 2 GiB default. */
  etcdQuotaBackendBytes?: number;
}

/** A client identity from the control plane's PKI. */
export type KubeconfigUser = "admin" | "kube-proxy";

export interface ControlPlane {
  dir: string;
  port: number;
  server: string;
  kubeconfigPath: string;
  certs: ControlPlaneCerts;
  binaries: KubeBinaries;
  /** Kubeconfig text for another server URL (e.g. the lab relay); admin unless `user` says otherwise. */
  kubeconfigFor(server: string, user?: KubeconfigUser): Promise<string>;
  /** Stops only the API server (etcd keeps the data), to test outages. */
  stopApiServer(): Promise<void>;
  /** Process ids of etcd and the current kube-apiserver (benchmarks read their CPU time). */
  pids(): { etcd: number; apiserver: number };
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

const DIR_PREFIX = "floatip-testenv-";

/**
 * Removes directories `<prefix><pid>-*` of earlier runs whose owning process is gone (a crashed or
 * killed test run). The control plane's and the lab cluster's own.
 */
export function sweepDeadRunDirs(prefix = DIR_PREFIX): void {
  for (const name of readdirSync(tmpdir())) {
    const match = new RegExp(`^${prefix}(\\d+)-`).exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts etcd and kube-apiserver on loopback with free ports and a fresh PKI, as envtest does,
 * waits for /readyz, and writes an admin kubeconfig. Everything is removed by stop(), and
 * by process exit handlers / parent-death signals if the test run dies first.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const progress = options.progress ?? (() => {});
  sweepDeadRunDirs();
  progress("locating kube-apiserver and etcd (first run builds them from Go modules)");
  const binaries = await kubeBinaries();
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const processes: ManagedProcess[] = [];
  const emergencyCleanup = () => {
    for (const p of processes) p.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", emergencyCleanup);

  try {
    progress("generating certificates");
    const certs = await generateCerts(dir, options.extraIps);
    const [etcdClient, etcdPeer, port] = [await freePort(), await freePort(), await freePort()];

    progress("starting etcd");
    const etcd = startManaged(
      "etcd",
      binaries.etcd,
      [
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync",
        ...(options.etcdQuotaBackendBytes ? [`--quota-backend-bytes=${options.etcdQuotaBackendBytes}`] : []),
        "--log-level=warn",
      ],
      join(dir, "etcd.log"),
    );
    processes.push(etcd);

    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${dir}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.caCert}`,
      "--authorization-mode=RBAC",
      "--allow-privileged=true",
      // Cluster IPs come from documentation ranges (dual-stack): they are never routed, only allocated.
      `--service-cluster-ip-range=${options.serviceClusterIpRange ?? "192.0.2.0/24,2001:db8:ffff::/112"}`,
      `--service-account-key-file=${certs.serviceAccountPub}`,
      `--service-account-signing-key-file=${certs.serviceAccountKey}`,
      "--service-account-issuer=https://kubernetes.default.svc",
      "--disable-admission-plugins=ServiceAccount",
      "--enable-priority-and-fairness=false",
      "--v=0",
    ];
    let apiserver: ManagedProcess | undefined;
    const startApiServer = async () => {
      progress("starting kube-apiserver");
      apiserver = startManaged(
        "kube-apiserver",
        binaries.kubeApiserver,
        apiserverArgs,
        join(dir, "apiserver.log"),
      );
      processes.push(apiserver);
      await waitReady(port, certs, apiserver, dir);
    };
    await startApiServer();

    const server = `https://127.0.0.1:${port}`;
    const kubeconfigFor = async (url: string, user: KubeconfigUser = "admin") =>
      kubeconfigText(url, certs, user);
    const kubeconfigPath = join(dir, "kubeconfig");
    await writeFile(kubeconfigPath, await kubeconfigFor(server), { mode: 0o600 });
    progress(`kube-apiserver ready at ${server}`);

    return {
      dir,
      port,
      server,
      kubeconfigPath,
      certs,
      binaries,
      kubeconfigFor,
      pids: () => ({ etcd: etcd.child.pid ?? 0, apiserver: apiserver?.child.pid ?? 0 }),
      async stopApiServer() {
        await apiserver?.stop();
      },
      startApiServer,
      async stop() {
        for (const p of [...processes].reverse()) await p.stop();
        process.removeListener("exit", emergencyCleanup);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const p of [...processes].reverse()) await p.stop(2000);
    process.removeListener("exit", emergencyCleanup);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function kubeconfigText(
  server: string,
  certs: ControlPlaneCerts,
  user: KubeconfigUser,
): Promise<string> {
  const b64 = async (path: string) => Buffer.from(await readFile(path)).toString("base64");
  const [cert, key] =
    user === "kube-proxy" ? [certs.kubeProxyCert, certs.kubeProxyKey] : [certs.adminCert, certs.adminKey];
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "floatip-test", cluster: { server, "certificate-authority-data": await b64(certs.caCert) } },
    ],
    users: [
      {
        name: user,
        user: { "client-certificate-data": await b64(cert), "client-key-data": await b64(key) },
      },
    ],
    contexts: [{ name: "floatip-test", context: { cluster: "floatip-test", user, namespace: "default" } }],
    "current-context": "floatip-test",
  });
}

async function waitReady(
  port: number,
  certs: ControlPlaneCerts,
  proc: ManagedProcess,
  dir: string,
): Promise<void> {
  const [ca, cert, key] = await Promise.all(
    [certs.caCert, certs.adminCert, certs.adminKey].map((p) => readFile(p)),
  );
  const deadline = performance.now() + 120_000;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (performance.now() < deadline) {
    if (exited) {
      const log = existsSync(join(dir, "apiserver.log"))
        ? await readFile(join(dir, "apiserver.log"), "utf8")
        : "";
      throw new Error(`kube-apiserver exited during start-up:\n${log.slice(-3000)}`);
    }
    const status = await new Promise<number>((resolve) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/readyz", ca, cert, key, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", () => resolve(0));
      req.on("timeout", () => req.destroy());
      req.end();
    });
    if (status === 200) return;
    await sleep(200);
  }
  throw new Error("kube-apiserver did not become ready within 120 s");
}
