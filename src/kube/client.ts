import * as k8s from "@kubernetes/client-node";

/** Loads a kubeconfig: an explicit file, $KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      "no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run inside a cluster with a service account",
    );
  }
  return kc;
}

/** The API server's message from a client-node error, falling back to the error text. */
export function apiErrorMessage(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
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

export function apiErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}
