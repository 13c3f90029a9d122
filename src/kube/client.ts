// The runbook commands' view of the API: plain JSON over KubeApi (string timestamps, typed errors),
// with "not found" as undefined so that pure code can tell a missing object or CRD from a failure.
// verify and failover-test use its `api` directly.

import { sleep } from "../common/wait.js";
import { KubeApi, type PatchType } from "./api.js";
import { loadConnection } from "./connection.js";
import { ApiError, errorText, isNotFound } from "./errors.js";

/** The kubeconfig can't be loaded or the API server doesn't answer: a usage problem, not a finding. */
export class ConnectError extends Error {
  override name = "ConnectError";
}

export class KubeClient {
  private constructor(
    readonly api: KubeApi,
    /** The API server URL, for messages. */
    readonly server: string,
  ) {}

  /** Loads the kubeconfig (file, $KUBECONFIG, ~/.kube/config, in-cluster) and checks the server answers. */
  static async connect(kubeconfig?: string): Promise<KubeClient> {
    let conn;
    try {
      conn = await loadConnection(kubeconfig);
    } catch (err) {
      const what = kubeconfig ? `kubeconfig ${kubeconfig}` : "the kubeconfig";
      throw new ConnectError(`cannot load ${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const server = conn.server;
    const api = new KubeApi(conn, { timeoutMs: 15_000 });
    const client = new KubeClient(api, server);
    try {
      await api.get("/version");
    } catch (err) {
      api.close();
      throw new ConnectError(`cannot reach the Kubernetes API server at ${server}: ${errorText(err)}`);
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
      await sleep(Math.min(wait, 3000));
    }
  }
}
