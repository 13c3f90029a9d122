/**
 * The one Kubernetes client of floatip: a small JSON client over keep-alive connection pools, used
 * by the controller, the speaker and every command. client-node 1.x builds a new https.Agent for
 * every request, i.e. a fresh TLS handshake per call, which dominated at 10,000 Services, and
 * importing it costs ~75-110 MB of RSS; so floatip talks to the API server itself. Objects stay
 * plain JSON (no class instances, timestamps stay strings).
 */
import * as http from "node:http";
import * as https from "node:https";
import type { Connection } from "./connection.js";
import { ApiError, statusError } from "./errors.js";

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
  /** The body as text, not JSON (pod logs). */
  text?: boolean;
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

/** One answered (or failed) request, for a client's metrics. */
export interface RequestRecord {
  method: string;
  path: string;
  /** The HTTP status; 0 when no answer came (connection error, timeout). */
  status: number;
}

export class KubeApi {
  private readonly base: URL;
  private observer: ((r: RequestRecord) => void) | undefined;
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

  /** Called once per request (not per watch) when it ends; one observer (the speaker's metrics). */
  observe(observer: (r: RequestRecord) => void): void {
    this.observer = observer;
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
    const accept = options.text ? "*/*" : "application/json";
    const headers: Record<string, string> = { ...(await this.authHeaders()), Accept: accept };
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(JSON.stringify(options.body));
      headers["Content-Type"] = options.patch ? PATCH_CONTENT_TYPE[options.patch] : "application/json";
      headers["Content-Length"] = String(payload.length);
    }
    const u = this.url(path, options.query);
    const mod = u.protocol === "http:" ? http : https;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const done = (status: number) => this.observer?.({ method, path, status });
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
            done(status);
            if (status >= 200 && status < 300) {
              if (options.text) return resolve(text as T);
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
      req.on("error", (e) => {
        done(0);
        reject(new ApiError(0, `${method} ${u.pathname}: ${e.message}`));
      });
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
        // A server that accepts the connection but never answers (one still starting, or a
        // half-open socket) must not hold the watch for the whole idle timeout.
        const noAnswer = setTimeout(
          () => req?.destroy(new Error(`no answer within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        );
        req.on("response", () => clearTimeout(noAnswer));
        req.on("close", () => clearTimeout(noAnswer));
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
