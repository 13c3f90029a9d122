// The API access the ops commands share: plain JSON over src/kube's KubeApi (string timestamps,
// typed errors), with "not found" as undefined so that pure code can tell a missing object or CRD
// from a failure. verify and failover-test use its `api` directly.

import { ApiError, isNotFound } from "../../kube/errors.js";
import { KubeApi, type PatchType } from "../../kube/api.js";
import { loadConnection } from "../../kube/connection.js";
import { METALLB_GROUP, METALLB_VERSION } from "../../api/types.js";
import { UsageError } from "../outcome.js";
import { EG_GROUP, EG_VERSION, GATEWAY_GROUP, GATEWAY_VERSION, type ObjectRef } from "./types.js";

const mlb = `/apis/${METALLB_GROUP}/${METALLB_VERSION}`;
const eg = `/apis/${EG_GROUP}/${EG_VERSION}`;
const gw = `/apis/${GATEWAY_GROUP}/${GATEWAY_VERSION}`;

/** API paths of everything the ops commands touch. */
export const paths = {
  namespace: (name: string) => `/api/v1/namespaces/${name}`,
  services: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/services` : "/api/v1/services"),
  service: (r: ObjectRef) => `/api/v1/namespaces/${r.namespace}/services/${r.name}`,
  nodes: () => "/api/v1/nodes",
  events: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/events` : "/api/v1/events"),
  secrets: (ns: string) => `/api/v1/namespaces/${ns}/secrets`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  lease: (r: ObjectRef) => `/apis/coordination.k8s.io/v1/namespaces/${r.namespace}/leases/${r.name}`,
  deployments: (ns?: string) =>
    ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : "/apis/apps/v1/deployments",
  daemonsets: (ns?: string) =>
    ns ? `/apis/apps/v1/namespaces/${ns}/daemonsets` : "/apis/apps/v1/daemonsets",
  pools: (ns: string) => `${mlb}/namespaces/${ns}/ipaddresspools`,
  l2advertisements: (ns: string) => `${mlb}/namespaces/${ns}/l2advertisements`,
  l2statuses: (ns: string) => `${mlb}/namespaces/${ns}/servicel2statuses`,
  envoyProxies: () => `${eg}/envoyproxies`,
  envoyProxy: (r: ObjectRef) => `${eg}/namespaces/${r.namespace}/envoyproxies/${r.name}`,
  gatewayClasses: () => `${gw}/gatewayclasses`,
  gatewayClass: (name: string) => `${gw}/gatewayclasses/${name}`,
  gateways: () => `${gw}/gateways`,
  gateway: (r: ObjectRef) => `${gw}/namespaces/${r.namespace}/gateways/${r.name}`,
};

export class OpsClient {
  private constructor(
    readonly api: KubeApi,
    /** The API server URL, for messages. */
    readonly server: string,
  ) {}

  /** Loads the kubeconfig (file, $KUBECONFIG, ~/.kube/config, in-cluster) and checks the server answers. */
  static async connect(kubeconfig?: string): Promise<OpsClient> {
    let conn;
    try {
      conn = await loadConnection(kubeconfig);
    } catch (err) {
      const what = kubeconfig ? `kubeconfig ${kubeconfig}` : "the kubeconfig";
      throw new UsageError(`cannot load ${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const server = conn.server;
    const api = new KubeApi(conn, { timeoutMs: 15_000 });
    const client = new OpsClient(api, server);
    try {
      await api.get("/version");
    } catch (err) {
      api.close();
      throw new UsageError(`cannot reach the Kubernetes API server at ${server}: ${describeError(err)}`);
    }
    return client;
  }

  /** The object, or undefined when it (or its CRD) does not exist. */
  async get<T>(path: string): Promise<T | undefined> {
    try {
      return await withRetry(() => this.api.get<T>(path));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The items, or undefined when the resource type is not served (CRD not installed). */
  async list<T>(path: string, query?: Record<string, string>): Promise<T[] | undefined> {
    try {
      return (await withRetry(() => this.api.get<{ items?: T[] }>(path, query))).items ?? [];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  patch<T>(path: string, body: unknown, opts: { type?: PatchType; dryRun?: boolean } = {}): Promise<T> {
    return this.api.request<T>("PATCH", path, {
      body,
      patch: opts.type ?? "merge",
      query: { fieldManager: "floatip", ...(opts.dryRun ? { dryRun: "All" } : {}) },
    });
  }

  /** Deletes with a uid precondition (never a newer object of the same name); false if already gone. */
  async delete(path: string, uid?: string): Promise<boolean> {
    try {
      await this.api.request("DELETE", path, {
        body: { kind: "DeleteOptions", apiVersion: "v1", ...(uid ? { preconditions: { uid } } : {}) },
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  close(): void {
    this.api.close();
  }
}

/**
 * Reads are retried a few times on 429/503: a freshly started API server answers "storage is
 * (re)initializing" for a while, and priority-and-fairness may ask clients to come back.
 */
async function withRetry<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const retriable = err instanceof ApiError && (err.code === 429 || err.code === 503);
      if (!retriable || attempt >= 5) throw err;
      const wait = err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : 200 * 2 ** attempt;
      await new Promise((r) => setTimeout(r, Math.min(wait, 3000)));
    }
  }
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.code ? `${err.message} (HTTP ${err.code})` : err.message;
  return err instanceof Error ? err.message : String(err);
}
