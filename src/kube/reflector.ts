/**
 * List+watch cache of one resource, kept across API server outages (the last known objects stay
 * readable while it reconnects with backoff). Unlike client-node's informer it can be told to re-list
 * on demand (resync), which the controller does when it becomes leader, so that it restores from a
 * fresh, consistent read rather than from a watch that may lag behind the previous leader's writes.
 */
import type { Logger } from "pino";
import type { KubeApi, WatchEvent } from "./api.js";
import { ApiError, errorText } from "./errors.js";

export interface CachedObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

export type ChangeKind = "add" | "update" | "delete";

export interface ReflectorOptions<T extends CachedObject> {
  name: string;
  api: KubeApi;
  /** Collection path, e.g. /api/v1/services or /apis/metallb.io/v1beta1/namespaces/x/ipaddresspools. */
  path: string;
  slim: (raw: unknown) => T;
  /** Added to the list and watch requests (e.g. a labelSelector). */
  query?: Record<string, string>;
  onChange: (kind: ChangeKind, obj: T, old: T | undefined) => void;
  log: Logger;
  pageSize?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout; the watch is then resumed from the last resourceVersion. */
  watchTimeoutSeconds?: number;
}

export function objectKey(o: CachedObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

const DECIMAL = /^[0-9]{1,19}$/;

/**
 * Orders two resourceVersions when both are decimal integers (etcd3 revisions, which every
 * kube-apiserver uses), else undefined. Only used to keep the cache from going backwards after a
 * write-through; correctness never depends on it because every write is resourceVersion-checked.
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  if (a === undefined || b === undefined || !DECIMAL.test(a) || !DECIMAL.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** True when `next` should replace `cur` in the cache. */
function isNewer(next: CachedObject, cur: CachedObject): boolean {
  const c = compareResourceVersions(next.metadata.resourceVersion, cur.metadata.resourceVersion);
  return c === undefined ? next.metadata.resourceVersion !== cur.metadata.resourceVersion : c > 0;
}

interface ListResponse {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: unknown[];
}

interface Waiter {
  resolve: () => void;
}

export class Reflector<T extends CachedObject> {
  private cache = new Map<string, T>();
  private rv = "";
  /** Bumped on every (re)list so events still in flight from an older watch are dropped. */
  private gen = 0;
  private stopped = false;
  private forceRelist = false;
  private failures = 0;
  private watch: { abort(): void } | undefined;
  private wake: (() => void) | undefined;
  private waiters: Waiter[] = [];
  private loop: Promise<void> | undefined;
  private lastListStartedAt = Number.NEGATIVE_INFINITY;
  /** True while the watch is connected (or right after a successful list). */
  healthy = false;
  /** True once the first list succeeded. */
  synced = false;
  lastError: string | undefined;

  constructor(private readonly o: ReflectorOptions<T>) {}

  /** Starts the loop; resolves after the first successful list (retrying for as long as it takes). */
  start(): Promise<void> {
    const first = this.resync();
    this.loop ??= this.run();
    return first;
  }

  /**
   * Resolves once the cache comes from a list that began at or after `since` (performance.now()):
   * at once if the last completed list qualifies, else after the next one (listing again if needed).
   */
  freshSince(since: number): Promise<void> {
    if (this.synced && this.lastListStartedAt >= since) return Promise.resolve();
    return this.resync();
  }

  /** Re-lists from the API server; resolves after a list that began after this call has completed. */
  resync(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push({ resolve });
      this.forceRelist = true;
      this.watch?.abort();
      this.wake?.();
    });
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  values(): IterableIterator<T> {
    return this.cache.values();
  }

  get size(): number {
    return this.cache.size;
  }

  /**
   * Write-through: records the object an API write returned, when it is newer than the cached one, so
   * the next reconcile doesn't act on a version it already replaced. Emits no change event.
   */
  observe(raw: unknown): void {
    const obj = this.o.slim(raw);
    const key = objectKey(obj);
    const cur = this.cache.get(key);
    if (cur && isNewer(obj, cur)) this.cache.set(key, obj);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.rv === "" || this.forceRelist) await this.relist();
        await this.watchOnce();
        this.failures = 0;
      } catch (err) {
        if (this.stopped) break;
        this.healthy = false;
        this.lastError = errorText(err);
        if (err instanceof ApiError && err.code === 410) {
          this.rv = ""; // history compacted away: list again, no need to wait
          continue;
        }
        this.failures++;
        const delay = this.backoff(err);
        this.o.log.warn(
          { event: "watchError", resource: this.o.name, error: this.lastError, retryInMs: delay },
          "list/watch failed; keeping cached objects and retrying",
        );
        await this.sleep(delay);
      }
    }
  }

  /**
   * Exponential, or what the server asked for (Retry-After: a restarted API server answers 429/503
   * while its caches fill). Capped at 1 s while someone waits for a fresh list (a new leader): the
   * outage's long backoff must not hold up a takeover once the server answers again.
   */
  private backoff(err: unknown): number {
    const base = this.o.minBackoffMs ?? 250;
    const max = this.o.maxBackoffMs ?? 8000;
    const asked = err instanceof ApiError ? err.retryAfterSeconds : undefined;
    const delay = asked !== undefined ? asked * 1000 : base * 2 ** Math.min(this.failures - 1, 8);
    return Math.min(delay, this.waiters.length > 0 ? Math.min(1000, max) : max);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => (this.wake = undefined));
  }

  private async relist(): Promise<void> {
    this.gen++;
    this.forceRelist = false;
    const waiters = this.waiters.splice(0);
    const startedAt = performance.now();
    try {
      const items: T[] = [];
      let cont: string | undefined;
      let rv = "";
      do {
        const page = await this.o.api.get<ListResponse>(this.o.path, {
          ...this.o.query,
          limit: this.o.pageSize ?? 500,
          continue: cont,
        });
        for (const raw of page.items ?? []) items.push(this.o.slim(raw));
        rv = page.metadata?.resourceVersion ?? rv;
        cont = page.metadata?.continue || undefined;
      } while (cont);
      this.replace(items);
      this.rv = rv;
      this.lastListStartedAt = startedAt;
      this.healthy = true;
      this.synced = true;
      this.lastError = undefined;
    } catch (err) {
      this.waiters.unshift(...waiters);
      this.forceRelist = this.forceRelist || waiters.length > 0;
      throw err;
    }
    for (const w of waiters) w.resolve();
  }

  /** Swaps in a fresh list, emitting the differences (newer cached objects from write-through win). */
  private replace(items: T[]): void {
    const old = this.cache;
    const next = new Map<string, T>();
    const changes: [ChangeKind, T, T | undefined][] = [];
    for (const obj of items) {
      const key = objectKey(obj);
      const cur = old.get(key);
      if (!cur) {
        next.set(key, obj);
        changes.push(["add", obj, undefined]);
      } else if (cur.metadata.resourceVersion === obj.metadata.resourceVersion || !isNewer(obj, cur)) {
        next.set(key, cur);
      } else {
        next.set(key, obj);
        changes.push(["update", obj, cur]);
      }
    }
    for (const [key, cur] of old) if (!next.has(key)) changes.push(["delete", cur, cur]);
    this.cache = next;
    for (const [kind, obj, prev] of changes) this.emit(kind, obj, prev);
  }

  private emit(kind: ChangeKind, obj: T, old: T | undefined): void {
    try {
      this.o.onChange(kind, obj, old);
    } catch (err) {
      this.o.log.error(
        { event: "handlerFailed", resource: this.o.name, error: errorText(err) },
        "change handler threw",
      );
    }
  }

  private async watchOnce(): Promise<void> {
    const gen = this.gen;
    let failure: unknown;
    const handle = this.o.api.watch(
      this.o.path,
      {
        ...this.o.query,
        resourceVersion: this.rv,
        allowWatchBookmarks: true,
        timeoutSeconds: this.o.watchTimeoutSeconds ?? 300,
      },
      (ev) => {
        if (gen !== this.gen || failure !== undefined) return;
        failure = this.apply(ev);
        if (failure !== undefined) handle.abort();
      },
      () => {
        if (gen !== this.gen) return;
        this.healthy = true;
        this.failures = 0;
      },
    );
    this.watch = handle;
    try {
      if (this.forceRelist || this.stopped) handle.abort();
      await handle.done;
    } finally {
      this.watch = undefined;
    }
    if (failure !== undefined) throw failure;
  }

  /** Applies one watch event; returns an error that should end the watch, if any. */
  private apply(ev: WatchEvent): unknown {
    if (ev.type === "ERROR") {
      const status = ev.object as { code?: number; message?: string; reason?: string };
      return new ApiError(status.code ?? 500, status.message ?? "watch error", status.reason);
    }
    const rv = (ev.object as CachedObject | undefined)?.metadata?.resourceVersion;
    if (ev.type === "BOOKMARK") {
      if (rv) this.rv = rv;
      return undefined;
    }
    const obj = this.o.slim(ev.object);
    const key = objectKey(obj);
    const cur = this.cache.get(key);
    if (ev.type === "DELETED") {
      if (cur) {
        this.cache.delete(key);
        this.emit("delete", obj, cur);
      }
    } else if (!cur) {
      this.cache.set(key, obj);
      this.emit("add", obj, undefined);
    } else if (isNewer(obj, cur)) {
      this.cache.set(key, obj);
      this.emit("update", obj, cur);
    }
    if (rv) this.rv = rv;
    return undefined;
  }
}
