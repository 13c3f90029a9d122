/**
 * Where and how to reach the API server. The common kubeconfig shapes (client certificates, static or
 * file tokens, in-cluster service account) are read here directly; anything else (exec plugins,
 * auth providers, merged multi-file $KUBECONFIG, proxies) is delegated to client-node, loaded only
 * then. Why: importing client-node costs ~75 MB of RSS (its generated API code and source text), more
 * than everything else the controller holds for 10,000 Services.
 */
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type * as https from "node:https";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";

export interface Connection {
  /** https://host:port (or http:// for insecure test servers). */
  server: string;
  tls: https.AgentOptions;
  /** Authorization (and impersonation) headers; may re-read a rotating token. */
  headers: () => Promise<Record<string, string>>;
  /** For logs: where the settings came from. */
  source: string;
}

/** How often a token file is re-read (projected service-account tokens rotate; client-go: 1 min). */
export const TOKEN_REFRESH_MS = 60_000;

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

interface Named {
  name: string;
}

interface KubeconfigFile {
  "current-context"?: string;
  contexts?: (Named & { context?: { cluster?: string; user?: string } })[];
  clusters?: (Named & {
    cluster?: {
      server?: string;
      "certificate-authority"?: string;
      "certificate-authority-data"?: string;
      "insecure-skip-tls-verify"?: boolean;
      "tls-server-name"?: string;
      "proxy-url"?: string;
    };
  })[];
  users?: (Named & {
    user?: {
      "client-certificate"?: string;
      "client-certificate-data"?: string;
      "client-key"?: string;
      "client-key-data"?: string;
      token?: string;
      tokenFile?: string;
      username?: string;
      password?: string;
      exec?: unknown;
      "auth-provider"?: unknown;
      as?: string;
    };
  })[];
}

/** Thrown internally when a kubeconfig needs client-node. */
class NeedsClientNode extends Error {}

function tokenHeaders(readToken: () => string): () => Promise<Record<string, string>> {
  let token = readToken();
  let at = performance.now();
  return async () => {
    if (performance.now() - at > TOKEN_REFRESH_MS) {
      try {
        token = readToken();
        at = performance.now();
      } catch {
        // keep the last token; the API server will say if it expired
      }
    }
    return { Authorization: `Bearer ${token}` };
  };
}

/** Parses one kubeconfig file's current context into a Connection, or throws NeedsClientNode. */
export function connectionFromKubeconfigText(text: string, path: string): Connection {
  const cfg = (parse(text) ?? {}) as KubeconfigFile;
  const ctxName = cfg["current-context"];
  const ctx = cfg.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${path}: current-context ${JSON.stringify(ctxName ?? "")} not found`);
  const cluster = cfg.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server)
    throw new Error(`${path}: cluster ${JSON.stringify(ctx.cluster ?? "")} has no server`);
  const user = cfg.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user["auth-provider"] || cluster["proxy-url"]) throw new NeedsClientNode();
  const file = (p: string): Buffer => readFileSync(isAbsolute(p) ? p : join(dirname(path), p));
  const data = (d: string | undefined, p: string | undefined): Buffer | undefined =>
    d ? Buffer.from(d, "base64") : p ? file(p) : undefined;

  const tls: https.AgentOptions = {};
  const ca = data(cluster["certificate-authority-data"], cluster["certificate-authority"]);
  if (ca) tls.ca = ca;
  if (cluster["insecure-skip-tls-verify"]) tls.rejectUnauthorized = false;
  if (cluster["tls-server-name"]) tls.servername = cluster["tls-server-name"];
  const cert = data(user["client-certificate-data"], user["client-certificate"]);
  const key = data(user["client-key-data"], user["client-key"]);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;

  let headers: () => Promise<Record<string, string>> = async () => ({});
  if (user.token) {
    const h = { Authorization: `Bearer ${user.token}` };
    headers = async () => h;
  } else if (user.tokenFile) {
    const tokenFile = user.tokenFile;
    headers = tokenHeaders(() => file(tokenFile).toString("utf8").trim());
  } else if (user.username !== undefined) {
    const h = {
      Authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`,
    };
    headers = async () => h;
  }
  if (user.as) {
    const base = headers;
    headers = async () => ({ ...(await base()), "Impersonate-User": user.as! });
  }
  return { server: cluster.server, tls, headers, source: path };
}

function inCluster(): Connection | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(SA_DIR, "token"))) return undefined;
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(join(SA_DIR, "ca.crt")) },
    headers: tokenHeaders(() => readFileSync(join(SA_DIR, "token"), "utf8").trim()),
    source: "in-cluster service account",
  };
}

/**
 * ~/.kube/config, or undefined where there is no home: HOME unset and a user without a passwd entry
 * (a container running as an arbitrary UID), where os.homedir() throws "uv_os_homedir ENOENT".
 */
export function homeKubeconfig(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let home = env.HOME;
  if (!home) {
    try {
      home = homedir();
    } catch {
      return undefined;
    }
  }
  return join(home, ".kube", "config");
}

/**
 * Resolution order as kubectl's: an explicit file, $KUBECONFIG, ~/.kube/config, then the in-cluster
 * service account.
 */
export async function loadConnection(explicitPath?: string): Promise<Connection> {
  const env = process.env.KUBECONFIG;
  const candidates = explicitPath
    ? [explicitPath]
    : env
      ? env.split(":").filter((p) => p !== "")
      : [homeKubeconfig()].filter((p): p is string => p !== undefined && existsSync(p));
  if (candidates.length === 1) {
    const path = candidates[0]!;
    try {
      return connectionFromKubeconfigText(await readFile(path, "utf8"), path);
    } catch (err) {
      if (!(err instanceof NeedsClientNode)) throw err;
    }
  }
  if (candidates.length === 0) {
    const conn = inCluster();
    if (conn) return conn;
    // client-node would fall back to http://localhost:8080 and fail with a message about TLS.
    throw new Error(
      `no kubeconfig: ${homeKubeconfig() ?? "~/.kube/config"} does not exist, KUBECONFIG is unset and this is not a pod; pass --kubeconfig <file>`,
    );
  }
  // Exec plugins, auth providers, proxies or several merged files: client-node knows them all.
  const { connectionViaClientNode } = await import("./fallback.js");
  return connectionViaClientNode(explicitPath);
}
