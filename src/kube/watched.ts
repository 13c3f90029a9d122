import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface WatchedOptions<T extends k8s.KubernetesObject> {
  name: string;
  path: string;
  list: () => Promise<k8s.KubernetesListObject<T>>;
  labelSelector?: string;
  onChange: (kind: "add" | "update" | "delete", obj: T) => void;
  log: Logger;
  /** Delay before re-listing after a watch error (apiserver outage). */
  retryMs?: number;
}

/**
 * A list+watch cache that survives API server outages: on error it keeps the objects it has (so
 * callers keep serving what they serve) and restarts the watch with backoff.
 */
export class Watched<T extends k8s.KubernetesObject> {
  private readonly informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  healthy = false;
  lastError: string | undefined;

  constructor(
    kc: k8s.KubeConfig,
    private readonly options: WatchedOptions<T>,
  ) {
    this.informer = k8s.makeInformer(kc, options.path, options.list, options.labelSelector);
    for (const verb of ["add", "update", "delete"] as const) {
      this.informer.on(verb, (obj) => options.onChange(verb, obj));
    }
    this.informer.on("connect", () => {
      this.healthy = true;
      this.failures = 0;
    });
    this.informer.on("error", (err: unknown) => this.onError(err));
  }

  private onError(err: unknown): void {
    this.healthy = false;
    this.lastError = err instanceof Error ? err.message : String(err);
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(this.options.retryMs ?? 500 * 2 ** Math.min(this.failures - 1, 4), 8000);
    this.options.log.warn(
      { event: "watchError", watch: this.options.name, error: this.lastError, retryInMs: delay },
      "watch failed; keeping cached objects and retrying",
    );
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.informer.start().catch((e: unknown) => this.onError(e));
    }, delay);
  }

  async start(): Promise<void> {
    try {
      await this.informer.start();
      this.healthy = true;
    } catch (err) {
      this.onError(err);
      throw err;
    }
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.informer.stop();
  }
}
