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

export { apiErrorCode, apiErrorMessage } from "../../src/kube/client.js";
