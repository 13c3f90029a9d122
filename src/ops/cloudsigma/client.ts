import { CloudSigmaApiError } from "./errors.js";
import type { ApiErrorItem, IpObject, Json, ListResponse, Server } from "./types.js";
import { sleep } from "../../common/wait.js";
import { wallNow } from "../../common/clock.js";

export interface Credentials {
  username: string;
  password: string;
}

export interface ClientOptions {
  /** Base URL ending in `/api/2.0/` (a missing trailing slash is added). */
  apiUrl: string;
  credentials: Credentials;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Extra attempts after a 5xx, a 429 or a network error (never after other 4xx). */
  retries?: number;
  /** First backoff; doubles per attempt (with jitter) up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** `limit` for list requests. */
  pageSize?: number;
  /** Told about each retry, e.g. to print a note on stderr. */
  onRetry?: (info: {
    method: string;
    path: string;
    attempt: number;
    delayMs: number;
    reason: string;
  }) => void;
  sleep?: (ms: number) => Promise<void>;
}

export const CLIENT_DEFAULTS = {
  timeoutMs: 30_000,
  retries: 4,
  backoffMs: 500,
  maxBackoffMs: 10_000,
  pageSize: 100,
} as const;

/** Longest server-requested wait (Retry-After) we honour before retrying anyway. */
const MAX_RETRY_AFTER_MS = 60_000;
/** Guards against a server whose meta.total_count never lets pagination end. */
const MAX_PAGES = 10_000;

/** The default endpoint for a location code such as `zrh` (docs: https://{loc}.cloudsigma.com/api/2.0/). */
export function apiUrlForLocation(location: string): string {
  return `https://${location.toLowerCase()}.cloudsigma.com/api/2.0/`;
}

/** A small CloudSigma API 2.0 client: Basic auth, timeouts, retries with backoff, pagination. */
export class CloudSigmaClient {
  readonly apiUrl: string;
  // A private field: util.inspect and JSON.stringify of the client never show it.
  readonly #authorization: string;
  private readonly opts: Required<Omit<ClientOptions, "apiUrl" | "credentials" | "onRetry">> &
    Pick<ClientOptions, "onRetry">;

  constructor(options: ClientOptions) {
    this.apiUrl = options.apiUrl.endsWith("/") ? options.apiUrl : `${options.apiUrl}/`;
    const { username, password } = options.credentials;
    this.#authorization = `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
    this.opts = {
      timeoutMs: options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs,
      retries: options.retries ?? CLIENT_DEFAULTS.retries,
      backoffMs: options.backoffMs ?? CLIENT_DEFAULTS.backoffMs,
      maxBackoffMs: options.maxBackoffMs ?? CLIENT_DEFAULTS.maxBackoffMs,
      pageSize: options.pageSize ?? CLIENT_DEFAULTS.pageSize,
      sleep: options.sleep ?? ((ms) => sleep(ms)),
      onRetry: options.onRetry,
    };
  }

  /** GET /servers/detail/ with every page: full definitions including nics and runtime. */
  listServers(): Promise<Server[]> {
    return this.listAll<Server>("servers/detail/");
  }

  getServer(uuid: string): Promise<Server> {
    return this.request<Server>("GET", `servers/${encodeURIComponent(uuid)}/`);
  }

  /** PUT /servers/{uuid}/: the body is the whole definition (a NIC left out is removed). */
  updateServer(uuid: string, body: Json): Promise<Server> {
    return this.request<Server>("PUT", `servers/${encodeURIComponent(uuid)}/`, body);
  }

  /** GET /ips/{ip}/, or undefined when the API does not know the IP (404). */
  async getIp(ip: string): Promise<IpObject | undefined> {
    try {
      return await this.request<IpObject>("GET", `ips/${encodeURIComponent(ip)}/`);
    } catch (err) {
      if (err instanceof CloudSigmaApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Follows `limit`/`offset` until `meta.total_count` objects were read. */
  async listAll<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = `limit=${this.opts.pageSize}&offset=${all.length}`;
      const res = await this.request<ListResponse<T>>("GET", path, undefined, query);
      if (!res || !Array.isArray(res.objects)) {
        throw new CloudSigmaApiError(`GET /${path}: response has no "objects" list`, "GET", `/${path}`);
      }
      all.push(...res.objects);
      const total = res.meta?.total_count;
      if (res.objects.length === 0) return all;
      if (typeof total === "number" ? all.length >= total : res.objects.length < this.opts.pageSize)
        return all;
    }
    throw new CloudSigmaApiError(`GET /${path}: pagination did not end`, "GET", `/${path}`);
  }

  async request<T>(method: string, path: string, body?: Json, query?: string): Promise<T> {
    const url = new URL(path + (query ? `?${query}` : ""), this.apiUrl);
    const shown = `/${path}`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: {
            Authorization: this.#authorization,
            Accept: "application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
      } catch (err) {
        const reason = networkReason(err, this.opts.timeoutMs);
        if (attempt < this.opts.retries) {
          await this.backoff(method, shown, attempt, reason);
          continue;
        }
        throw new CloudSigmaApiError(
          `${method} ${shown}: ${reason} (after ${attempt + 1} attempts; is ${this.apiUrl} reachable?)`,
          method,
          shown,
        );
      }
      const text = await res.text();
      if (res.ok) {
        if (text.trim() === "") return undefined as T;
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new CloudSigmaApiError(`${method} ${shown}: response is not JSON`, method, shown, res.status);
        }
      }
      const retryable = res.status >= 500 || res.status === 429;
      if (retryable && attempt < this.opts.retries) {
        await this.backoff(
          method,
          shown,
          attempt,
          `HTTP ${res.status}`,
          retryAfterMs(res.headers.get("retry-after")),
        );
        continue;
      }
      const detail = parseErrorBody(text);
      throw new CloudSigmaApiError(
        describeHttpError(method, shown, res.status, detail.message, retryable ? attempt + 1 : undefined),
        method,
        shown,
        res.status,
        detail.type,
      );
    }
  }

  private async backoff(
    method: string,
    path: string,
    attempt: number,
    reason: string,
    retryAfter?: number,
  ): Promise<void> {
    const exp = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** attempt);
    // Full jitter in the upper half, so parallel clients don't retry in lockstep.
    const delayMs = Math.max(retryAfter ?? 0, Math.round(exp / 2 + (Math.random() * exp) / 2));
    this.opts.onRetry?.({ method, path, attempt: attempt + 1, delayMs, reason });
    await this.opts.sleep(delayMs);
  }
}

function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return `timed out after ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `network error (${cause})` : `network error (${e?.message ?? String(err)})`;
}

/** Retry-After in seconds or as an HTTP date; capped so a bad header cannot stall us. */
export function retryAfterMs(header: string | null, now = wallNow()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** The API's `[{error_type, error_message, error_point}]` body, tolerating other shapes. */
export function parseErrorBody(text: string): { message?: string; type?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const plain = text.trim().replace(/\s+/g, " ");
    return plain && !plain.startsWith("<") ? { message: plain.slice(0, 300) } : {};
  }
  const items = (Array.isArray(parsed) ? parsed : [parsed]) as ApiErrorItem[];
  const messages = items
    .filter((i) => i && typeof i === "object" && typeof i.error_message === "string")
    .map((i) => (i.error_point ? `${i.error_message} (${i.error_point})` : (i.error_message as string)));
  const type = items.find((i) => i && typeof i.error_type === "string")?.error_type;
  return { message: messages.length ? messages.join("; ").slice(0, 500) : undefined, type };
}

function describeHttpError(
  method: string,
  path: string,
  status: number,
  apiMessage: string | undefined,
  attempts: number | undefined,
): string {
  const said = apiMessage ? `: ${apiMessage}` : "";
  switch (status) {
    case 401:
      return (
        `${method} ${path}: 401 Unauthorized — CloudSigma rejected the credentials. Check ` +
        `CLOUDSIGMA_USERNAME/CLOUDSIGMA_PASSWORD (or --credentials-file) and that --location/--api-url ` +
        `is the location the account lives in`
      );
    case 403:
      return `${method} ${path}: 403 Forbidden — the credentials are valid but the operation is not allowed${said}`;
    case 404:
      return `${method} ${path}: 404 Not Found — no such object in this account/location${said}`;
    case 429:
      return `${method} ${path}: 429 Too Many Requests (rate limited${attempts ? ` after ${attempts} attempts` : ""})${said}`;
    default:
      return `${method} ${path}: HTTP ${status}${attempts ? ` after ${attempts} attempts` : ""}${said}`;
  }
}
