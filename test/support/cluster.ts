import * as k8s from "@kubernetes/client-node";
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

/** The API server's own error message from a client-node ApiException. */
export function apiErrorMessage(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e.body === "string") {
    try {
      return (JSON.parse(e.body) as { message?: string }).message ?? e.body;
    } catch {
      return e.body;
    }
  }
  return e.message ?? String(err);
}

export function apiErrorCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}
