/**
 * The only place floatip loads @kubernetes/client-node: kubeconfigs our own loader can't
 * authenticate (exec plugins, auth providers, proxies, several merged files). It is imported
 * dynamically, and only then, so a process with an ordinary kubeconfig never pays its ~110 MB.
 * What it yields is the same Connection the rest of the layer uses.
 */
import type * as k8s from "@kubernetes/client-node";
import type * as https from "node:https";
import { TOKEN_REFRESH_MS, type Connection } from "./connection.js";

/** Loads the kubeconfig with client-node (file, or its default resolution) into a Connection. */
export async function connectionViaClientNode(explicitPath?: string): Promise<Connection> {
  const k = await import("@kubernetes/client-node");
  const kc = new k.KubeConfig();
  if (explicitPath) kc.loadFromFile(explicitPath);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      "no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run inside a cluster with a service account",
    );
  }
  return connectionFromKubeConfig(kc, explicitPath ?? process.env.KUBECONFIG ?? "default kubeconfig");
}

/** A Connection from an already loaded client-node KubeConfig (tests, and the fallback above). */
export async function connectionFromKubeConfig(
  kc: k8s.KubeConfig,
  source = "kubeconfig",
): Promise<Connection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("no current cluster in the kubeconfig");
  const read = async (): Promise<https.RequestOptions & { headers?: Record<string, string> }> => {
    const opts: https.RequestOptions & { headers?: Record<string, string> } = {};
    await kc.applyToHTTPSOptions(opts); // also builds an agent we ignore: cheap, it never connects
    return opts;
  };
  const first = await read();
  const tls: https.AgentOptions = {};
  for (const k of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"] as const) {
    if (first[k] !== undefined) (tls as Record<string, unknown>)[k] = first[k];
  }
  let headers = { ...(first.headers ?? {}) };
  let at = performance.now();
  return {
    server: cluster.server,
    tls,
    source,
    headers: async () => {
      if (performance.now() - at > TOKEN_REFRESH_MS) {
        headers = { ...((await read()).headers ?? {}) };
        at = performance.now();
      }
      return headers;
    },
  };
}
