import * as k8s from "@kubernetes/client-node";
import { KubeApi } from "../../src/kube/api.js";
import { loadConnection } from "../../src/kube/connection.js";
import {
  startControlPlane,
  type ControlPlane,
  type ControlPlaneOptions,
} from "../../testenv/controlplane.js";

export interface TestCluster {
  cp: ControlPlane;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
}

/** Starts a private control plane for one test file. */
export async function startTestCluster(options: ControlPlaneOptions = {}): Promise<TestCluster> {
  const cp = await startControlPlane(options);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  return { cp, kc, core: kc.makeApiClient(k8s.CoreV1Api) };
}

/** floatip's own client for the cluster (what the commands use); close it when done. */
export async function kubeApiFor(cluster: TestCluster): Promise<KubeApi> {
  return new KubeApi(await loadConnection(cluster.cp.kubeconfigPath));
}

/** The API server's message from a client-node error (the tests' client), else the error text. */
export function apiErrorMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  if (typeof e.body === "string") {
    try {
      return (JSON.parse(e.body) as { message?: string }).message ?? e.body;
    } catch {
      return e.body;
    }
  }
  if (e.body && typeof e.body === "object" && "message" in e.body)
    return String((e.body as { message: unknown }).message);
  return e.message ?? String(err);
}

/** The HTTP status of a client-node error. */
export function apiErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}
