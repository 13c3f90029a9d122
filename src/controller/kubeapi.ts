/**
 * A small JSON client for the handful of API calls the controller makes, over keep-alive connection
 * pools. client-node 1.x builds a new https.Agent for every request, i.e. a fresh TLS handshake per
 * call, which dominated at 10,000 Services; so the controller talks to the API server itself. Objects
 * stay plain JSON (no class instances, timestamps stay strings).
 */
import type * as k8s from "@kubernetes/client-node";
import * as http from "node:http";
import * as https from "node:https";
import { connectionFromKubeConfig, type Connection } from "./connection.js";

/** A non-2xx answer from the API server (code 0 = no answer: network error or timeout). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason?: string,
    /** Seconds from a Retry-After header (429/503), when given. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorCode(err: unknown): number | undefined {
  return err instanceof ApiError ? err.code : undefined;
}

export const isConflict = (err: unknown): boolean => errorCode(err) === 409;
export const isNotFound = (err: unknown): boolean => errorCode(err) === 404;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ApiError && err.code === 409 && err.reason === "AlreadyExists";

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.code ? `${err.code}: ${err.message}` : err.message;
  return err instanceof Error ? err.message : String(err);
}

export type PatchType = "merge" | "json" | "strategic";
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  patch?: PatchType;
  timeoutMs?: number;
  /** Use the separate connection pool reserved for leader election, so it never queues behind writes. */
  priority?: boolean;
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: unknown;
}

export interface WatchHandle {
  /** Resolves when the server ends the stream, rejects on a transport error or non-200 answer. */
  done: Promise<void>;
  abort(): void;
}

export interface KubeApiOptions {
  /** Per-request timeout for ordinary calls. */
  timeoutMs?: number;
  /** Connections kept to the API server for ordinary calls (watches use their own). */
  maxSockets?: number;
  /** A watch that delivers nothing (not even a bookmark) for this long is presumed dead. */
  watchIdleMs?: number;
}

export class KubeApi {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly watchAgent: http.Agent;
  private readonly priorityAgent: http.Agent;
  private readonly timeoutMs: number;
  private readonly watchIdleMs: number;

  constructor(
    private readonly conn: Connection,
    options: KubeApiOptions = {},
  ) {
    this.base = new URL(conn.server);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.watchIdleMs = options.watchIdleMs ?? 6 * 60_000;
    const common = { ...conn.tls, keepAlive: true, keepAliveMsecs: 30_000 };
    const Agent = this.base.protocol === "http:" ? http.Agent : https.Agent;
    this.agent = new Agent({ ...common, maxSockets: options.maxSockets ?? 16 });
    this.watchAgent = new Agent(common);
    this.priorityAgent = new Agent({ ...common, maxSockets: 2 });
  }

  /** Convenience for callers holding a client-node KubeConfig (tests, benchmark). */
  static async fromKubeConfig(kc: k8s.KubeConfig, options: KubeApiOptions = {}): Promise<KubeApi> {
    return new KubeApi(await connectionFromKubeConfig(kc), options);
  }

  /** Same as fromKubeConfig (kept: other modules call it by this name). */
  static create(kc: k8s.KubeConfig, options: KubeApiOptions = {}): Promise<KubeApi> {
    return KubeApi.fromKubeConfig(kc, options);
  }

  private authHeaders(): Promise<Record<string, string>> {
    return this.conn.headers();
  }

  private url(path: string, query?: RequestOptions["query"]): URL {
    const u = new URL(this.base.pathname.replace(/\/$/, "") + path, this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { ...(await this.authHeaders()), Accept: "application/json" };
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(JSON.stringify(options.body));
      headers["Content-Type"] = options.patch ? PATCH_CONTENT_TYPE[options.patch] : "application/json";
      headers["Content-Length"] = String(payload.length);
    }
    const u = this.url(path, options.query);
    const mod = u.protocol === "http:" ? http : https;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(
        u,
        { method, headers, agent: options.priority ? this.priorityAgent : this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => reject(new ApiError(0, e.message)));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              try {
                resolve((text ? JSON.parse(text) : {}) as T);
              } catch {
                reject(new ApiError(status, `unparseable response: ${text.slice(0, 200)}`));
              }
              return;
            }
            reject(statusError(status, text, res.headers["retry-after"]));
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.on("error", (e) => reject(new ApiError(0, `${method} ${u.pathname}: ${e.message}`)));
      req.end(payload);
    });
  }

  get<T>(path: string, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  /**
   * Streams watch events. The server closes the stream after timeoutSeconds; a silent connection (a
   * partition that leaves no RST) is aborted after watchIdleMs so the caller reconnects.
   */
  watch(
    path: string,
    query: RequestOptions["query"],
    onEvent: (ev: WatchEvent) => void,
    onOpen?: () => void,
  ): WatchHandle {
    let req: http.ClientRequest | undefined;
    let aborted = false;
    const done = (async () => {
      const headers = { ...(await this.authHeaders()), Accept: "application/json" };
      const u = this.url(path, { ...query, watch: "true" });
      const mod = u.protocol === "http:" ? http : https;
      await new Promise<void>((resolve, reject) => {
        if (aborted) return resolve();
        req = mod.request(u, { method: "GET", headers, agent: this.watchAgent }, (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              reject(statusError(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"), undefined)),
            );
            return;
          }
          onOpen?.();
          let buffered = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, nl);
              buffered = buffered.slice(nl + 1);
              if (line.trim() === "" || aborted) continue;
              let ev: WatchEvent;
              try {
                ev = JSON.parse(line) as WatchEvent;
              } catch {
                continue; // a torn line can only come from a broken stream, which ends it anyway
              }
              onEvent(ev);
            }
          });
          res.on("end", () => resolve());
          res.on("error", (e) => (aborted ? resolve() : reject(new ApiError(0, e.message))));
          res.on("close", () => resolve());
        });
        req.setTimeout(this.watchIdleMs, () => req?.destroy(new Error("watch idle timeout")));
        req.on("error", (e) =>
          aborted ? resolve() : reject(new ApiError(0, `watch ${path}: ${e.message}`)),
        );
        req.end();
      });
    })();
    return {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
    this.priorityAgent.destroy();
  }
}

function statusError(code: number, text: string, retryAfter: string | string[] | undefined): ApiError {
  let message = text.slice(0, 500);
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    message = s.message ?? message;
    reason = s.reason;
  } catch {
    // not a Status object; keep the raw text
  }
  const ra = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  return new ApiError(code, message || `HTTP ${code}`, reason, Number.isFinite(ra) ? ra : undefined);
}
